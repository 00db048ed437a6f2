// A live change of the Infrastructure "cluster" status, with the operator
// running: HighlyAvailable -> SingleReplica -> HighlyAvailable. The Memcached
// rescales each way within seconds; going back to HA the StatefulSet never has
// zero Ready replicas and its anti-affinity becomes Required only once the
// scaled-up replicas are Ready.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { createNamespace, deleteNamespace, eventually } from '../../support/cluster.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';
import { Cluster, StatefulSetRecorder, errorLines, expectHealthy, isPodReady, since, useCluster } from './support.js';

/** The target; asserted with a generous deadline, the measured time is printed. */
const TARGET_MS = 10_000;
const DEADLINE_MS = 30_000;

describe('topology: a live change of the Infrastructure status', function () {
  let kc: k8s.KubeConfig;
  let cluster: Cluster;
  let op: OperatorProcess | undefined;
  let ns: string;
  let recorder: StatefulSetRecorder | undefined;
  const pid = (): number | undefined => op?.child.pid;
  let firstPid: number | undefined;

  before(async function () {
    kc = useCluster('ha');
    cluster = new Cluster(kc);
    await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'HighlyAvailable', infrastructureTopology: 'HighlyAvailable' });
    op = await startOperator();
    firstPid = pid();
    ns = await createNamespace(kc, 'topo-live');
    await cluster.createMemcached(ns, 'cache', {});
    await eventually('3 Ready replicas with Required anti-affinity', async () => {
      const s = await cluster.snapshot(ns, 'cache');
      expect(s).to.include({ replicas: 3, readyReplicas: 3, antiAffinity: 'Required' });
      expect(s.pdb).to.not.equal(undefined);
      return s;
    });
    recorder = new StatefulSetRecorder(kc, ns, 'cache');
    await recorder.start();
  });

  after(async function () {
    recorder?.stop();
    await cluster?.patchInfrastructureStatus({ controlPlaneTopology: 'HighlyAvailable', infrastructureTopology: 'HighlyAvailable' });
    if (ns) await deleteNamespace(kc, ns);
    await op?.stop();
  });

  it('HighlyAvailable -> SingleReplica: scales down to 1 without anti-affinity or PDB, without a restart', async function () {
    const start = Date.now();
    await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'SingleReplica', infrastructureTopology: 'SingleReplica' });
    await eventually('StatefulSet replicas 1', async () => ((await cluster.statefulSet(ns, 'cache'))?.spec?.replicas === 1 ? true : undefined), {
      timeoutMs: DEADLINE_MS,
      intervalMs: 50,
    });
    const scaled = since(start);
    const s = await eventually(
      'SingleReplica fully applied',
      async () => {
        const s = await cluster.snapshot(ns, 'cache');
        expect(s).to.include({ replicas: 1, readyReplicas: 1, antiAffinity: 'None', zoneSpread: false });
        expect(s.pdb).to.equal(undefined);
        expect(s.mc?.status?.topology).to.include({ controlPlane: 'SingleReplica', infrastructure: 'SingleReplica', profile: 'SingleReplica' });
        return s;
      },
      { timeoutMs: DEADLINE_MS, intervalMs: 50 },
    );
    const done = since(start);
    console.log(`      (HA -> SingleReplica: StatefulSet scaled in ${scaled} ms, status and PDB settled in ${done} ms; target ${TARGET_MS} ms)`);
    expect(s.pods.filter(isPodReady)).to.have.length.at.least(1);
    expect(pid()).to.equal(firstPid);
    await expectHealthy(op!);
    const reasons = (await cluster.eventsFor(ns, 'cache')).map((e) => e.reason);
    expect(reasons).to.include.members(['TopologyChanged', 'Scaled']);
    expect(recorder!.since(start).every((o) => o.readyReplicas >= 1), 'never 0 Ready going down').to.equal(true);
  });

  it('SingleReplica -> HighlyAvailable: scales up first, never below one Ready pod, then requires anti-affinity', async function () {
    const start = Date.now();
    await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'HighlyAvailable', infrastructureTopology: 'HighlyAvailable' });
    await eventually('StatefulSet replicas 3', async () => ((await cluster.statefulSet(ns, 'cache'))?.spec?.replicas === 3 ? true : undefined), {
      timeoutMs: DEADLINE_MS,
      intervalMs: 50,
    });
    const scaled = since(start);
    const s = await eventually(
      'HighlyAvailable fully applied',
      async () => {
        const s = await cluster.snapshot(ns, 'cache');
        expect(s).to.include({ replicas: 3, readyReplicas: 3, antiAffinity: 'Required', zoneSpread: true });
        expect(s.statefulSet?.status?.replicas, 'no removed server left').to.equal(3);
        expect(s.pdb?.spec?.maxUnavailable).to.equal(1);
        expect(s.mc?.status?.topology).to.include({ controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable', profile: 'HighlyAvailable' });
        // The pod list can lag the StatefulSet's counts by a moment (a
        // replaced pod still listed): wait for the pods themselves too.
        const readyNodes = s.pods.filter(isPodReady).map((p) => p.spec?.nodeName);
        expect(readyNodes).to.have.length(3);
        expect(new Set(readyNodes).size).to.equal(3);
        return s;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const done = since(start);
    console.log(`      (SingleReplica -> HA: StatefulSet scaled in ${scaled} ms, Required anti-affinity with 3 Ready in ${done} ms; target ${TARGET_MS} ms)`);
    const nodes = s.pods.filter(isPodReady).map((p) => p.spec?.nodeName);
    expect(new Set(nodes)).to.deep.equal(new Set(['worker-0', 'worker-1', 'worker-2']));

    recorder!.check();
    const seen = recorder!.since(start);
    const trace = seen.map((o) => `${o.replicas}/${o.readyReplicas}/${o.antiAffinity}`).join(' ');
    expect(seen.every((o) => o.readyReplicas >= 1), `0 Ready pods at some point: ${trace}`).to.equal(true);
    const firstThree = seen.findIndex((o) => o.replicas === 3);
    const firstRequired = seen.findIndex((o) => o.antiAffinity === 'Required');
    expect(firstThree, trace).to.be.at.least(0);
    expect(seen[firstThree].antiAffinity, `scale-up must come with Preferred anti-affinity: ${trace}`).to.equal('Preferred');
    expect(firstRequired, trace).to.be.greaterThan(firstThree);
    // Tightened only after all 3 were Ready with the Preferred placement.
    const readyBefore = seen.slice(firstThree, firstRequired).some((o) => o.replicas === 3 && o.readyReplicas >= 3);
    expect(readyBefore, `Required before 3 Ready: ${trace}`).to.equal(true);
    expect(pid()).to.equal(firstPid);
    await expectHealthy(op!);
    expect(errorLines(op!, ns)).to.deep.equal([]);
  });

  it('an operator restart changes nothing: the topology is known before anything is sized', async function () {
    const before = await cluster.statefulSet(ns, 'cache');
    const start = Date.now();
    await op!.stop();
    op = await startOperator();
    // Whatever the restarted operator would change, it changes on its first successful reconcile.
    await eventually('a successful reconcile by the restarted operator', async () => {
      const { body } = await op!.scrapeMetrics();
      const line = body.split('\n').find((l) => l.startsWith('controller_runtime_reconcile_total{') && l.includes('result="success"'));
      return line !== undefined && Number(line.split(' ').pop()) >= 1 ? true : undefined;
    });
    recorder!.check();
    const changed = recorder!.since(start).filter((o) => o.replicas !== 3 || o.antiAffinity !== 'Required');
    expect(changed, 'StatefulSet versions other than 3 replicas Required after the restart').to.deep.equal([]);
    const after = await cluster.statefulSet(ns, 'cache');
    expect(after?.metadata?.generation, 'StatefulSet generation').to.equal(before?.metadata?.generation);
    await expectHealthy(op);
  });
});
