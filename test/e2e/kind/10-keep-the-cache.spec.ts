// Keep the cache: each change a user makes to a running Memcached, done while
// a consistent-hashing client (pylibmc, libmemcached's ketama, reading the
// mounted <name>-servers ConfigMap) keeps using it. For each row: all K keys
// are loaded, a probe runs through the change, and afterwards the share of
// keys still served, the probe's failures and longest gap, the change's
// duration, the pods replaced (UIDs) and container restarts are recorded and
// held to the row's bar. The client's list must agree with the operator's
// (the ConfigMap == status.serverList) before and after every row.
import { expect } from 'chai';
import { eventually } from '../../support/cluster.js';
import type { Cluster } from '../../integration/topology/support.js';
import { deleteNamespaces, k, restrictedNamespace } from '../support.js';
import { type CacheClient, keptShare, markPods, operatorServerLists, podChanges, retaggedMemcachedImage, startCacheClient } from './cacheclient.js';
import { applyMemcached, deployOperator, kindCluster, memcachedImage, recordResult } from './support.js';

// memcached -e (warm restart) preallocates a 1 MB page for each of its 39
// slab classes, so 39 MB of -m holds no 1000-byte item until its slab mover
// reclaims them: 128 MB leaves room for a server's keys parked on its peers.
const MEMORY_MB = 128;
const VALUE_BYTES = 1000;
// A 1000-byte value takes a 1184-byte slab chunk: 100,000 keys fill 30% of
// three 128 MB servers, 34,000 keys 31% of one.
const KEYS = 100_000;
const KEYS_SMALL = 34_000;

interface LastOperation {
  type: string;
  phase: string;
  startedAt: string;
  finishedAt?: string;
  keysBefore?: number;
  keysKept?: number;
  message?: string;
}

interface MemcachedView {
  metadata: { generation: number };
  status?: {
    observedGeneration?: number;
    serverList?: string[];
    servers?: { name: string; state: string }[];
    lastOperation?: LastOperation;
  };
}

async function readMemcached(cluster: Cluster, namespace: string, name: string): Promise<MemcachedView> {
  return (await cluster.custom.getNamespacedCustomObject({ group: 'cache.example.com', version: 'v1alpha1', namespace, plural: 'memcacheds', name })) as MemcachedView;
}

/**
 * Why the Memcached is not settled (the contract's definition), or undefined
 * when it is. A change must show an operation that started after it; a new
 * cache has none (nothing to keep yet).
 */
function unsettled(mc: MemcachedView, replicas: number, since: number | undefined): string | undefined {
  const s = mc.status ?? {};
  const op = s.lastOperation;
  if (s.observedGeneration !== mc.metadata.generation) return `observedGeneration ${s.observedGeneration} of ${mc.metadata.generation}`;
  if (since !== undefined && (!op || Date.parse(op.startedAt) < since - 1000)) return `no operation since the change (last: ${JSON.stringify(op)})`;
  if (op?.phase === 'Running') return `${op.type} running: ${op.message}`;
  if ((s.servers ?? []).length !== replicas || s.servers!.some((x) => x.state !== 'Warm')) return `servers ${JSON.stringify(s.servers)}`;
  if ((s.serverList ?? []).length !== replicas) return `serverList ${JSON.stringify(s.serverList)}`;
  return undefined;
}

/** Waits until an operation started at or after `since` (if given) has finished and the Memcached is settled at `replicas`. */
async function settledAfter(cluster: Cluster, namespace: string, name: string, replicas: number, since: number | undefined): Promise<MemcachedView> {
  return eventually(`${namespace}/${name} settled at ${replicas} servers`, async () => {
    const mc = await readMemcached(cluster, namespace, name);
    const why = unsettled(mc, replicas, since);
    if (why) throw new Error(why);
    return mc;
  }, { timeoutMs: 600_000, intervalMs: 1000 });
}

/** The client's list (the mounted ConfigMap) agrees with the operator's: ConfigMap == status.serverList, and mounted. */
async function listsAgree(cluster: Cluster, client: CacheClient, namespace: string, name: string): Promise<string[]> {
  const lists = await operatorServerLists(cluster, namespace, name);
  expect(lists.configMap, 'the <name>-servers ConfigMap against status.serverList').to.deep.equal(lists.status);
  await client.waitForMountedServers(lists.status);
  return lists.status;
}

interface Row {
  key: string;
  title: string;
  name: string;
  keys: number;
  /** Servers after the change. */
  replicas: number;
  change: () => void;
  minShare: number;
  /** The row promises no pod is replaced (a warm restart in place). */
  keepsPods?: boolean;
}

describe('kind: keep the cache through every change', function () {
  this.timeout(3_600_000);
  let cluster: Cluster;
  let ns: string;
  const clients = new Map<string, CacheClient>();
  const patch = (name: string, spec: Record<string, unknown>): void =>
    void k(['patch', 'memcached', name, '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec })]);

  before(async () => {
    cluster = kindCluster();
    await deployOperator(cluster);
    ns = restrictedNamespace('e2e-keep');
    applyMemcached(ns, 'keep', { size: 3, image: memcachedImage(), memoryLimitMB: MEMORY_MB });
    applyMemcached(ns, 'grow', { highAvailability: 'Disabled', image: memcachedImage(), memoryLimitMB: MEMORY_MB });
    await settledAfter(cluster, ns, 'keep', 3, undefined);
    await settledAfter(cluster, ns, 'grow', 1, undefined);
    clients.set('keep', await startCacheClient(cluster, ns, 'keep', 'client-keep'));
    clients.set('grow', await startCacheClient(cluster, ns, 'grow', 'client-grow'));
  });

  after(() => deleteNamespaces(ns));

  async function runRow(row: Row): Promise<void> {
    const client = clients.get(row.name)!;
    await listsAgree(cluster, client, ns, row.name);
    const loaded = client.load(row.keys, VALUE_BYTES);
    expect(loaded, 'every key stored before the change').to.deep.equal({ stored: row.keys, failed: 0, errors: 0 });
    const podsBefore = await markPods(cluster, ns, row.name);
    const probe = await client.startProbe(row.keys, VALUE_BYTES);
    const started = Date.now();
    row.change();
    const mc = await settledAfter(cluster, ns, row.name, row.replicas, started);
    const durationMs = Date.now() - started;
    const servers = await listsAgree(cluster, client, ns, row.name);
    const probed = await probe.stop();
    const checked = client.check(row.keys);
    const pods = podChanges(podsBefore, await markPods(cluster, ns, row.name));
    const share = keptShare(checked, row.keys);
    recordResult(`keep-the-cache ${row.key}`, {
      servedShare: Number(share.toFixed(4)), ...checked, requests: probed.requests, failedRequests: probed.failures,
      longestGapMs: probed.longestGapMs, durationMs, podsReplaced: pods.replaced, containerRestarts: pods.restarts,
      servers: servers.length, operation: mc.status?.lastOperation,
    });
    expect(checked.wrong, 'keys served with another key\'s value').to.equal(0);
    expect(share, `share of ${row.keys} keys still served after: ${row.title}`).to.be.at.least(row.minShare);
    expect(mc.status?.lastOperation?.phase, JSON.stringify(mc.status?.lastOperation)).to.equal('Succeeded');
    if (row.keepsPods) expect(pods.replaced, 'pods replaced').to.equal(0);
  }

  const rows: Row[] = [
    { key: 'image-changed', title: 'the image changed (same memcached, a second tag)', name: 'keep', keys: KEYS, replicas: 3, minShare: 0.99, keepsPods: true,
      change: () => patch('keep', { image: retaggedMemcachedImage() }) },
    { key: 'memory-raised', title: 'memoryLimitMB raised', name: 'keep', keys: KEYS, replicas: 3, minShare: 0.99, keepsPods: true,
      change: () => patch('keep', { memoryLimitMB: MEMORY_MB + 32 }) },
    { key: 'scale-3-to-4', title: 'scaled 3 → 4', name: 'keep', keys: KEYS, replicas: 4, minShare: 0.95, change: () => patch('keep', { size: 4 }) },
    { key: 'scale-4-to-3', title: 'scaled 4 → 3', name: 'keep', keys: KEYS, replicas: 3, minShare: 0.95, change: () => patch('keep', { size: 3 }) },
    { key: 'single-to-ha', title: 'SingleReplica → HighlyAvailable (1 → 3)', name: 'grow', keys: KEYS_SMALL, replicas: 3, minShare: 0.95,
      change: () => patch('grow', { highAvailability: 'Enabled' }) },
    { key: 'pod-deleted', title: 'one memcached pod deleted', name: 'keep', keys: KEYS, replicas: 3, minShare: 1 - 1 / 3 - 0.05,
      change: () => void k(['delete', 'pod', 'keep-1', '-n', ns, '--wait=false']) },
  ];
  for (const row of rows) it(`keeps ≥ ${(row.minShare * 100).toFixed(0)}% of the keys: ${row.title}`, () => runRow(row));

  // pylibmc cannot log in to memcached -Y (its login is SASL over the binary
  // protocol, which -Y turns off), so this row reads what was kept from the
  // operator's own count (lastOperation keysBefore/keysKept), loaded before
  // auth is on.
  it('keeps ≥ 99% of the keys when the authfile is rotated, and replaces no pod', async () => {
    const client = clients.get('keep')!;
    await listsAgree(cluster, client, ns, 'keep');
    expect(client.load(KEYS, VALUE_BYTES).stored).to.equal(KEYS);
    const authfile = (password: string) => k(['create', 'secret', 'generic', 'keep-auth', '-n', ns, `--from-literal=authfile=e2e:${password}\n`, '--dry-run=client', '-o', 'json']);
    k(['apply', '--server-side', '--force-conflicts', '-n', ns, '-f', '-'], authfile('first'));
    let since = Date.now();
    patch('keep', { auth: { secretName: 'keep-auth' } });
    await settledAfter(cluster, ns, 'keep', 3, since);
    const podsBefore = await markPods(cluster, ns, 'keep');
    since = Date.now();
    k(['apply', '--server-side', '--force-conflicts', '-n', ns, '-f', '-'], authfile('second'));
    const mc = await settledAfter(cluster, ns, 'keep', 3, since);
    const durationMs = Date.now() - since;
    const pods = podChanges(podsBefore, await markPods(cluster, ns, 'keep'));
    const op = mc.status!.lastOperation!;
    await listsAgree(cluster, client, ns, 'keep');
    recordResult('keep-the-cache authfile-rotated', { keysBefore: op.keysBefore, keysKept: op.keysKept, durationMs, podsReplaced: pods.replaced, containerRestarts: pods.restarts, operation: op });
    expect(op.keysBefore, JSON.stringify(op)).to.be.a('number').and.at.least(KEYS * 0.99);
    expect(op.keysKept! / op.keysBefore!, JSON.stringify(op)).to.be.at.least(0.99);
    expect(pods.replaced, 'pods replaced').to.equal(0);
  });
});
