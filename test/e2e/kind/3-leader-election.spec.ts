// The operator as users run it for availability: two manager replicas from
// make deploy with --leader-elect. Deleting the leader pod (kubectl delete
// pod, as a user or a node drain does) hands over to the other replica,
// which reconciles a spec change made right after the delete within the
// lease bound; the time is printed and written to test/e2e/results/kind.json.
// Then leader-for-life with real pods: the deleted leader's lock ConfigMap is
// garbage-collected with its pod, and another replica takes the lock and
// reconciles.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { eventually } from '../../support/cluster.js';
import { Memcacheds } from '../../support/memcached.js';
import type { Cluster } from '../../integration/topology/support.js';
import { OPERATOR_NAMESPACE, deleteNamespaces, k, restrictedNamespace, run } from '../support.js';
import {
  LEASE_DURATION_MS,
  LOCK,
  RETRY_PERIOD_MS,
  applyMemcached,
  deployOperator,
  eventsAbout,
  kindCluster,
  leaseHolderPod,
  managerPods,
  recordResult,
} from './support.js';

/** A leader deleted with SIGTERM releases the lease; even a lost release is taken over within this. */
const LEASE_BOUND_MS = LEASE_DURATION_MS + 1.2 * RETRY_PERIOD_MS + 3_000;

/** reportingInstance (`<pod>_<uuid>`) of the operator's Event with this message on the Memcached. */
async function scaledBy(cluster: Cluster, ns: string, name: string, message: string): Promise<string | undefined> {
  return eventually(
    `a Scaled event "${message}"`,
    async () => {
      const events = await eventsAbout(cluster, ns, 'Memcached', name);
      const e = events.find((x) => x.reason === 'Scaled' && (x.message ?? '').startsWith(message));
      if (e) return e.reportingInstance;
      throw new Error(JSON.stringify(events.map((x) => `${x.reason}: ${x.message}`)));
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
}

/** Two manager replicas in lease mode, once one of them holds the Lease. */
async function twoReplicasInLeaseMode(cluster: Cluster): Promise<{ pods: k8s.V1Pod[]; leader: string; standby: string }> {
  const pods = await deployOperator(cluster, { replicas: 2 });
  const names = pods.map((p) => p.metadata!.name!);
  const leader = await eventually(
    'one of the two manager pods to hold the lease',
    async () => {
      const holder = await leaseHolderPod(cluster);
      if (holder && names.includes(holder)) return holder;
      throw new Error(`lease holder ${holder}, pods ${names.join(', ')}`);
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  return { pods, leader, standby: names.find((n) => n !== leader)! };
}

async function replicasOf(cluster: Cluster, ns: string, name: string): Promise<number | undefined> {
  return (await cluster.statefulSet(ns, name))?.spec?.replicas;
}

describe('kind: leader election with two manager replicas', function () {
  this.timeout(900_000);
  let cluster: Cluster;
  let ns = '';
  const name = 'cache';

  before(() => {
    cluster = kindCluster();
    ns = restrictedNamespace('e2e-leader');
  });

  after(() => {
    if (ns) deleteNamespaces(ns);
  });

  it('lease: deleting the leader pod, the other replica reconciles a spec change within the lease bound', async () => {
    const { leader, standby } = await twoReplicasInLeaseMode(cluster);
    applyMemcached(ns, name, { size: 1, memoryLimitMB: 32 });
    await new Memcacheds(cluster.kc, ns).waitAvailable(name, 180_000);

    const start = Date.now();
    k(['delete', 'pod', leader, '-n', OPERATOR_NAMESPACE, '--wait=false']);
    // The change is made once the old leader has let go (on SIGTERM it
    // finishes in-flight work, then releases), so only a new leader can make it.
    const releasedMs = await eventually(
      'the old leader to let go of the lease',
      async () => ((await leaseHolderPod(cluster)) !== leader ? Date.now() - start : undefined),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await new Memcacheds(cluster.kc, ns).patchSpec(name, { size: 2 });
    const reconciledMs = await eventually(
      'the spec change to reach the Deployment',
      async () => ((await replicasOf(cluster, ns, name)) === 2 ? Date.now() - start : undefined),
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    expect(await leaseHolderPod(cluster), 'the lease moved to the standby').to.equal(standby);
    expect(await scaledBy(cluster, ns, name, 'Scaled from 1 to 2')).to.match(new RegExp(`^${standby}_`));
    recordResult('leaseFailoverPodDelete', { releasedMs, reconciledMs, boundMs: LEASE_BOUND_MS, oldLeader: leader, newLeader: standby });
    expect(reconciledMs).to.be.at.most(LEASE_BOUND_MS);
    await new Memcacheds(cluster.kc, ns).waitAvailable(name, 180_000);
  });

  it('lease: SIGKILL of the leader\'s process (no release), the standby reconciles after the lease expires, within the bound', async () => {
    const { pods, leader, standby } = await twoReplicasInLeaseMode(cluster);
    const pod = pods.find((p) => p.metadata!.name === leader)!;
    const containerId = pod.status!.containerStatuses!.find((c) => c.name === 'manager')!.containerID!.replace(/^containerd:\/\//, '');
    await new Memcacheds(cluster.kc, ns).waitAvailable(name, 180_000);

    // The kind node is a container of the bed's docker: its containerd kills the process outright.
    const start = Date.now();
    const killed = run('docker', ['exec', pod.spec!.nodeName!, 'ctr', '-n', 'k8s.io', 'tasks', 'kill', '-s', 'SIGKILL', containerId]);
    expect(killed.status, killed.stderr).to.equal(0);
    await new Memcacheds(cluster.kc, ns).patchSpec(name, { size: 3 });
    const reconciledMs = await eventually(
      'the spec change to reach the Deployment',
      async () => ((await replicasOf(cluster, ns, name)) === 3 ? Date.now() - start : undefined),
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    expect(await scaledBy(cluster, ns, name, 'Scaled from 2 to 3')).to.match(new RegExp(`^${standby}_`));
    recordResult('leaseFailoverSigkill', { reconciledMs, boundMs: LEASE_BOUND_MS, oldLeader: leader, newLeader: standby });
    // Not before the lease could have expired (the last renewal was at most a jittered retry period before the kill) ...
    expect(reconciledMs).to.be.at.least(LEASE_DURATION_MS - 1.2 * RETRY_PERIOD_MS - 500);
    // ... and within the bound.
    expect(reconciledMs).to.be.at.most(LEASE_BOUND_MS);
    await new Memcacheds(cluster.kc, ns).waitAvailable(name, 180_000);
  });

  it('leader-for-life: the deleted leader\'s lock ConfigMap is garbage-collected and another replica leads', async () => {
    const pods = await deployOperator(cluster, { replicas: 2, extraArgs: ['--leader-election-mode=leader-for-life'] });
    const names = pods.map((p) => p.metadata!.name!);
    const lock = async (): Promise<k8s.V1ConfigMap | undefined> =>
      cluster.core.readNamespacedConfigMap({ namespace: OPERATOR_NAMESPACE, name: LOCK }).catch(() => undefined);
    const first = await eventually(
      'a lock ConfigMap owned by one of the two pods',
      async () => {
        const cm = await lock();
        const owner = cm?.metadata?.ownerReferences?.[0];
        if (owner?.kind === 'Pod' && names.includes(owner.name)) return { uid: cm!.metadata!.uid!, owner: owner.name };
        throw new Error(`lock: ${JSON.stringify(cm?.metadata?.ownerReferences)}; pods ${names.join(', ')}`);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(await lock().then((cm) => cm?.metadata?.ownerReferences)).to.have.length(1);
    const mcs = new Memcacheds(cluster.kc, ns);
    await mcs.waitAvailable(name, 180_000);

    const start = Date.now();
    k(['delete', 'pod', first.owner, '-n', OPERATOR_NAMESPACE, '--wait=false']);
    const collectedMs = await eventually(
      `the lock ConfigMap ${first.uid} to be garbage-collected`,
      async () => ((await lock())?.metadata?.uid !== first.uid ? Date.now() - start : undefined),
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    // The old leader's pod is gone (that is what let the collector delete the
    // lock), so whoever reconciles this change is a new leader.
    await mcs.patchSpec(name, { size: 1 });
    const next = await eventually(
      'another manager pod to own a new lock',
      async () => {
        const cm = await lock();
        const owner = cm?.metadata?.ownerReferences?.[0]?.name;
        const live = (await managerPods(cluster)).map((p) => p.metadata!.name!);
        if (owner && owner !== first.owner && live.includes(owner)) return { owner, ms: Date.now() - start };
        throw new Error(`lock owner ${owner}; live pods ${live.join(', ')}`);
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    const reconciledMs = await eventually(
      'the new leader to reconcile the spec change',
      async () => ((await replicasOf(cluster, ns, name)) === 1 ? Date.now() - start : undefined),
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    expect(await scaledBy(cluster, ns, name, 'Scaled from 3 to 1')).to.match(new RegExp(`^${next.owner}_`));
    recordResult('leaderForLifeFailoverPodDelete', {
      lockCollectedMs: collectedMs,
      newLockMs: next.ms,
      reconciledMs,
      oldLeader: first.owner,
      newLeader: next.owner,
      newLeaderWas: names.includes(next.owner) ? 'the standby' : 'the replacement pod',
    });
  });
});
