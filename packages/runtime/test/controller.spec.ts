import { expect } from 'chai';
import type { KubernetesObject } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { FakeClock } from '../src/testing.js';
import {
  CONTROLLER_METRIC_NAMES,
  Controller,
  controllerOwnerRequest,
  parseRequestKey,
  requestKey,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
} from '../src/controller.js';
import { TerminalError } from '../src/errors.js';
import { ItemExponentialFailureRateLimiter } from '../src/ratelimiter.js';
import { FakeSource, deferred, recordingLogger, settle, type Deferred } from './fakes.js';

const OWNER_API_VERSION = 'cache.example.com/v1alpha1';

function obj(namespace: string, name: string, extra: Partial<KubernetesObject['metadata']> = {}, kind = 'Memcached'): KubernetesObject {
  return { apiVersion: OWNER_API_VERSION, kind, metadata: { namespace, name, ...extra } };
}

function ownedBy(ownerName: string, options: { controller?: boolean; kind?: string; apiVersion?: string } = {}): KubernetesObject['metadata'] {
  return {
    ownerReferences: [
      {
        apiVersion: options.apiVersion ?? OWNER_API_VERSION,
        kind: options.kind ?? 'Memcached',
        name: ownerName,
        uid: 'uid-1',
        controller: options.controller ?? true,
      },
    ],
  };
}

class RecordingReconciler implements Reconciler {
  readonly calls: { req: Request; at: number; ctx: ReconcileContext }[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly behaviour: (req: Request, call: number, ctx: ReconcileContext) => Promise<Result | void> = () => Promise.resolve(),
  ) {}
  reconcile(req: Request, ctx: ReconcileContext): Promise<Result | void> {
    this.calls.push({ req, at: this.clock.now(), ctx });
    return this.behaviour(req, this.calls.length, ctx);
  }
  names(): string[] {
    return this.calls.map((c) => requestKey(c.req));
  }
}

function newController(reconciler: Reconciler, clock: FakeClock, extra: { maxConcurrentReconciles?: number; registry?: Registry } = {}) {
  const { logger, entries } = recordingLogger();
  const controller = new Controller({
    name: 'memcached',
    reconciler,
    logger,
    clock,
    rateLimiter: new ItemExponentialFailureRateLimiter(5, 1000),
    ...extra,
  });
  return { controller, entries };
}

describe('runtime/controller keys and owner mapping', () => {
  it('round-trips namespaced and cluster-scoped keys', () => {
    expect(requestKey({ namespace: 'ns', name: 'a' })).to.equal('ns/a');
    expect(parseRequestKey('ns/a')).to.deep.equal({ namespace: 'ns', name: 'a' });
    expect(requestKey({ namespace: '', name: 'node-1' })).to.equal('node-1');
    expect(parseRequestKey('node-1')).to.deep.equal({ namespace: '', name: 'node-1' });
  });

  it('maps only the controlling owner of the right kind and group (any version)', () => {
    expect(controllerOwnerRequest(obj('ns', 'd', ownedBy('mc')), 'Memcached', OWNER_API_VERSION)).to.deep.equal({ namespace: 'ns', name: 'mc' });
    expect(controllerOwnerRequest(obj('ns', 'd', ownedBy('mc', { apiVersion: 'cache.example.com/v1' })), 'Memcached', OWNER_API_VERSION)).to.deep.equal({ namespace: 'ns', name: 'mc' });
    expect(controllerOwnerRequest(obj('ns', 'd', ownedBy('mc', { controller: false })), 'Memcached', OWNER_API_VERSION)).to.equal(undefined);
    expect(controllerOwnerRequest(obj('ns', 'd', ownedBy('mc', { kind: 'Other' })), 'Memcached', OWNER_API_VERSION)).to.equal(undefined);
    expect(controllerOwnerRequest(obj('ns', 'd', ownedBy('mc', { apiVersion: 'other.io/v1alpha1' })), 'Memcached', OWNER_API_VERSION)).to.equal(undefined);
    expect(controllerOwnerRequest(obj('ns', 'd'), 'Memcached', OWNER_API_VERSION)).to.equal(undefined);
  });
});

describe('runtime/controller', () => {
  it('waits for every source to sync before reconciling', async () => {
    const clock = new FakeClock();
    const reconciler = new RecordingReconciler(clock);
    const primary = new FakeSource<KubernetesObject>({ synced: false });
    const { controller } = newController(reconciler, clock);
    controller.for(primary);
    primary.upsert(obj('ns', 'a'));
    const started = controller.start();
    await settle();
    expect(reconciler.calls).to.have.length(0);
    expect(controller.isRunning()).to.equal(false);
    primary.markSynced();
    await started;
    await settle();
    expect(reconciler.names()).to.deep.equal(['ns/a']);
    await controller.stop();
  });

  it('retries a failing key with doubling backoff, never drops it, and forgets on success', async () => {
    const clock = new FakeClock();
    const reconciler = new RecordingReconciler(clock, (_req, call) => (call <= 3 ? Promise.reject(new Error(`boom ${call}`)) : Promise.resolve()));
    const primary = new FakeSource<KubernetesObject>();
    const { controller, entries } = newController(reconciler, clock);
    controller.for(primary);
    await controller.start();
    primary.upsert(obj('ns', 'a'));
    await settle();
    for (let i = 0; i < 100; i++) {
      await clock.advanceAsync(1);
      await settle(3);
    }
    expect(reconciler.calls.map((c) => c.at)).to.deep.equal([0, 5, 15, 35]);
    expect(reconciler.calls.map((c) => c.ctx.failures), 'each attempt knows the failures before it').to.deep.equal([0, 1, 2, 3]);
    expect(controller.queue.numRequeues('ns/a')).to.equal(0);
    const errors = entries.filter((e) => e.message === 'Reconciler error');
    expect(errors).to.have.length(3);
    expect(errors[0]).to.include({ error: 'boom 1', controller: 'memcached', namespace: 'ns', name: 'a' });
    await controller.stop();
  });

  it('honours requeueAfterMs and forgets failure history', async () => {
    const clock = new FakeClock();
    const reconciler = new RecordingReconciler(clock, (_req, call) => Promise.resolve(call === 1 ? { requeueAfterMs: 1000 } : undefined));
    const primary = new FakeSource<KubernetesObject>();
    const { controller } = newController(reconciler, clock);
    controller.for(primary);
    await controller.start();
    primary.upsert(obj('ns', 'a'));
    await settle();
    await clock.advanceAsync(999);
    await settle();
    expect(reconciler.calls).to.have.length(1);
    await clock.advanceAsync(1);
    await settle();
    expect(reconciler.calls.map((c) => c.at)).to.deep.equal([0, 1000]);
    await clock.advanceAsync(10_000);
    await settle();
    expect(reconciler.calls).to.have.length(2);
    await controller.stop();
  });

  it('owns(): an event on an owned object enqueues its controlling owner', async () => {
    const clock = new FakeClock();
    const reconciler = new RecordingReconciler(clock);
    const primary = new FakeSource<KubernetesObject>();
    const deployments = new FakeSource<KubernetesObject>();
    const { controller } = newController(reconciler, clock);
    controller.for(primary).owns(deployments, 'Memcached', OWNER_API_VERSION);
    await controller.start();
    deployments.upsert(obj('ns', 'mc-deploy', ownedBy('mc'), 'Deployment'));
    await settle();
    deployments.upsert(obj('ns', 'unowned', {}, 'Deployment'));
    deployments.upsert(obj('ns', 'foreign', ownedBy('x', { kind: 'ReplicaSet', apiVersion: 'apps/v1' }), 'Deployment'));
    await settle();
    expect(reconciler.names()).to.deep.equal(['ns/mc']);
    deployments.delete(obj('ns', 'mc-deploy', ownedBy('mc'), 'Deployment'));
    await settle();
    expect(reconciler.names()).to.deep.equal(['ns/mc', 'ns/mc']);
    await controller.stop();
  });

  it('watches(): maps one event to many requests; a throwing map function is logged, not fatal', async () => {
    const clock = new FakeClock();
    const reconciler = new RecordingReconciler(clock);
    const memcacheds = new FakeSource<KubernetesObject>();
    const nodes = new FakeSource<KubernetesObject>();
    const { controller, entries } = newController(reconciler, clock, { maxConcurrentReconciles: 2 });
    memcacheds.upsert(obj('a', 'one'));
    memcacheds.upsert(obj('b', 'two'));
    controller.watches(nodes, (node) => {
      if (node.metadata?.name === 'bad') throw new Error('cannot map');
      return [{ namespace: 'a', name: 'one' }, { namespace: 'b', name: 'two' }];
    });
    await controller.start();
    nodes.upsert(obj('', 'bad', {}, 'Node'));
    nodes.upsert(obj('', 'node-1', {}, 'Node'));
    await settle();
    expect(reconciler.names().sort()).to.deep.equal(['a/one', 'b/two']);
    expect(entries.some((e) => e.message.includes('event mapping failed'))).to.equal(true);
    await controller.stop();
  });

  it('runs up to N keys concurrently but never one key twice at once', async () => {
    const clock = new FakeClock();
    const inFlight = new Map<string, number>();
    const gates: Deferred[] = [];
    let maxParallel = 0;
    let keyOverlap = false;
    const reconciler = new RecordingReconciler(clock, async (req) => {
      const key = requestKey(req);
      if ((inFlight.get(key) ?? 0) > 0) keyOverlap = true;
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      maxParallel = Math.max(maxParallel, [...inFlight.values()].reduce((a, b) => a + b, 0));
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      inFlight.set(key, (inFlight.get(key) ?? 0) - 1);
    });
    const primary = new FakeSource<KubernetesObject>();
    const { controller } = newController(reconciler, clock, { maxConcurrentReconciles: 3 });
    controller.for(primary);
    await controller.start();
    for (const name of ['a', 'b', 'c', 'd']) primary.upsert(obj('ns', name));
    await settle();
    expect(reconciler.names()).to.deep.equal(['ns/a', 'ns/b', 'ns/c']);
    controller.enqueue({ namespace: 'ns', name: 'a' }); // a is in flight: must wait
    gates[1].resolve(); // b finishes → d starts, not a second a
    await settle();
    expect(reconciler.names()).to.deep.equal(['ns/a', 'ns/b', 'ns/c', 'ns/d']);
    gates[0].resolve(); // a finishes → a again
    await settle();
    expect(reconciler.names()).to.deep.equal(['ns/a', 'ns/b', 'ns/c', 'ns/d', 'ns/a']);
    for (const gate of gates) gate.resolve();
    await settle();
    expect(maxParallel).to.equal(3);
    expect(keyOverlap).to.equal(false);
    await controller.stop();
  });

  it('stop({ abort: true }) signals the in-flight reconcile and resolves once it returns', async () => {
    const clock = new FakeClock();
    let seenSignal: AbortSignal | undefined;
    const reconciler = new RecordingReconciler(clock, (_req, _call, ctx) => {
      seenSignal = ctx.signal;
      return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)));
    });
    const primary = new FakeSource<KubernetesObject>();
    const { controller } = newController(reconciler, clock);
    controller.for(primary);
    await controller.start();
    primary.upsert(obj('ns', 'a'));
    await settle();
    expect(seenSignal?.aborted).to.equal(false);
    await controller.stop({ abort: true });
    expect(seenSignal?.aborted).to.equal(true);
    primary.upsert(obj('ns', 'b'));
    await settle();
    expect(reconciler.calls).to.have.length(1);
  });

  it('stop({ timeoutMs }) lets an in-flight reconcile finish in time without aborting it', async () => {
    const clock = new FakeClock();
    const gate = deferred();
    let signal: AbortSignal | undefined;
    const reconciler = new RecordingReconciler(clock, async (_req, _call, ctx) => {
      signal = ctx.signal;
      await gate.promise;
    });
    const primary = new FakeSource<KubernetesObject>();
    const { controller } = newController(reconciler, clock);
    controller.for(primary);
    await controller.start();
    primary.upsert(obj('ns', 'a'));
    await settle();
    let stopped = false;
    const stopping = controller.stop({ timeoutMs: 1000 }).then(() => (stopped = true));
    await clock.advanceAsync(500);
    expect(stopped).to.equal(false);
    gate.resolve();
    await stopping;
    expect(signal?.aborted).to.equal(false);
  });

  it('stop({ timeoutMs }) aborts reconciles that outlive the timeout', async () => {
    const clock = new FakeClock();
    let signal: AbortSignal | undefined;
    const reconciler = new RecordingReconciler(clock, (_req, _call, ctx) => {
      signal = ctx.signal;
      return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    });
    const primary = new FakeSource<KubernetesObject>();
    const { controller, entries } = newController(reconciler, clock);
    controller.for(primary);
    await controller.start();
    primary.upsert(obj('ns', 'a'));
    await settle();
    const stopping = controller.stop({ timeoutMs: 1000 });
    await clock.advanceAsync(999);
    expect(signal?.aborted).to.equal(false);
    await clock.advanceAsync(1);
    await stopping;
    expect(signal?.aborted).to.equal(true);
    expect(entries.some((e) => e.level === 'warn' && e.message.includes('did not finish in time'))).to.equal(true);
  });

  it('stop() before sync returns without starting workers', async () => {
    const clock = new FakeClock();
    const reconciler = new RecordingReconciler(clock);
    const primary = new FakeSource<KubernetesObject>({ synced: false });
    const { controller } = newController(reconciler, clock);
    controller.for(primary);
    primary.upsert(obj('ns', 'a'));
    const started = controller.start();
    await controller.stop();
    await started;
    primary.markSynced();
    await settle();
    expect(reconciler.calls).to.have.length(0);
  });

  it('gives each reconcile its own id and rejects invalid concurrency', async () => {
    const clock = new FakeClock();
    const reconciler = new RecordingReconciler(clock);
    const primary = new FakeSource<KubernetesObject>();
    const { controller } = newController(reconciler, clock);
    controller.for(primary);
    await controller.start();
    primary.upsert(obj('ns', 'a'));
    primary.upsert(obj('ns', 'b'));
    await settle();
    const ids = reconciler.calls.map((c) => c.ctx.reconcileId);
    expect(ids).to.have.length(2);
    expect(ids[0]).to.not.equal(ids[1]);
    await controller.stop();
    expect(() => newController(reconciler, clock, { maxConcurrentReconciles: 0 })).to.throw(/positive integer/);
  });

  it('exports controller-runtime reconcile metrics', async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const reconciler = new RecordingReconciler(clock, (req) =>
      req.name === 'bad' ? Promise.reject(new Error('x')) : Promise.resolve(req.name === 'later' ? { requeueAfterMs: 60_000 } : undefined),
    );
    const primary = new FakeSource<KubernetesObject>();
    const { controller } = newController(reconciler, clock, { registry, maxConcurrentReconciles: 4 });
    controller.for(primary);
    await controller.start();
    for (const name of ['ok', 'bad', 'later']) primary.upsert(obj('ns', name));
    await settle();
    const text = await registry.metrics();
    for (const name of Object.values(CONTROLLER_METRIC_NAMES)) expect(text).to.contain(name);
    expect(text).to.contain('controller_runtime_reconcile_total{controller="memcached",result="success"} 1');
    expect(text).to.contain('controller_runtime_reconcile_total{controller="memcached",result="error"} 1');
    expect(text).to.contain('controller_runtime_reconcile_total{controller="memcached",result="requeue_after"} 1');
    expect(text).to.contain('controller_runtime_reconcile_errors_total{controller="memcached"} 1');
    expect(text).to.contain('controller_runtime_max_concurrent_reconciles{controller="memcached"} 4');
    expect(text).to.contain('workqueue_adds_total{controller="memcached",name="memcached"}');
    await controller.stop();
  });

  it('does not requeue a TerminalError, counts it, and reconciles the key again when it is next added', async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const reconciler = new RecordingReconciler(clock, (_req, call) => (call === 1 ? Promise.reject(new TerminalError('spec refused')) : Promise.resolve()));
    const primary = new FakeSource<KubernetesObject>();
    const { controller, entries } = newController(reconciler, clock, { registry });
    controller.for(primary);
    await controller.start();
    primary.upsert(obj('ns', 'a'));
    await settle();
    await clock.advanceAsync(60_000);
    await settle();
    expect(reconciler.calls, 'no retry with backoff').to.have.length(1);
    expect(controller.queue.numRequeues('ns/a')).to.equal(0);
    expect(entries.some((e) => e.message === 'Reconciler error (terminal; not requeued)' && e.error === 'spec refused')).to.equal(true);
    const text = await registry.metrics();
    expect(text).to.contain('controller_runtime_terminal_reconcile_errors_total{controller="memcached"} 1');
    expect(text).to.contain('controller_runtime_reconcile_errors_total{controller="memcached"} 1');
    expect(text).to.contain('controller_runtime_reconcile_panics_total{controller="memcached"} 0');
    // The object changes: it is reconciled again.
    primary.upsert(obj('ns', 'a', { resourceVersion: '2' }));
    await settle();
    expect(reconciler.calls.length).to.be.greaterThan(1);
    await controller.stop();
  });

  it('counts a programming error (TypeError) as a panic and retries it like any error', async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const reconciler = new RecordingReconciler(clock, (_req, call) =>
      call === 1 ? Promise.reject(new TypeError("Cannot read properties of undefined (reading 'spec')")) : Promise.resolve(),
    );
    const primary = new FakeSource<KubernetesObject>();
    const { controller, entries } = newController(reconciler, clock, { registry });
    controller.for(primary);
    await controller.start();
    primary.upsert(obj('ns', 'a'));
    await settle();
    await clock.advanceAsync(5);
    await settle();
    expect(reconciler.calls.map((c) => c.at)).to.deep.equal([0, 5]);
    expect(entries.some((e) => e.message === 'Reconciler panic' && typeof e.stack === 'string')).to.equal(true);
    const text = await registry.metrics();
    expect(text).to.contain('controller_runtime_reconcile_panics_total{controller="memcached"} 1');
    expect(text).to.contain('controller_runtime_terminal_reconcile_errors_total{controller="memcached"} 0');
    await controller.stop();
  });
});
