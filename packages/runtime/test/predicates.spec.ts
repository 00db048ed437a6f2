import { expect } from 'chai';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { FakeClock } from '../src/testing.js';
import { Controller, type Reconciler } from '../src/controller.js';
import { metadataProjection, projectionChanged, resourceVersionChanged, stableJson } from '../src/predicates.js';
import { FakeSource, recordingLogger } from './fakes.js';

type Thing = KubernetesObject & { spec?: { size?: number }; status?: { ready?: number } };

function thing(rv: string, fields: { generation?: number; labels?: Record<string, string>; size?: number; ready?: number; finalizers?: string[]; owner?: string } = {}): Thing {
  return {
    apiVersion: 'example.com/v1',
    kind: 'Thing',
    metadata: {
      namespace: 'ns',
      name: 'a',
      resourceVersion: rv,
      generation: fields.generation ?? 1,
      ...(fields.labels ? { labels: fields.labels } : {}),
      ...(fields.finalizers ? { finalizers: fields.finalizers } : {}),
      ...(fields.owner ? { ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'Owner', name: fields.owner, uid: fields.owner, controller: true }] } : {}),
    },
    spec: { size: fields.size ?? 1 },
    status: { ready: fields.ready ?? 0 },
  };
}

describe('runtime/predicates', () => {
  it('stableJson ignores key order but not values or array order', () => {
    expect(stableJson({ a: 1, b: { c: 2, d: 3 } })).to.equal(stableJson({ b: { d: 3, c: 2 }, a: 1 }));
    expect(stableJson({ a: [1, 2] })).to.not.equal(stableJson({ a: [2, 1] }));
    expect(stableJson({ a: undefined })).to.equal(stableJson({}));
  });

  it('resourceVersionChanged drops resyncs only', () => {
    const p = resourceVersionChanged<Thing>();
    expect(p.update!(thing('2'), thing('1'))).to.equal(true);
    expect(p.update!(thing('2'), thing('2'))).to.equal(false);
  });

  it('projectionChanged with metadataProjection passes metadata and generation changes, not status churn', () => {
    const p = projectionChanged<Thing>(metadataProjection);
    const table: Array<[string, Thing, Thing, boolean]> = [
      ['status only', thing('2', { ready: 3 }), thing('1'), false],
      ['resync', thing('1'), thing('1'), false],
      ['generation', thing('2', { generation: 2, size: 3 }), thing('1'), true],
      ['labels', thing('2', { labels: { a: 'b' } }), thing('1'), true],
      ['finalizers', thing('2', { finalizers: ['x'] }), thing('1'), true],
      ['owner', thing('2', { owner: 'o' }), thing('1'), true],
    ];
    for (const [what, now, before, want] of table) expect(p.update!(now, before), what).to.equal(want);
    expect('create' in p, 'creates always pass').to.equal(false);
  });
});

describe('runtime/controller predicates and adds', () => {
  function setup(predicatesFor: boolean) {
    const registry = new Registry();
    const source = new FakeSource<Thing>();
    const owned = new FakeSource<Thing>();
    const reconciler: Reconciler = { reconcile: () => Promise.resolve() };
    const controller = new Controller({ name: 'thing', reconciler, logger: recordingLogger().logger, clock: new FakeClock(), registry })
      .for(source, predicatesFor ? { predicates: [projectionChanged<Thing>(metadataProjection)] } : {})
      .owns(owned, 'Owner', 'example.com/v1');
    // Keys the watches handed to the queue, every event counted (the queue's
    // own adds count only what it queued: no worker runs here, so a key stays waiting).
    const adds = async (): Promise<number> => {
      const text = await registry.metrics();
      return text
        .split('\n')
        .filter((l) => l.startsWith('controller_watch_enqueues_total{controller="thing"'))
        .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    };
    return { controller, source, owned, adds };
  }

  it('enqueues only the events every predicate lets through', async () => {
    const { source, adds } = setup(true);
    source.upsert(thing('1'));
    expect(await adds()).to.equal(1); // create
    source.upsert(thing('2', { ready: 3 }));
    expect(await adds()).to.equal(1); // status only: dropped
    source.upsert(thing('3', { ready: 3, generation: 2, size: 2 }));
    expect(await adds()).to.equal(2);
    source.delete(thing('3'));
    expect(await adds()).to.equal(3);
  });

  it('adds an update once when old and new map to the same key, twice when the owner changed', async () => {
    const { owned, adds } = setup(false);
    owned.upsert(thing('1', { owner: 'o1' }));
    owned.upsert(thing('2', { owner: 'o1', ready: 1 }));
    expect(await adds()).to.equal(2);
    owned.upsert(thing('3', { owner: 'o2' }));
    expect(await adds()).to.equal(4); // o2 and the old owner o1
  });

  it('counts the keys each watch hands to the queue by source and event type', async () => {
    const registry = new Registry();
    const source = new FakeSource<Thing>();
    const owned = new FakeSource<Thing>();
    const reconciler: Reconciler = { reconcile: () => Promise.resolve() };
    new Controller({ name: 'thing', reconciler, logger: recordingLogger().logger, clock: new FakeClock(), registry })
      .for(source, { name: 'Thing' })
      .owns(owned, 'Owner', 'example.com/v1', { name: 'Owned' });
    source.upsert(thing('1'));
    owned.upsert(thing('1', { owner: 'o1' }));
    owned.upsert(thing('2', { owner: 'o1', ready: 1 }));
    owned.delete(thing('2', { owner: 'o1' }));
    const text = await registry.metrics();
    expect(text).to.contain('controller_watch_enqueues_total{controller="thing",source="Thing",event="add"} 1');
    expect(text).to.contain('controller_watch_enqueues_total{controller="thing",source="Owned",event="add"} 1');
    expect(text).to.contain('controller_watch_enqueues_total{controller="thing",source="Owned",event="update"} 1');
    expect(text).to.contain('controller_watch_enqueues_total{controller="thing",source="Owned",event="delete"} 1');
    // The queue counts what it queued: "thing" and "o1", each once while they wait.
    expect(text).to.match(/workqueue_adds_total\{controller="thing",name="thing"\} 2/);
  });
});

describe('runtime/controller coalescing', () => {
  /** A controller coalescing for 1 s, capped at 3 s, and its workqueue_adds_total. */
  function coalescingController(): { clock: FakeClock; source: FakeSource<Thing>; adds: () => Promise<number> } {
    const registry = new Registry();
    const clock = new FakeClock();
    const source = new FakeSource<Thing>();
    const reconciler: Reconciler = { reconcile: () => Promise.resolve() };
    new Controller({ name: 'thing', reconciler, logger: recordingLogger().logger, clock, registry }).for(source, { coalesceMs: 1000, coalesceMaxMs: 3000 });
    const adds = async (): Promise<number> => {
      const line = (await registry.metrics()).split('\n').find((l) => l.startsWith('workqueue_adds_total{controller="thing"'));
      return Number(line?.split(' ').at(-1) ?? '0');
    };
    return { clock, source, adds };
  }

  it('turns a burst of events for one key into one add once the events pause, capped from the first', async () => {
    const { clock, source, adds } = coalescingController();
    source.upsert(thing('1'));
    clock.advance(400);
    source.upsert(thing('2', { ready: 1 }));
    clock.advance(900); // 1300 ms after the first event, 900 after the last: still waiting
    source.upsert(thing('3', { ready: 2 }));
    expect(await adds()).to.equal(0);
    clock.advance(999);
    expect(await adds()).to.equal(0);
    clock.advance(1); // a quiet second after the last event
    expect(await adds()).to.equal(1);
    clock.advance(5000);
    expect(await adds()).to.equal(1);
  });

  it('cannot be postponed past coalesceMaxMs by a steady stream', async () => {
    const { clock, source, adds } = coalescingController();
    for (let i = 1; i <= 5; i++) {
      source.upsert(thing(String(i), { ready: i }));
      clock.advance(500); // never a quiet second
      if (i < 6) expect(await adds(), `after ${i * 500} ms`).to.equal(i * 500 >= 3000 ? 1 : 0);
    }
    source.upsert(thing('6', { ready: 6 }));
    clock.advance(500); // 3000 ms after the first event: the cap
    expect(await adds()).to.equal(1);
  });

  it('enqueues an urgent event at once, past a pending coalesced one', async () => {
    const registry = new Registry();
    const clock = new FakeClock();
    const source = new FakeSource<Thing>();
    const reconciler: Reconciler = { reconcile: () => Promise.resolve() };
    // Urgent: readiness went down.
    const urgent = (obj: Thing, old: Thing | undefined) => old !== undefined && (obj.status?.ready ?? 0) < (old.status?.ready ?? 0);
    new Controller({ name: 'thing', reconciler, logger: recordingLogger().logger, clock, registry }).for(source, { coalesceMs: 1000, urgent });
    const adds = async (): Promise<number> => {
      const line = (await registry.metrics()).split('\n').find((l) => l.startsWith('workqueue_adds_total{controller="thing"'));
      return Number(line?.split(' ').at(-1) ?? '0');
    };
    source.upsert(thing('1', { ready: 2 }));
    source.upsert(thing('2', { ready: 3 }));
    expect(await adds(), 'gains wait').to.equal(0);
    source.upsert(thing('3', { ready: 1 }));
    expect(await adds(), 'a loss does not').to.equal(1);
  });
});
