// On every local cluster profile, a Memcached without `size` is laid out the
// way docs/topology.md says: replicas, anti-affinity, zone spread, PDB, pods
// Ready on distinct eligible nodes, status.topology and the Topology column.
// The expectations are written out here from the documented rules, not
// computed with placementFor: the point is to check the whole system.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { createNamespace, deleteNamespace, eventually, type Profile } from '../../support/cluster.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';
import {
  ARBITER_LABEL,
  Cluster,
  condition,
  errorLines,
  expectHealthy,
  isPodReady,
  printerColumn,
  useCluster,
  type AntiAffinityKind,
  type Snapshot,
} from './support.js';

interface Expected {
  profile: Profile;
  /** status.topology, as docs/topology.md's table gives it for this cluster. */
  topology: { controlPlane: string; infrastructure: string; source: string; schedulableNodes: number; profile: string };
  replicas: number;
  antiAffinity: AntiAffinityKind;
  zoneSpread: boolean;
  pdb: boolean;
  /** Nodes a pod may run on. */
  eligible: string[];
  /** Nodes no pod may ever run on (tainted control planes, the arbiter). */
  never: string[];
}

// From docs/topology.md's rules and cluster.sh's node sets.
const EXPECTED: Expected[] = [
  {
    profile: 'sno',
    topology: { controlPlane: 'SingleReplica', infrastructure: 'SingleReplica', source: 'Infrastructure', schedulableNodes: 1, profile: 'SingleReplica' },
    replicas: 1,
    antiAffinity: 'None',
    zoneSpread: false,
    pdb: false,
    eligible: ['sno-0'],
    never: [],
  },
  {
    profile: 'compact',
    topology: { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable', source: 'Infrastructure', schedulableNodes: 3, profile: 'HighlyAvailable' },
    replicas: 3,
    antiAffinity: 'Required',
    zoneSpread: true,
    pdb: true,
    eligible: ['master-0', 'master-1', 'master-2'],
    never: [],
  },
  {
    profile: 'ha',
    topology: { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable', source: 'Infrastructure', schedulableNodes: 3, profile: 'HighlyAvailable' },
    replicas: 3,
    antiAffinity: 'Required',
    zoneSpread: true,
    pdb: true,
    eligible: ['worker-0', 'worker-1', 'worker-2'],
    never: ['master-0', 'master-1', 'master-2'],
  },
  {
    profile: 'dual',
    topology: { controlPlane: 'DualReplica', infrastructure: 'HighlyAvailable', source: 'Infrastructure', schedulableNodes: 2, profile: 'DualReplica' },
    replicas: 2,
    antiAffinity: 'Required',
    zoneSpread: true,
    pdb: true,
    eligible: ['master-0', 'master-1'],
    never: [],
  },
  {
    profile: 'arbiter',
    topology: {
      controlPlane: 'HighlyAvailableArbiter',
      infrastructure: 'HighlyAvailable',
      source: 'Infrastructure',
      schedulableNodes: 2,
      profile: 'HighlyAvailableArbiter',
    },
    replicas: 2,
    antiAffinity: 'Required',
    zoneSpread: true,
    pdb: true,
    eligible: ['master-0', 'master-1'],
    never: ['arbiter-0'],
  },
  {
    profile: 'external',
    topology: { controlPlane: 'External', infrastructure: 'HighlyAvailable', source: 'Infrastructure', schedulableNodes: 2, profile: 'External' },
    replicas: 2,
    antiAffinity: 'Required',
    zoneSpread: true,
    pdb: true,
    eligible: ['worker-0', 'worker-1'],
    never: [],
  },
  {
    profile: 'vanilla',
    topology: { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable', source: 'Nodes', schedulableNodes: 3, profile: 'HighlyAvailable' },
    replicas: 3,
    antiAffinity: 'Required',
    // No zone labels on vanilla's nodes.
    zoneSpread: false,
    pdb: true,
    eligible: ['worker-0', 'worker-1', 'worker-2'],
    never: [],
  },
];

/** Passes once the Memcached is laid out as expected with every pod Ready; throws (for eventually) otherwise. */
function expectLaidOut(s: Snapshot, want: Pick<Expected, 'replicas' | 'antiAffinity' | 'zoneSpread' | 'pdb' | 'eligible'>): Snapshot {
  expect(s.statefulSet, 'StatefulSet').to.not.equal(undefined);
  expect(s.replicas, 'StatefulSet replicas').to.equal(want.replicas);
  expect(s.antiAffinity, 'pod anti-affinity').to.equal(want.antiAffinity);
  expect(s.zoneSpread, 'zone topology spread').to.equal(want.zoneSpread);
  expect(s.pdb !== undefined, 'PodDisruptionBudget present').to.equal(want.pdb);
  expect(s.readyReplicas, 'StatefulSet readyReplicas').to.equal(want.replicas);
  expect(s.statefulSet?.status?.replicas, 'StatefulSet status.replicas (no removed server left)').to.equal(want.replicas);
  expect(s.pods.length, 'pods').to.equal(want.replicas);
  expect(s.pods.every(isPodReady), 'every pod Ready').to.equal(true);
  const nodes = s.pods.map((p) => p.spec?.nodeName ?? '');
  for (const n of nodes) expect(want.eligible, `pod node ${n}`).to.include(n);
  if (want.antiAffinity === 'Required') expect(new Set(nodes).size, `distinct nodes in ${nodes.join(',')}`).to.equal(nodes.length);
  return s;
}

describe('topology: a Memcached without size on each cluster profile', function () {
  for (const want of EXPECTED) {
    describe(`profile ${want.profile}`, function () {
      let kc: k8s.KubeConfig;
      let cluster: Cluster;
      let op: OperatorProcess | undefined;
      let ns: string;

      before(async function () {
        kc = useCluster(want.profile);
        cluster = new Cluster(kc);
        op = await startOperator();
        ns = await createNamespace(kc, `topo-${want.profile}`);
        await cluster.createMemcached(ns, 'cache', {});
      });

      after(async function () {
        if (ns) await deleteNamespace(kc, ns);
        await op?.stop();
      });

      it(`gets ${want.replicas} Ready replica(s), ${want.antiAffinity} anti-affinity, ${want.pdb ? 'a' : 'no'} PDB, ${want.zoneSpread ? '' : 'no '}zone spread`, async function () {
        const s = await eventually(`Memcached ${ns}/cache laid out for ${want.profile}`, async () => expectLaidOut(await cluster.snapshot(ns, 'cache'), want), {
          timeoutMs: 60_000,
        });
        const pod = s.statefulSet!.spec!.template.spec!;
        // Arbiter nodes are excluded by node affinity on every profile, whatever the tolerations.
        const terms = pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
        expect(terms).to.have.length(1);
        expect(terms[0].matchExpressions).to.deep.include({ key: ARBITER_LABEL, operator: 'DoesNotExist' });
        // The operator adds no tolerations of its own (control planes and arbiters stay out).
        expect(pod.tolerations ?? []).to.deep.equal([]);
        if (want.antiAffinity === 'Required') {
          const term = pod.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution![0];
          expect(term.topologyKey).to.equal('kubernetes.io/hostname');
          expect(term.labelSelector?.matchLabels).to.include({ 'app.kubernetes.io/instance': 'cache' });
        }
        if (want.zoneSpread) {
          const spread = pod.topologySpreadConstraints!.find((c) => c.topologyKey === 'topology.kubernetes.io/zone')!;
          expect(spread.whenUnsatisfiable).to.equal('ScheduleAnyway');
          expect(spread.maxSkew).to.equal(1);
        }
        if (want.pdb) {
          expect(s.pdb!.spec!.maxUnavailable).to.equal(1);
          expect(s.pdb!.spec!.minAvailable).to.equal(undefined);
          expect(s.pdb!.spec!.unhealthyPodEvictionPolicy).to.equal('AlwaysAllow');
        }
        for (const p of s.pods) expect(want.never, `pod ${p.metadata?.name} on ${p.spec?.nodeName}`).to.not.include(p.spec?.nodeName);
      });

      it('reports status.topology, the Topology column and no assumed topology', async function () {
        const mc = await eventually(`status.topology of ${ns}/cache`, async () => {
          const m = await cluster.memcached(ns, 'cache');
          expect(m?.status?.topology).to.deep.equal(want.topology);
          expect(condition(m, 'Available')?.status).to.equal('True');
          return m;
        });
        expect(condition(mc, 'TopologyDetected'), 'TopologyDetected condition').to.equal(undefined);
        expect(condition(mc, 'HighAvailability'), 'HighAvailability notice').to.equal(undefined);
        expect(mc.status?.nodes).to.have.length(want.replicas);
        expect(printerColumn(ns, 'cache', 'Topology')).to.equal(want.topology.profile);
        await expectHealthy(op!);
        expect(errorLines(op!, ns), 'operator error log lines').to.deep.equal([]);
      });

      if (want.profile === 'arbiter') {
        it('never uses the arbiter, even for a Memcached that tolerates every taint and wants more replicas than nodes', async function () {
          await cluster.createMemcached(ns, 'tolerant', { size: 3, tolerations: [{ operator: 'Exists' }] });
          await eventually(
            `Memcached ${ns}/tolerant laid out on the two masters only`,
            async () => {
              const s = expectLaidOut(await cluster.snapshot(ns, 'tolerant'), {
                replicas: 3,
                antiAffinity: 'Preferred',
                zoneSpread: true,
                pdb: true,
                eligible: want.eligible,
              });
              // The arbiter is not counted although its taint is tolerated.
              expect(s.mc?.status?.topology?.schedulableNodes).to.equal(2);
              expect(condition(s.mc, 'HighAvailability')).to.include({ status: 'False', reason: 'NotEnoughNodes' });
              return s;
            },
            { timeoutMs: 60_000 },
          );
        });
      }
    });
  }
});
