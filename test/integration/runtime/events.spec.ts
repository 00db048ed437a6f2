// The event recorder against the real local apiserver: repeats of an Event
// become a series on the one Event (count and lastObservedTime, merge
// patched), sent at most once per patch interval; a different note is a
// different Event; an Event deleted meanwhile (its TTL passed) is created
// again with its series. A watch on the Events sees every version written.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { ApiEventRecorder, createLogger } from '@memcached-operator/runtime';
import { createNamespace, deleteNamespace, ensureCluster, eventually } from '../../support/cluster.js';
import { LogRecorder } from '../../support/logs.js';

interface Seen {
  type: string;
  name: string;
  count: number | undefined;
  note: string | undefined;
}

describe('event recorder on the local cluster', function () {
  this.timeout(120_000);
  const PATCH_INTERVAL_MS = 1_500;
  let kc: k8s.KubeConfig;
  let namespace: string;
  let regarding: k8s.V1ConfigMap;
  let abort: AbortController | undefined;
  const seen: Seen[] = [];
  const logs = new LogRecorder();
  const recorder = (): ApiEventRecorder =>
    new ApiEventRecorder(kc, {
      controller: 'cache.example.com/events-spec',
      instance: 'events-spec-1',
      logger: createLogger('warn', { stream: logs }),
      seriesPatchIntervalMs: PATCH_INTERVAL_MS,
    });
  const ofReason = (reason: string): Seen[] => seen.filter((s) => s.note?.startsWith(reason));
  const listEvents = async (): Promise<k8s.EventsV1Event[]> => (await kc.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace })).items;

  before(async () => {
    kc = ensureCluster('ha');
    namespace = await createNamespace(kc, 'events');
    regarding = await kc.makeApiClient(k8s.CoreV1Api).createNamespacedConfigMap({ namespace, body: { metadata: { name: 'regarding' } } });
    abort = await new k8s.Watch(kc).watch(
      `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
      {},
      (type: string, obj: k8s.EventsV1Event) => seen.push({ type, name: obj.metadata?.name ?? '', count: obj.series?.count, note: obj.note }),
      () => undefined,
    );
  });

  after(async () => {
    abort?.abort();
    if (namespace) await deleteNamespace(kc, namespace);
  });

  it('counts repeats on one Event, in one patch per interval', async () => {
    const r = recorder();
    for (let i = 0; i < 5; i++) r.event(regarding, 'Warning', 'Flapping', 'Reconcile', 'Flapping: range is full');
    await eventually('the series to reach 5', () => (ofReason('Flapping').some((s) => s.count === 5) ? true : undefined), { timeoutMs: 30_000 });
    // Created once, then patched once with every repeat made meanwhile.
    expect(ofReason('Flapping').map((s) => [s.type, s.count]), logs.lines.join('\n')).to.deep.equal([
      ['ADDED', undefined],
      ['MODIFIED', 5],
    ]);
    const [event] = (await listEvents()).filter((e) => e.reason === 'Flapping');
    expect(event.series?.count).to.equal(5);
    expect(new Date(event.series!.lastObservedTime).getTime()).to.be.at.least(new Date(event.eventTime).getTime());
    // The core/v1 view (kubectl get events, kubectl describe) shows the same count.
    const core = (await kc.makeApiClient(k8s.CoreV1Api).listNamespacedEvent({ namespace })).items.find((e) => e.reason === 'Flapping');
    expect(core?.series?.count).to.equal(5);

    // Quiet for longer than the interval: the next repeat goes out at once.
    await new Promise((resolve) => setTimeout(resolve, PATCH_INTERVAL_MS));
    r.event(regarding, 'Warning', 'Flapping', 'Reconcile', 'Flapping: range is full');
    await eventually('the series to reach 6', () => (ofReason('Flapping').some((s) => s.count === 6) ? true : undefined), { timeoutMs: 10_000 });
    expect(new Set(ofReason('Flapping').map((s) => s.name)).size, 'one Event').to.equal(1);
  });

  it('records a different note as a different Event', async () => {
    const r = recorder();
    r.event(regarding, 'Warning', 'Notes', 'Reconcile', 'Notes: first');
    r.event(regarding, 'Warning', 'Notes', 'Reconcile', 'Notes: second');
    await eventually('two Events', () => (ofReason('Notes').length === 2 ? true : undefined), { timeoutMs: 10_000 });
    expect(ofReason('Notes').map((s) => [s.type, s.count])).to.deep.equal([
      ['ADDED', undefined],
      ['ADDED', undefined],
    ]);
  });

  it('creates an Event again, with its series, when it was deleted meanwhile', async () => {
    const r = recorder();
    r.event(regarding, 'Normal', 'Expired', 'Reconcile', 'Expired: once');
    await eventually('the Event', () => (ofReason('Expired').length === 1 ? true : undefined), { timeoutMs: 10_000 });
    const name = ofReason('Expired')[0].name;
    await kc.makeApiClient(k8s.EventsV1Api).deleteNamespacedEvent({ name, namespace });
    await new Promise((resolve) => setTimeout(resolve, PATCH_INTERVAL_MS));
    r.event(regarding, 'Normal', 'Expired', 'Reconcile', 'Expired: once');
    await eventually('the Event created again', () => (ofReason('Expired').filter((s) => s.type === 'ADDED').length === 2 ? true : undefined), {
      timeoutMs: 10_000,
    });
    expect(ofReason('Expired').map((s) => [s.type, s.name, s.count])).to.deep.equal([
      ['ADDED', name, undefined],
      ['DELETED', name, undefined],
      ['ADDED', name, 2],
    ]);
  });

  it('with a series window of 0, records every repeat as its own Event', async () => {
    const r = new ApiEventRecorder(kc, { controller: 'cache.example.com/events-spec', instance: 'events-spec-1', logger: createLogger('warn', { stream: logs }), seriesWindowMs: 0 });
    for (let i = 0; i < 3; i++) r.event(regarding, 'Normal', 'Each', 'Elect', 'Each: became leader');
    await eventually('three Events', () => (ofReason('Each').length === 3 ? true : undefined), { timeoutMs: 10_000 });
    expect(new Set(ofReason('Each').map((s) => s.name)).size).to.equal(3);
  });
});
