// Leaving Required anti-affinity for more replicas than nodes: 3 Required
// replicas on the 3 workers of the ha profile, then spec.size 5. Each old pod
// repels every new one from its node, and with no free node the StatefulSet
// would wait forever on new pods that stay Pending. The operator relaxes
// anti-affinity on the 3 running replicas first, one pod at a time, and
// scales to 5 once no Required pod is left.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { createNamespace, deleteNamespace, eventually, kubectl } from '../../support/cluster.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';
import { Cluster, condition, StatefulSetRecorder, describePods, errorLines, expectHealthy, isPodReady, since, useCluster } from './support.js';

const WORKERS = ['worker-0', 'worker-1', 'worker-2'];

describe('topology: spec.size beyond the node count, from Required anti-affinity', function () {
  let kc: k8s.KubeConfig;
  let cluster: Cluster;
  let op: OperatorProcess | undefined;
  let ns: string;
  let recorder: StatefulSetRecorder | undefined;

  before(async function () {
    kc = useCluster('ha');
    cluster = new Cluster(kc);
    await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'HighlyAvailable', infrastructureTopology: 'HighlyAvailable' });
    op = await startOperator();
    ns = await createNamespace(kc, 'topo-size');
    await cluster.createMemcached(ns, 'cache', {});
    await eventually('3 Ready replicas with Required anti-affinity', async () => {
      const s = await cluster.snapshot(ns, 'cache');
      expect(s).to.include({ replicas: 3, readyReplicas: 3, antiAffinity: 'Required' });
      return s;
    });
    recorder = new StatefulSetRecorder(kc, ns, 'cache');
    await recorder.start();
  });

  after(async function () {
    recorder?.stop();
    if (ns) await deleteNamespace(kc, ns);
    await op?.stop();
  });

  it('reaches 5 Ready replicas with Preferred anti-affinity, relaxing the 3 running ones first', async function () {
    const start = Date.now();
    kubectl(['patch', 'memcached', 'cache', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ spec: { size: 5 } })]);
    const s = await eventually(
      '5 Ready replicas with Preferred anti-affinity',
      async () => {
        const s = await cluster.snapshot(ns, 'cache');
        const pods = describePods(s.pods);
        expect(s, pods).to.include({ replicas: 5, readyReplicas: 5, antiAffinity: 'Preferred' });
        expect(s.pods.filter(isPodReady), pods).to.have.length(5);
        expect(s.statefulSet?.status?.updatedReplicas, 'pods of the latest template').to.equal(5);
        return s;
      },
      { timeoutMs: 120_000 },
    );
    console.log(`      (Required 3 -> Preferred 5: all Ready ${since(start)} ms after the patch)`);
    recorder!.check();

    // Spread over the workers only; the operator, not the StatefulSet, replaces servers.
    expect(new Set(s.pods.map((p) => p.spec?.nodeName))).to.deep.equal(new Set(WORKERS));
    expect(s.statefulSet?.spec?.updateStrategy).to.deep.equal({ type: 'OnDelete' });
    expect(s.pdb?.spec?.maxUnavailable).to.equal(1);

    // Staged: anti-affinity was relaxed at 3 replicas before any scale-up,
    // and never fewer than 2 Ready (one pod replaced at a time).
    const seen = recorder!.since(start);
    const firstFive = seen.findIndex((o) => o.replicas === 5);
    expect(firstFive, 'a StatefulSet version with 5 replicas').to.be.greaterThan(0);
    expect(seen.slice(0, firstFive).some((o) => o.replicas === 3 && o.antiAffinity === 'Preferred'), 'relaxed at 3 replicas first').to.equal(true);
    expect(seen.every((o) => o.antiAffinity !== 'Required' || o.replicas === 3), 'never Required with 5 replicas').to.equal(true);
    expect(Math.min(...seen.map((o) => o.readyReplicas)), 'fewest Ready replicas during the change').to.be.at.least(2);

    // The sizing's notice is back once the staging is over.
    const mc = await eventually('the NotEnoughNodes notice', async () => {
      const m = await cluster.memcached(ns, 'cache');
      expect(condition(m, 'HighAvailability')).to.include({ status: 'False', reason: 'NotEnoughNodes' });
      return m;
    });
    expect(mc.status?.topology).to.include({ profile: 'HighlyAvailable', schedulableNodes: 3 });
    await expectHealthy(op!);
    expect(errorLines(op!, ns)).to.deep.equal([]);
  });
});
