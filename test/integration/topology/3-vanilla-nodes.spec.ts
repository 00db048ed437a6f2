// Plain Kubernetes (no Infrastructure API): the schedulable node count is the
// fallback. Removing nodes down to one moves a Memcached to SingleReplica
// (1 replica, no anti-affinity, no PDB); adding nodes back moves it to HA.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { createNamespace, deleteNamespace, eventually, kubectl } from '../../support/cluster.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';
import { Cluster, condition, describePods, errorLines, expectHealthy, fakeNodeManifest, isPodReady, printerColumn, since, useCluster } from './support.js';

const WORKERS = ['worker-0', 'worker-1', 'worker-2'];
const REMOVED = ['worker-1', 'worker-2'];

function addWorkers(names: string[]): void {
  kubectl(['apply', '--server-side', '-f', '-'], names.map((n) => fakeNodeManifest(n, { 'node-role.kubernetes.io/worker': '' })).join('\n'));
}

describe('topology: vanilla Kubernetes falls back to counting schedulable nodes', function () {
  let kc: k8s.KubeConfig;
  let cluster: Cluster;
  let op: OperatorProcess | undefined;
  let ns: string;

  before(async function () {
    kc = useCluster('vanilla');
    cluster = new Cluster(kc);
    expect(await cluster.nodeNames()).to.deep.equal(WORKERS);
    op = await startOperator();
    ns = await createNamespace(kc, 'topo-nodes');
    await cluster.createMemcached(ns, 'cache', {});
    await eventually('3 Ready replicas with Required anti-affinity', async () => {
      const s = await cluster.snapshot(ns, 'cache');
      expect(s).to.include({ replicas: 3, readyReplicas: 3, antiAffinity: 'Required' });
      expect(s.mc?.status?.topology).to.include({ source: 'Nodes', infrastructure: 'HighlyAvailable', schedulableNodes: 3 });
      return s;
    });
  });

  after(async function () {
    // Leave vanilla as cluster.sh made it, for suites that reuse it.
    addWorkers(REMOVED);
    if (ns) await deleteNamespace(kc, ns);
    await op?.stop();
  });

  it('goes to SingleReplica (1 replica, no PDB) when nodes are deleted down to one', async function () {
    const onRemoved = (await cluster.pods(ns, 'cache')).filter((p) => REMOVED.includes(p.spec?.nodeName ?? ''));
    expect(onRemoved, 'pods on the nodes to remove').to.have.length(2);
    const start = Date.now();
    kubectl(['delete', 'node', ...REMOVED, '--wait=false']);
    // Pods bound to deleted nodes stay until the pod garbage collector's 40 s
    // quarantine ends; delete them as it would. The old ReplicaSet's one
    // surviving pod is then the one on worker-0, with Required anti-affinity:
    // the case where a surge rollout to the new template deadlocked (the new
    // pod Pending beside it, the old one never stopped).
    kubectl(['delete', 'pod', '-n', ns, ...onRemoved.map((p) => p.metadata!.name!), '--grace-period=0', '--force', '--wait=false']);
    const s = await eventually(
      'the Memcached to fall back to SingleReplica',
      async () => {
        const s = await cluster.snapshot(ns, 'cache');
        expect(s.replicas, 'replicas').to.equal(1);
        expect(s.antiAffinity).to.equal('None');
        expect(s.zoneSpread).to.equal(false);
        expect(s.pdb, 'PodDisruptionBudget').to.equal(undefined);
        expect(s.mc?.status?.topology).to.deep.equal({
          controlPlane: 'SingleReplica',
          infrastructure: 'SingleReplica',
          source: 'Nodes',
          schedulableNodes: 1,
          profile: 'SingleReplica',
        });
        return s;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    console.log(`      (vanilla: SingleReplica ${since(start)} ms after deleting nodes)`);
    expect(condition(s.mc, 'TopologyDetected')).to.equal(undefined);
    expect(printerColumn(ns, 'cache', 'Topology')).to.equal('SingleReplica');
    const events = await cluster.eventsFor(ns, 'cache');
    expect(events.map((e) => e.reason)).to.include('TopologyChanged');

    // The one replica ends Ready on the remaining node. Server 0 may have
    // run on a removed node (the StatefulSet recreates it), so look again on
    // every poll: a replacement pod may still have been bound to a removed
    // node, and pods on their way out do not count.
    await eventually('one Ready pod on worker-0', async () => {
      const pods = await cluster.pods(ns, 'cache');
      for (const p of pods) {
        if (REMOVED.includes(p.spec?.nodeName ?? '') && !p.metadata?.deletionTimestamp) {
          kubectl(['delete', 'pod', '-n', ns, p.metadata!.name!, '--grace-period=0', '--force', '--wait=false']);
        }
      }
      const live = pods.filter((p) => !p.metadata?.deletionTimestamp && !REMOVED.includes(p.spec?.nodeName ?? ''));
      expect(live.map((p) => [p.spec?.nodeName, isPodReady(p)]), describePods(pods)).to.deep.equal([['worker-0', true]]);
      return live;
    });
    await expectHealthy(op!);
  });

  it('goes back to HighlyAvailable (3 replicas on 3 nodes, Required, PDB) when nodes are added', async function () {
    const start = Date.now();
    addWorkers(REMOVED);
    await eventually(
      'the Memcached to scale up to 3',
      async () => {
        const s = await cluster.snapshot(ns, 'cache');
        expect(s.replicas).to.equal(3);
        return s;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    console.log(`      (vanilla: scaled to 3 ${since(start)} ms after adding nodes)`);
    await eventually(
      'HA on 3 distinct nodes',
      async () => {
        const s = await cluster.snapshot(ns, 'cache');
        expect(s).to.include({ replicas: 3, readyReplicas: 3, antiAffinity: 'Required', zoneSpread: false });
        expect(s.statefulSet?.status?.replicas).to.equal(3);
        expect(s.pdb?.spec?.maxUnavailable).to.equal(1);
        const nodes = s.pods.filter(isPodReady).map((p) => p.spec?.nodeName);
        expect(nodes).to.have.length(3);
        expect(new Set(nodes)).to.deep.equal(new Set(WORKERS));
        expect(s.mc?.status?.topology).to.deep.equal({
          controlPlane: 'HighlyAvailable',
          infrastructure: 'HighlyAvailable',
          source: 'Nodes',
          schedulableNodes: 3,
          profile: 'HighlyAvailable',
        });
        // In the same wait: the staged ScalingUp notice goes with the status
        // write that follows the StatefulSet's, and a snapshot can land between.
        expect(condition(s.mc, 'HighAvailability')).to.equal(undefined);
        return s;
      },
      { timeoutMs: 60_000 },
    );
    expect(printerColumn(ns, 'cache', 'Topology')).to.equal('HighlyAvailable');
    await expectHealthy(op!);
    expect(errorLines(op!, ns)).to.deep.equal([]);
  });
});
