import { expect } from 'chai';
import { KubeConfig, type Informer as ClientInformer, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { FakeClock } from '../src/testing.js';
import {
  DEFAULT_RESTART_BACKOFF,
  ResilientInformer,
  isResourceExpired,
  planRestart,
  restartLogLevel,
  THROTTLED_FAILURES_AT_INFO,
  resourcePath,
  restartDelayMs,
  stripManagedFields,
  type ClientInformerFactory,
  type ResourceDescriptor,
} from '../src/informer.js';
import { recordingLogger, settle } from './fakes.js';

const MEMCACHED: ResourceDescriptor = { apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', plural: 'memcacheds', namespaced: true };
const DEPLOYMENT: ResourceDescriptor = { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true };
const NODE: ResourceDescriptor = { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };

function mc(namespace: string, name: string, resourceVersion: string): KubernetesObject {
  return { apiVersion: MEMCACHED.apiVersion, kind: MEMCACHED.kind, metadata: { namespace, name, resourceVersion } };
}

/**
 * Stand-in for client-node's ListWatch (not for the API server): start() lists
 * through the given list function and emits adds, or reports the scripted error.
 */
class ScriptedClientInformer {
  private readonly callbacks = new Map<string, ((arg: unknown) => void)[]>();
  starts = 0;
  stopped = false;
  constructor(
    readonly path: string,
    private readonly listFn: () => Promise<KubernetesListObject<KubernetesObject>>,
    private readonly script: { failures: unknown[] },
  ) {}
  on(verb: string, cb: (arg: unknown) => void): void {
    this.callbacks.set(verb, [...(this.callbacks.get(verb) ?? []), cb]);
  }
  off(): void {}
  emit(verb: string, arg: unknown): void {
    for (const cb of this.callbacks.get(verb) ?? []) cb(arg);
  }
  async start(): Promise<void> {
    this.starts++;
    this.stopped = false;
    const failure = this.script.failures.shift();
    if (failure !== undefined) {
      this.emit('error', failure);
      return;
    }
    const list = await this.listFn();
    for (const item of list.items) this.emit('add', item);
  }
  stop(): Promise<void> {
    this.stopped = true;
    this.emit('error', new Error('aborted')); // client-node reports its own abort as an error
    return Promise.resolve();
  }
}

function harness(
  options: {
    namespaces?: string[];
    failures?: unknown[];
    items?: Map<string | undefined, KubernetesObject[]>;
    resyncPeriodMs?: number;
    resource?: ResourceDescriptor;
    transform?: (obj: KubernetesObject) => KubernetesObject;
    onNotFound?: () => void;
  } = {},
) {
  const clock = new FakeClock();
  const { logger, entries } = recordingLogger();
  const script = { failures: options.failures ?? [] };
  const items = options.items ?? new Map<string | undefined, KubernetesObject[]>();
  const created: ScriptedClientInformer[] = [];
  const factory: ClientInformerFactory<KubernetesObject> = (path, listFn) => {
    const fake = new ScriptedClientInformer(path, listFn, script);
    created.push(fake);
    return fake as unknown as ClientInformer<KubernetesObject>;
  };
  const informer = new ResilientInformer<KubernetesObject>({
    kubeConfig: new KubeConfig(),
    resource: options.resource ?? MEMCACHED,
    logger,
    clock,
    namespaces: options.namespaces,
    resyncPeriodMs: options.resyncPeriodMs,
    listFn: (ns) => Promise.resolve({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '1' }, items: items.get(ns) ?? [] }),
    clientInformerFactory: factory,
    ...(options.transform ? { transform: options.transform } : {}),
    ...(options.onNotFound ? { onNotFound: options.onNotFound } : {}),
  });
  return { clock, informer, created, entries, script, items };
}

describe('runtime/informer restart policy (pure)', () => {
  it('backs off exponentially from 1 s and caps at 30 s', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 50].map((n) => restartDelayMs(n, DEFAULT_RESTART_BACKOFF));
    expect(delays).to.deep.equal([1000, 2000, 4000, 8000, 10000, 10000, 10000, 10000]);
    expect(restartDelayMs(10_000)).to.equal(10_000);
  });

  it('recognises 410 Gone in every shape client-node produces', () => {
    expect(isResourceExpired({ statusCode: 410 })).to.equal(true);
    expect(isResourceExpired({ code: 410 })).to.equal(true);
    expect(isResourceExpired({ body: { code: 410 } })).to.equal(true);
    expect(isResourceExpired({ body: '{"kind":"Status","code": 410}' })).to.equal(true);
    expect(isResourceExpired({ statusCode: 500 })).to.equal(false);
    expect(isResourceExpired(new Error('ECONNRESET'))).to.equal(false);
    expect(isResourceExpired(undefined)).to.equal(false);
  });

  it('relists at once on the first 410, backs off on repeated ones, and resumes on other errors', () => {
    expect(planRestart({ statusCode: 410 }, 1)).to.deep.equal({ relist: true, delayMs: 0 });
    expect(planRestart({ statusCode: 410 }, 3)).to.deep.equal({ relist: true, delayMs: 2000 });
    expect(planRestart(new Error('connection reset'), 1)).to.deep.equal({ relist: false, delayMs: 1000 });
    expect(planRestart(new Error('connection reset'), 4)).to.deep.equal({ relist: false, delayMs: 8000 });
  });

  it('logs a throttled list/watch (429, as a just-established CRD answers) at info the first times, and any other failure as an error', () => {
    const cases: [unknown, number, 'info' | 'error'][] = [
      [{ statusCode: 429 }, 1, 'info'],
      [{ code: 429 }, THROTTLED_FAILURES_AT_INFO - 1, 'info'],
      [{ statusCode: 429 }, THROTTLED_FAILURES_AT_INFO, 'error'],
      [{ statusCode: 500 }, 1, 'error'],
      [new Error('connection reset'), 1, 'error'],
    ];
    for (const [err, failures, level] of cases) expect(restartLogLevel(err, failures), `${JSON.stringify(err)} x${failures}`).to.equal(level);
  });

  it('builds collection paths for core, grouped, namespaced and cluster-scoped resources', () => {
    expect(resourcePath(MEMCACHED, 'prod')).to.equal('/apis/cache.example.com/v1alpha1/namespaces/prod/memcacheds');
    expect(resourcePath(MEMCACHED)).to.equal('/apis/cache.example.com/v1alpha1/memcacheds');
    expect(resourcePath(DEPLOYMENT, 'a')).to.equal('/apis/apps/v1/namespaces/a/deployments');
    expect(resourcePath(NODE, 'ignored')).to.equal('/api/v1/nodes');
  });
});

describe('runtime/informer ResilientInformer (scripted client informer)', () => {
  it('restarts after errors with growing backoff, syncs, and resets the backoff after a success', async () => {
    const { clock, informer, created, entries, script } = harness({ failures: [new Error('refused'), new Error('refused')] });
    informer.start();
    await settle();
    expect(informer.hasSynced()).to.equal(false);
    expect(created[0].starts).to.equal(1);
    await clock.advanceAsync(999);
    expect(created[0].starts).to.equal(1);
    await clock.advanceAsync(1); // 1 s after the first failure
    expect(created[0].starts).to.equal(2);
    await clock.advanceAsync(1999);
    expect(created[0].starts).to.equal(2);
    await clock.advanceAsync(1); // 2 s after the second failure
    await settle();
    expect(created[0].starts).to.equal(3);
    expect(informer.hasSynced()).to.equal(true);
    await informer.synced;
    // After a successful sync the next failure waits the initial delay again, and grows from there.
    script.failures.push(new Error('again'));
    created[0].emit('error', new Error('watch dropped'));
    await clock.advanceAsync(1000);
    await settle();
    expect(created[0].starts).to.equal(4);
    expect(entries.filter((e) => e.message.includes('restarting')).map((e) => e.retryInMs)).to.deep.equal([1000, 2000, 1000, 2000]);
    await informer.stop();
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('hands a 404 (the CRD removed) to onNotFound and logs it at info; without onNotFound it is a failure', async () => {
    const gone = () => Object.assign(new Error('Not Found'), { statusCode: 404 });
    let told = 0;
    const watched = harness({ failures: [gone()], onNotFound: () => told++ });
    watched.informer.start();
    await settle();
    expect(told).to.equal(1);
    expect(watched.entries.filter((e) => e.level === 'error')).to.deep.equal([]);
    expect(watched.entries.filter((e) => e.message.includes('404')).map((e) => e.level)).to.deep.equal(['info']);
    await watched.clock.advanceAsync(1000); // it still retries, in case the API comes back
    expect(watched.created[0].starts).to.equal(2);
    await watched.informer.stop();

    const plain = harness({ failures: [gone()] });
    plain.informer.start();
    await settle();
    expect(plain.entries.filter((e) => e.level === 'error').map((e) => e.message)).to.deep.equal(['list/watch failed; restarting']);
    await plain.informer.stop();
  });

  it('relists through a fresh watch on 410 and reports objects deleted meanwhile', async () => {
    const items = new Map([[undefined, [mc('ns', 'a', '1'), mc('ns', 'b', '1')]]]);
    const { clock, informer, created } = harness({ items });
    const deleted: string[] = [];
    informer.addEventHandlers({ onDelete: (o) => deleted.push(o.metadata?.name ?? '') });
    informer.start();
    await informer.synced;
    items.set(undefined, [mc('ns', 'a', '2')]);
    created[0].emit('error', { statusCode: 410 });
    await clock.advanceAsync(0);
    await settle();
    expect(created).to.have.length(2);
    expect(created[0].stopped).to.equal(true);
    expect(deleted).to.deep.equal(['b']);
    expect(informer.get('ns', 'a')?.metadata?.resourceVersion).to.equal('2');
    await informer.stop();
  });

  it('caches objects and passes the previous object on update; unchanged versions are not events', async () => {
    const { informer, created } = harness();
    const events: string[] = [];
    informer.addEventHandlers({
      onAdd: (o) => events.push(`add ${o.metadata?.name}`),
      onUpdate: (o, old) => events.push(`update ${o.metadata?.name} ${old.metadata?.resourceVersion}->${o.metadata?.resourceVersion}`),
      onDelete: (o) => events.push(`delete ${o.metadata?.name}`),
    });
    informer.start();
    await informer.synced;
    created[0].emit('add', mc('ns', 'a', '1'));
    created[0].emit('update', mc('ns', 'a', '1'));
    created[0].emit('update', mc('ns', 'a', '2'));
    created[0].emit('delete', mc('ns', 'a', '2'));
    created[0].emit('delete', mc('ns', 'zz', '1'));
    expect(events).to.deep.equal(['add a', 'update a 1->2', 'delete a']);
    expect(informer.get('ns', 'a')).to.equal(undefined);
    await informer.stop();
  });

  it('replays the cache to late subscribers and isolates a throwing handler', async () => {
    const items = new Map([[undefined, [mc('ns', 'a', '1')]]]);
    const { informer, created, entries } = harness({ items });
    informer.addEventHandlers({
      onAdd: () => {
        throw new Error('handler bug');
      },
    });
    informer.start();
    await informer.synced;
    const late: string[] = [];
    informer.addEventHandlers({ onAdd: (o) => late.push(o.metadata?.name ?? '') });
    created[0].emit('add', mc('ns', 'b', '1'));
    expect(late).to.deep.equal(['a', 'b']);
    expect(entries.filter((e) => e.message === 'event handler failed')).to.have.length(2);
    await informer.stop();
  });

  it('re-delivers every cached object as an update each resync period', async () => {
    const items = new Map([[undefined, [mc('ns', 'a', '1'), mc('ns', 'b', '1')]]]);
    const { clock, informer } = harness({ items, resyncPeriodMs: 60_000 });
    const updates: string[] = [];
    informer.addEventHandlers({ onUpdate: (o, old) => updates.push(`${o.metadata?.name}:${o === old}`) });
    informer.start();
    await informer.synced;
    await clock.advanceAsync(59_999);
    expect(updates).to.deep.equal([]);
    await clock.advanceAsync(1);
    expect(updates).to.deep.equal(['a:true', 'b:true']);
    await clock.advanceAsync(60_000);
    expect(updates).to.have.length(4);
    await informer.stop();
  });

  it('runs one watch per listed namespace and syncs only when all have', async () => {
    const items = new Map([
      ['a', [mc('a', 'one', '1')]],
      ['b', [mc('b', 'two', '1')]],
    ]);
    const { clock, informer, created } = harness({ namespaces: ['a', 'b'], items, failures: [new Error('forbidden')] });
    informer.start();
    await settle();
    expect(created.map((c) => c.path)).to.deep.equal([
      '/apis/cache.example.com/v1alpha1/namespaces/a/memcacheds',
      '/apis/cache.example.com/v1alpha1/namespaces/b/memcacheds',
    ]);
    expect(informer.hasSynced()).to.equal(false); // namespace a failed its first attempt
    await clock.advanceAsync(1000);
    await settle();
    expect(informer.hasSynced()).to.equal(true);
    expect(informer.get('b', 'two')?.metadata?.name).to.equal('two');
    expect(informer.get('a', 'two')).to.equal(undefined);
    expect(informer.list('a').map((o) => o.metadata?.name)).to.deep.equal(['one']);
    expect(informer.list()).to.have.length(2);
    await informer.stop();
  });

  it('refuses a namespace list for a cluster-scoped resource', () => {
    expect(() => harness({ resource: NODE, namespaces: ['a'] })).to.throw(/cluster-scoped/);
  });
});

describe('runtime/informer transform', () => {
  it('applies the transform to listed and watched objects before they are cached or handed out', async () => {
    const withFields = (name: string, rv: string): KubernetesObject => ({
      apiVersion: 'v1',
      kind: 'Thing',
      metadata: { namespace: 'a', name, resourceVersion: rv, managedFields: [{ manager: 'kubectl', operation: 'Apply' }] },
    });
    const listed = withFields('listed', '1');
    const { informer, created } = harness({ items: new Map([[undefined, [listed]]]), transform: stripManagedFields });
    const seen: KubernetesObject[] = [];
    informer.addEventHandlers({ onAdd: (o) => seen.push(o), onUpdate: (o) => seen.push(o) });
    informer.start();
    await informer.synced;
    // In place: the client's own list (and so its cache) holds the stripped object too.
    expect(listed.metadata?.managedFields).to.equal(undefined);
    created[0].emit('add', withFields('watched', '2'));
    created[0].emit('update', withFields('watched', '3'));
    expect(seen.map((o) => [o.metadata?.name, o.metadata?.managedFields])).to.deep.equal([
      ['listed', undefined],
      ['watched', undefined],
      ['watched', undefined],
    ]);
    expect(informer.get('a', 'watched')?.metadata?.managedFields).to.equal(undefined);
    expect(informer.get('a', 'watched')?.metadata?.resourceVersion).to.equal('3');
    await informer.stop();
  });
});
