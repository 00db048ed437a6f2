// Topology on real nodes. The kind bed has one control plane (tainted) and
// three workers: counted from the nodes, that is HighlyAvailable, so a
// Memcached gets three replicas with Required anti-affinity on three distinct
// workers. Then OpenShift's real Infrastructure CRD (the one the kwok suites
// use, from the tools cache) is applied with SingleReplica: one replica.
// Flipped to HighlyAvailable: three pods on three distinct nodes, and the
// Ready count never drops to zero on the way (watched, and sampled every
// 200 ms). The first server is the same pod throughout, its cache kept: the
// Infrastructure API appearing (the platform now reads as OpenShift, which
// assigns the pods' uid) replaces no running server.
import { expect } from 'chai';
import path from 'node:path';
import { eventually, toolsBin } from '../../support/cluster.js';
import { Memcacheds } from '../../support/memcached.js';
import { StatefulSetRecorder, describePods, isPodReady, type Cluster } from '../../integration/topology/support.js';
import { deleteNamespaces, k, kRun, restrictedNamespace } from '../support.js';
import { ReadySampler, applyMemcached, deployOperator, kindCluster, recordResult } from './support.js';

const INFRA_CRD = 'infrastructures.config.openshift.io';

/** The status as the installer sets it (the same fields as test/cluster/cluster.sh). */
function infrastructureStatus(controlPlaneTopology: string, infrastructureTopology: string): Record<string, unknown> {
  return {
    controlPlaneTopology,
    infrastructureTopology,
    cpuPartitioning: 'None',
    infrastructureName: 'kind',
    platform: 'None',
    platformStatus: { type: 'None' },
    apiServerURL: 'https://api.kind.local:6443',
    apiServerInternalURI: 'https://api-int.kind.local:6443',
    etcdDiscoveryDomain: '',
  };
}

describe('kind: topology on real nodes', function () {
  this.timeout(900_000);
  let cluster: Cluster;
  let ns = '';
  const name = 'cache';
  let workers: string[] = [];
  /** The uid of the pod serving as the first server (`cache-0`), as the first placement made it. */
  let firstServer = '';
  const expectFirstServerKept = async () => {
    const pod = await cluster.core.readNamespacedPod({ namespace: ns, name: `${name}-0` });
    expect(pod.metadata?.uid, 'the first server is the pod the first placement made: its cache kept').to.equal(firstServer);
  };

  /** The Memcached's pods once `replicas` are Ready, not terminating, on distinct workers, with the given anti-affinity. */
  async function settled(replicas: number, antiAffinity: string, timeoutMs = 240_000) {
    return eventually(
      `${replicas} Ready pod(s) on distinct workers with ${antiAffinity} anti-affinity`,
      async () => {
        const s = await cluster.snapshot(ns, name);
        const nodes = new Set(s.pods.map((p) => p.spec?.nodeName));
        const ok =
          s.replicas === replicas &&
          s.antiAffinity === antiAffinity &&
          s.pods.length === replicas &&
          s.pods.every(isPodReady) &&
          nodes.size === replicas &&
          [...nodes].every((n) => workers.includes(n!));
        if (ok) return s;
        throw new Error(`replicas ${s.replicas}, ${s.antiAffinity}: ${describePods(s.pods)}`);
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  before(async () => {
    cluster = kindCluster();
    const nodes = (await cluster.core.listNode()).items;
    workers = nodes.filter((n) => !(n.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule')).map((n) => n.metadata!.name!);
    expect(workers, 'the kind bed has three schedulable workers').to.have.length(3);
    expect(nodes).to.have.length(4);
    expect(kRun(['get', 'crd', INFRA_CRD]).status, 'no Infrastructure API before this spec').to.not.equal(0);
    await deployOperator(cluster);
    ns = restrictedNamespace('e2e-topology');
  });

  after(() => {
    if (ns) deleteNamespaces(ns);
    // Leave kind as it was: no Infrastructure API.
    kRun(['delete', 'crd', INFRA_CRD, '--ignore-not-found', '--wait=true']);
  });

  it('three workers, no Infrastructure API: HighlyAvailable from the nodes, Required anti-affinity on three distinct nodes', async () => {
    applyMemcached(ns, name, { memoryLimitMB: 32 });
    const s = await settled(3, 'Required');
    expect(s.pdb?.spec?.maxUnavailable).to.equal(1);
    const mc = await new Memcacheds(cluster.kc, ns).waitAvailable(name, 120_000);
    expect(mc.status?.topology).to.include({ source: 'Nodes', infrastructure: 'HighlyAvailable', schedulableNodes: 3 });
    firstServer = s.pods.find((p) => p.metadata?.name === `${name}-0`)?.metadata?.uid ?? '';
    expect(firstServer, `${name}-0 runs`).to.not.equal('');
  });

  it('OpenShift\'s Infrastructure CRD with SingleReplica: one replica', async () => {
    const crd = path.join(toolsBin(), '..', 'manifests', `${INFRA_CRD}.crd.yaml`);
    k(['apply', '--server-side', '-f', crd]);
    // Not kubectl wait: it fails at once on a CRD that has no conditions yet.
    await eventually(
      `${INFRA_CRD} Established`,
      () => (k(['get', 'crd', INFRA_CRD, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']) === 'True' ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const annotations = JSON.parse(k(['get', 'crd', INFRA_CRD, '-o', 'jsonpath={.metadata.annotations}'])) as Record<string, string>;
    expect(annotations['api.openshift.io/merged-by-featuregates'], 'OpenShift\'s own CRD').to.equal('true');
    k(['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'config.openshift.io/v1', kind: 'Infrastructure', metadata: { name: 'cluster' }, spec: { platformSpec: { type: 'None' } } }));
    const start = Date.now();
    await cluster.patchInfrastructureStatus(infrastructureStatus('SingleReplica', 'SingleReplica'));
    // The operator looks for an absent Infrastructure API every 30 s.
    await settled(1, 'None', 180_000);
    const mc = await new Memcacheds(cluster.kc, ns).waitAvailable(name, 120_000);
    expect(mc.status?.topology).to.include({ source: 'Infrastructure', controlPlane: 'SingleReplica', infrastructure: 'SingleReplica' });
    await expectFirstServerKept();
    recordResult('topologySingleReplica', { settledMs: Date.now() - start });
  });

  it('flipped to HighlyAvailable: three pods on three distinct nodes, Ready never 0', async () => {
    const recorder = new StatefulSetRecorder(cluster.kc, ns, name);
    await recorder.start();
    const sampler = new ReadySampler(cluster, ns, name);
    sampler.start();
    const start = Date.now();
    try {
      await cluster.patchInfrastructureStatus(infrastructureStatus('HighlyAvailable', 'HighlyAvailable'));
      await settled(3, 'Required');
      await new Memcacheds(cluster.kc, ns).waitAvailable(name, 120_000);
    } finally {
      recorder.stop();
      await sampler.stop();
    }
    recorder.check();
    sampler.check();
    const seen = recorder.since(start);
    expect(seen.length, 'the Deployment changed').to.be.greaterThan(0);
    expect(seen.map((o) => o.readyReplicas), 'Deployment readyReplicas').to.not.include(0);
    expect(sampler.minReady(), 'Ready pods at a 200 ms sample').to.be.at.least(1);
    expect(sampler.maxGapMs(), 'largest gap between samples').to.be.below(1000);
    const mc = await new Memcacheds(cluster.kc, ns).get(name);
    expect(mc?.status?.topology).to.include({ source: 'Infrastructure', infrastructure: 'HighlyAvailable' });
    await expectFirstServerKept();
    recordResult('topologyToHighlyAvailable', { settledMs: Date.now() - start, samples: sampler.samples.length, minReady: sampler.minReady() });
  });
});
