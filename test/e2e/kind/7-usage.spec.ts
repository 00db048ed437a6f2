// Saturated and Evicting on real memcached (the usage conditions and their Events):
// the operator's stats poll (usage.ts), run every 2 s here instead of the
// in-cluster 60 s (--usage-poll-interval), reads a real memcached that this
// spec drives to evictions (sets past -m) and near its connection limit
// (connections held open), and the conditions turn True with a Warning Event,
// then back to False with a Normal Event when the load stops. Once stable,
// the Memcached is not written at all (the idle-writes property).
import type { CoreV1Event } from '@kubernetes/client-node';
import { expect } from 'chai';
import { findCondition } from '@memcached-operator/runtime';
import { eventually } from '../../support/cluster.js';
import { isPodReady, type Cluster } from '../../integration/topology/support.js';
import { deleteNamespaces, kRun, kRunAsync, restrictedNamespace } from '../support.js';
import { FILL_SCRIPT, applyMemcached, deployOperator, eventsAbout, execInBackground, kindCluster, memcachedImage, recordResult, startClientPod } from './support.js';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

const POLL_MS = 2000;
// memcached refuses new connections some 20 short of -c (descriptors it keeps
// in reserve), so below about 230 it refuses before 90% is in use: 1000
// leaves room for the near-limit state.
const MAX_CONNECTIONS = 1000;
/** usage.ts's SATURATED_CONNECTIONS_SHARE: the share of -c from which a pod counts as saturated. */
const SATURATED_SHARE = 0.9;

// `stats` over one connection from the client pod; prints `STAT name value` lines.
const STATS = `exec 3<>"/dev/tcp/$1/11211"
printf 'stats\\r\\nquit\\r\\n' >&3
timeout 10 cat <&3 | tr -d '\\r'`;

// Opens n connections and holds them until stopped.
const HOLD_CONNECTIONS = `host=$1 n=$2
for i in $(seq 1 "$n"); do exec {fd}<>"/dev/tcp/$host/11211"; done
echo held
sleep infinity`;


describe('kind: Saturated and Evicting from the stats poll', function () {
  this.timeout(900_000);
  let cluster: Cluster;
  let ns: string;
  let client: string;
  /** The Memcached under test and its pod's IP. */
  let name: string;
  let host: string;

  /** Applies a Memcached the spec's load can saturate, waits for its pod and makes it the one under test. */
  const startMemcached = async (mcName: string): Promise<void> => {
    applyMemcached(ns, mcName, { size: 1, image: memcachedImage(), memoryLimitMB: 16, maxConnections: MAX_CONNECTIONS });
    const pod = await eventually(`a Ready pod of ${mcName}`, async () => {
      const pods = await cluster.pods(ns, mcName);
      if (pods.length === 1 && isPodReady(pods[0]) && pods[0].status?.podIP) return pods[0];
      throw new Error(`${pods.length} pods`);
    }, { timeoutMs: 180_000, intervalMs: 1000 });
    name = mcName;
    host = pod.status!.podIP!;
  };

  before(async () => {
    cluster = kindCluster();
    await deployOperator(cluster, { extraArgs: [`--usage-poll-interval=${POLL_MS / 1000}s`] });
    ns = restrictedNamespace('e2e-usage');
    client = await startClientPod(cluster, ns);
    await startMemcached('usage');
  });

  after(() => deleteNamespaces(ns));

  const memcached = async (mcName = name) =>
    (await cluster.custom.getNamespacedCustomObject({ group: 'cache.example.com', version: 'v1alpha1', namespace: ns, plural: 'memcacheds', name: mcName })) as {
      metadata: { resourceVersion: string };
      status?: { conditions?: Condition[] };
    };

  const conditionIs = (type: string, status: string, timeoutMs = 120_000): Promise<Condition> =>
    eventually(`${type}=${status}`, async () => {
      const c = findCondition((await memcached()).status?.conditions, type);
      if (c?.status === status) return c;
      throw new Error(`${type} is ${JSON.stringify(c)}`);
    }, { timeoutMs, intervalMs: 250 });

  const eventTime = (e: CoreV1Event): number => new Date(e.eventTime ?? e.lastTimestamp ?? e.firstTimestamp ?? 0).getTime();

  /** The first Event of this reason and type from `after` on (the operator's clock; the same machine's). */
  const eventWith = (reason: string, type: string, after: number): Promise<CoreV1Event> =>
    eventually(`a ${type} ${reason} Event`, async () =>
      (await eventsAbout(cluster, ns, 'Memcached', name)).find((e) => e.reason === reason && e.type === type && eventTime(e) >= after),
    { timeoutMs: 60_000, intervalMs: 500 });

  const stats = (): Map<string, string> => {
    const r = kRun(['exec', '-n', ns, client, '--', 'timeout', '20', 'bash', '-c', STATS, 'stats', host]);
    if (r.status !== 0) throw new Error(`stats failed (${r.status}): ${r.stderr}`);
    return new Map(r.stdout.split('\n').filter((l) => l.startsWith('STAT ')).map((l) => l.split(' ').slice(1, 3) as [string, string]));
  };

  it('starts with Saturated and Evicting False', async () => {
    const saturated = await conditionIs('Saturated', 'False');
    const evicting = await conditionIs('Evicting', 'False');
    expect(saturated.reason).to.equal('BelowLimits');
    expect(evicting.reason).to.equal('NoEvictions');
  });

  it('turns Evicting True with a Warning Event while sets overflow -m, and False again when they stop', async () => {
    const evictionsBefore = Number(stats().get('evictions'));
    const t0 = Date.now();
    // 40 MB of 100 kB items into -m 16.
    const fill = kRunAsync(['exec', '-n', ns, client, '--', 'bash', '-c', FILL_SCRIPT, 'fill', host, '400', '100000']);
    const evicting = await conditionIs('Evicting', 'True');
    const toTrue = (Date.now() - t0) / 1000;
    expect(evicting.reason).to.equal('ItemsEvicted');
    expect(evicting.message).to.match(/evict/);
    const warned = eventTime(await eventWith('ItemsEvicted', 'Warning', t0 - 1000));
    const filled = await fill;
    expect(filled.status, filled.stderr).to.equal(0);
    const fillEnd = Date.now();
    expect(Number(stats().get('evictions')), 'memcached itself counts evictions').to.be.greaterThan(evictionsBefore);
    const calm = await conditionIs('Evicting', 'False');
    expect(calm.reason).to.equal('NoEvictions');
    await eventWith('NoEvictions', 'Normal', warned);
    recordResult('usage.evicting', { fillToTrueSeconds: toTrue, fillEndToFalseSeconds: (Date.now() - fillEnd) / 1000, pollSeconds: POLL_MS / 1000 });
  });

  it('turns Saturated True with a Warning Event while connections near -c are held, and False again when they close', async () => {
    // Hold enough connections that, with the poll's own, memcached counts
    // just over the saturated share of -c, and below the point where it
    // starts refusing (it keeps a few descriptors in reserve).
    const base = Number(stats().get('curr_connections')); // includes this stats connection, as the poll's will
    const held = Math.ceil(SATURATED_SHARE * MAX_CONNECTIONS) + 2 - base;
    const t0 = Date.now();
    const load = execInBackground(ns, client, HOLD_CONNECTIONS, [host, String(held)]);
    let toTrue: number;
    let warned: number;
    let released = 0;
    try {
      await load.printed(/held/);
      const saturated = await conditionIs('Saturated', 'True');
      toTrue = (Date.now() - t0) / 1000;
      expect(saturated.reason).to.equal('ConnectionsNearLimit');
      expect(Number(stats().get('curr_connections')), 'memcached counts the held connections').to.be.at.least(SATURATED_SHARE * MAX_CONNECTIONS);
      warned = eventTime(await eventWith('ConnectionsNearLimit', 'Warning', t0 - 1000));
    } finally {
      released = Date.now();
      const r = await load.stop();
      expect(r.stdout).to.contain('held');
    }
    const calm = await conditionIs('Saturated', 'False');
    expect(calm.reason).to.equal('BelowLimits');
    await eventWith('BelowLimits', 'Normal', warned);
    recordResult('usage.saturated', { heldConnections: held, maxConnections: MAX_CONNECTIONS, holdToTrueSeconds: toTrue, releaseToFalseSeconds: (Date.now() - released) / 1000 });
  });

  it('turns Saturated True (ConnectionsRejected) while memcached refuses connections at -c, the poll\'s own included', async () => {
    // Past the limit memcached accepts and at once closes each new
    // connection with "ERROR Too many open connections": the poll cannot read
    // stats then, and that refusal is the saturation. A Memcached of its
    // own: the operator's recorder drops an Event identical to one it sent
    // in the last 10 minutes (the previous case's BelowLimits).
    await startMemcached('refusing');
    await conditionIs('Saturated', 'False');
    const t0 = Date.now();
    const load = execInBackground(ns, client, HOLD_CONNECTIONS, [host, String(MAX_CONNECTIONS + 10)]);
    let toTrue: number;
    let warned: number;
    let released = 0;
    try {
      await load.printed(/held/);
      const saturated = await conditionIs('Saturated', 'True');
      toTrue = (Date.now() - t0) / 1000;
      expect(saturated.reason).to.equal('ConnectionsRejected');
      expect(saturated.message).to.match(/refused connections/);
      warned = eventTime(await eventWith('ConnectionsRejected', 'Warning', t0 - 1000));
    } finally {
      released = Date.now();
      await load.stop();
    }
    expect(Number(stats().get('rejected_connections')), 'memcached itself counted the refusals').to.be.greaterThan(0);
    const calm = await conditionIs('Saturated', 'False');
    expect(calm.reason).to.equal('BelowLimits');
    await eventWith('BelowLimits', 'Normal', warned);
    recordResult('usage.rejected', { heldConnections: MAX_CONNECTIONS + 10, maxConnections: MAX_CONNECTIONS, holdToTrueSeconds: toTrue, releaseToFalseSeconds: (Date.now() - released) / 1000 });
  });

  it('writes nothing while nothing changes: no Memcached\'s resourceVersion moves across three polls', async () => {
    const names = ['usage', 'refusing'];
    const versions = async () => Object.fromEntries(await Promise.all(names.map(async (n) => [n, (await memcached(n)).metadata.resourceVersion] as const)));
    for (const n of names) {
      name = n;
      await conditionIs('Saturated', 'False');
      await conditionIs('Evicting', 'False');
    }
    const before = await versions();
    // resourceVersion only grows, so reading it every 250 ms catches any
    // write in the window; the window is the property itself (three poll
    // periods after the last transition), not a wait for something.
    const windowEnd = Date.now() + 3 * POLL_MS + 500;
    const seen = new Set<string>();
    while (Date.now() < windowEnd) {
      seen.add(JSON.stringify(await versions()));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect([...seen]).to.deep.equal([JSON.stringify(before)]);
    recordResult('usage.idleWrites', { memcacheds: names.length, windowSeconds: (3 * POLL_MS + 500) / 1000, writes: seen.size - 1 });
  });
});
