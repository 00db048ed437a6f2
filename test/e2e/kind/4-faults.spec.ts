// Faults on the data plane, with real memcached pods on the kind bed's three
// workers: a killed pod is replaced (Available goes False, then True, and the
// StatefulSet's Event names the replacement, under the same name); the PodDisruptionBudget refuses
// a second eviction while one pod is down; and `kubectl drain` of a worker
// goes through the PDB while a 200 ms sampler sees at least one Ready pod
// throughout.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { findCondition } from '@memcached-operator/runtime';
import { eventually } from '../../support/cluster.js';
import { Memcacheds } from '../../support/memcached.js';
import { describePods, isPodReady, type Cluster } from '../../integration/topology/support.js';
import { deleteNamespaces, kRun, kRunAsync, restrictedNamespace } from '../support.js';
import { ReadySampler, applyMemcached, deployOperator, eventsAbout, kindCluster, recordResult } from './support.js';

interface AvailableSeen {
  at: number;
  status: string | undefined;
}

/** Records the Available condition of every version of one Memcached, from a watch. */
async function watchAvailable(kc: k8s.KubeConfig, ns: string, name: string, seen: AvailableSeen[]): Promise<AbortController> {
  return new k8s.Watch(kc).watch(
    `/apis/cache.example.com/v1alpha1/namespaces/${ns}/memcacheds`,
    { fieldSelector: `metadata.name=${name}` },
    (_type: string, mc: { status?: { conditions?: Array<{ type: string; status: string }> } }) => {
      seen.push({ at: Date.now(), status: findCondition(mc.status?.conditions, 'Available')?.status });
    },
    () => undefined,
  );
}

/** When an Event last happened (ms): a repeat's series, else its last timestamp or event time. */
function eventTime(e: k8s.CoreV1Event): number {
  const at = e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime;
  return at ? new Date(at).getTime() : 0;
}

async function threeReady(cluster: Cluster, ns: string, name: string): Promise<k8s.V1Pod[]> {
  return eventually(
    `3 Ready pods of ${ns}/${name} on 3 nodes`,
    async () => {
      const pods = await cluster.pods(ns, name);
      if (pods.length === 3 && pods.every(isPodReady) && new Set(pods.map((p) => p.spec?.nodeName)).size === 3) return pods;
      throw new Error(describePods(pods));
    },
    { timeoutMs: 240_000, intervalMs: 500 },
  );
}

describe('kind: faults on the data plane', function () {
  this.timeout(900_000);
  let cluster: Cluster;
  let ns = '';
  const name = 'cache';
  let drained = '';

  before(async () => {
    cluster = kindCluster();
    await deployOperator(cluster);
    ns = restrictedNamespace('e2e-faults');
    applyMemcached(ns, name, { memoryLimitMB: 32 });
    await new Memcacheds(cluster.kc, ns).waitAvailable(name, 240_000);
    await threeReady(cluster, ns, name);
  });

  after(() => {
    if (drained) kRun(['uncordon', drained]);
    if (ns) deleteNamespaces(ns);
  });

  it('a killed memcached pod is replaced; Available goes False then True; an Event names the replacement', async () => {
    const before = await threeReady(cluster, ns, name);
    const victim = before[0].metadata!.name!;
    const seen: AvailableSeen[] = [];
    const watch = await watchAvailable(cluster.kc, ns, name, seen);
    const start = Date.now();
    try {
      const r = kRun(['delete', 'pod', victim, '-n', ns, '--grace-period=0', '--force']);
      expect(r.status, r.stderr).to.equal(0);
      const after = await threeReady(cluster, ns, name);
      // A StatefulSet's server keeps its name: the replacement is the new pod uid under the victim's name.
      const replacement = after.filter((p) => !before.some((b) => b.metadata!.uid === p.metadata!.uid));
      expect(replacement.map((p) => p.metadata!.name), describePods(after)).to.deep.equal([victim]);
      await eventually('Available=True again after the replacement', () => (seen.some((s) => s.at > start && s.status === 'False') && seen.at(-1)?.status === 'True' ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      const falseAt = seen.find((s) => s.at > start && s.status === 'False')!.at;
      const trueAt = seen.find((s) => s.at > falseAt && s.status === 'True')!.at;
      expect(trueAt).to.be.greaterThan(falseAt);
      const sts = after[0].metadata!.ownerReferences!.find((o) => o.kind === 'StatefulSet')!.name;
      // The StatefulSet controller's Event for the pod it created again, after the kill (its first creation is older).
      const events = (await eventsAbout(cluster, ns, 'StatefulSet', sts)).filter((e) => eventTime(e) >= start - 1000);
      const named = events.filter((e) => (e.message ?? '').includes(`Pod ${victim} `));
      expect(named.map((e) => `${e.reason}: ${e.message}`), JSON.stringify(events.map((e) => `${e.reason}: ${e.message}`))).to.not.deep.equal([]);
      recordResult('memcachedPodKill', { unavailableAfterMs: falseAt - start, availableAgainAfterMs: trueAt - start });
    } finally {
      watch.abort();
    }
  });

  it('the PodDisruptionBudget admits one eviction and refuses a second while that pod is down', async () => {
    const pods = await threeReady(cluster, ns, name);
    const pdb = await cluster.pdb(ns, name);
    expect(pdb?.spec?.maxUnavailable).to.equal(1);
    const evict = (pod: string) =>
      cluster.core.createNamespacedPodEviction({ name: pod, namespace: ns, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: ns } } });
    // The first is admitted as soon as the disruption controller has counted the three Ready pods.
    await eventually('the first eviction to be admitted', () => evict(pods[0].metadata!.name!).then(() => true), { timeoutMs: 60_000, intervalMs: 500 });
    let refused: unknown;
    try {
      await evict(pods[1].metadata!.name!);
    } catch (err) {
      refused = err;
    }
    expect(refused, 'the second eviction was admitted').to.be.instanceOf(k8s.ApiException);
    expect((refused as k8s.ApiException<unknown>).code).to.equal(429);
    expect(String((refused as k8s.ApiException<unknown>).body)).to.match(/disruption budget/);
    await threeReady(cluster, ns, name);
  });

  it('kubectl drain of a worker goes through the PDB with at least one pod Ready at every 200 ms sample', async () => {
    const pods = await threeReady(cluster, ns, name);
    drained = pods[0].spec!.nodeName!;
    const sampler = new ReadySampler(cluster, ns, name);
    sampler.start();
    const start = Date.now();
    const r = await kRunAsync(['drain', drained, '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=300s']);
    const drainMs = Date.now() - start;
    // Let the cache settle on the two nodes left, still sampling.
    await new Memcacheds(cluster.kc, ns).waitAvailable(name, 240_000);
    const samples = await sampler.stop();
    sampler.check();
    expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect(r.stdout + r.stderr).to.match(new RegExp(`pod/${pods[0].metadata!.name!} evicted`));
    const left = await cluster.pods(ns, name);
    expect(left.filter((p) => p.spec?.nodeName === drained), describePods(left)).to.deep.equal([]);
    recordResult('drain', {
      drainMs,
      samples: samples.length,
      minReady: sampler.minReady(),
      maxSampleGapMs: sampler.maxGapMs(),
      pdbMadeDrainWait: /disruption budget/.test(r.stderr + r.stdout),
    });
    // The sampler kept its cadence (the drain runs beside it, not blocking it).
    expect(sampler.maxGapMs(), 'largest gap between samples').to.be.below(1000);
    expect(samples.length).to.be.greaterThan(drainMs / 400);
    expect(sampler.minReady(), JSON.stringify(samples.filter((s) => s.ready < 1))).to.be.at.least(1);

    const back = kRun(['uncordon', drained]);
    expect(back.status, back.stderr).to.equal(0);
    drained = '';
    await threeReady(cluster, ns, name);
  });
});
