// End to end over the pure functions, for every profile of the local cluster:
// nodes + Infrastructure -> detected topology -> placement of a default Memcached.
import { expect } from 'chai';
import { clusterTopology } from '../../../src/topology/detect.js';
import { placementFor } from '../../../src/topology/sizing.js';
import type { AntiAffinity, ClusterTopology } from '../../../src/topology/types.js';
import { PROFILES } from './fixtures.js';

interface ProfileCase {
  profile: keyof typeof PROFILES;
  topology: Pick<ClusterTopology, 'controlPlane' | 'infrastructure' | 'source' | 'schedulableNodes' | 'zones'>;
  placement: {
    profile: string;
    replicas: number;
    antiAffinity: AntiAffinity;
    podDisruptionBudget: boolean;
    zoneSpread: boolean;
    excludedNodeRoles: string[];
    resourceProfile: 'Small' | 'Standard';
  };
}

const HA = 'HighlyAvailable';
const cases: ProfileCase[] = [
  {
    profile: 'sno',
    topology: { controlPlane: 'SingleReplica', infrastructure: 'SingleReplica', source: 'Infrastructure', schedulableNodes: 1, zones: 1 },
    placement: { profile: 'SingleReplica', replicas: 1, antiAffinity: 'None', podDisruptionBudget: false, zoneSpread: false, excludedNodeRoles: ['arbiter'], resourceProfile: 'Small' },
  },
  {
    profile: 'compact',
    topology: { controlPlane: HA, infrastructure: HA, source: 'Infrastructure', schedulableNodes: 3, zones: 3 },
    placement: { profile: HA, replicas: 3, antiAffinity: 'Required', podDisruptionBudget: true, zoneSpread: true, excludedNodeRoles: ['arbiter'], resourceProfile: 'Standard' },
  },
  {
    // The tainted control planes are not schedulable: only the 3 workers count.
    profile: 'ha',
    topology: { controlPlane: HA, infrastructure: HA, source: 'Infrastructure', schedulableNodes: 3, zones: 3 },
    placement: { profile: HA, replicas: 3, antiAffinity: 'Required', podDisruptionBudget: true, zoneSpread: true, excludedNodeRoles: ['arbiter'], resourceProfile: 'Standard' },
  },
  {
    profile: 'dual',
    topology: { controlPlane: 'DualReplica', infrastructure: HA, source: 'Infrastructure', schedulableNodes: 2, zones: 2 },
    placement: { profile: 'DualReplica', replicas: 2, antiAffinity: 'Required', podDisruptionBudget: true, zoneSpread: true, excludedNodeRoles: ['arbiter'], resourceProfile: 'Standard' },
  },
  {
    // The arbiter (zone-c) is neither counted as a node nor as a zone.
    profile: 'arbiter',
    topology: { controlPlane: 'HighlyAvailableArbiter', infrastructure: HA, source: 'Infrastructure', schedulableNodes: 2, zones: 2 },
    placement: { profile: 'HighlyAvailableArbiter', replicas: 2, antiAffinity: 'Required', podDisruptionBudget: true, zoneSpread: true, excludedNodeRoles: ['arbiter'], resourceProfile: 'Standard' },
  },
  {
    profile: 'external',
    topology: { controlPlane: 'External', infrastructure: HA, source: 'Infrastructure', schedulableNodes: 2, zones: 2 },
    placement: { profile: 'External', replicas: 2, antiAffinity: 'Required', podDisruptionBudget: true, zoneSpread: true, excludedNodeRoles: ['arbiter'], resourceProfile: 'Standard' },
  },
  {
    profile: 'vanilla',
    topology: { controlPlane: HA, infrastructure: HA, source: 'Nodes', schedulableNodes: 3, zones: 0 },
    placement: { profile: HA, replicas: 3, antiAffinity: 'Required', podDisruptionBudget: true, zoneSpread: false, excludedNodeRoles: ['arbiter'], resourceProfile: 'Standard' },
  },
];

describe('topology: the local cluster profiles', () => {
  it('covers every profile the local cluster offers', () => {
    expect(cases.map((c) => c.profile).sort()).to.deep.equal(Object.keys(PROFILES).sort());
  });

  for (const c of cases) {
    describe(c.profile, () => {
      const cluster = PROFILES[c.profile];
      const detected = clusterTopology({ infrastructure: cluster.infrastructure, nodes: cluster.nodes });

      it('detects the topology without warnings', () => {
        expect(detected.topology).to.deep.equal(c.topology);
        expect(detected.warnings).to.deep.equal([]);
      });

      it('sizes a default Memcached for it', () => {
        const placement = placementFor({}, detected.topology, detected.topology.schedulableNodes, detected.topology.zones);
        expect({
          profile: placement.profile,
          replicas: placement.replicas,
          antiAffinity: placement.antiAffinity,
          podDisruptionBudget: placement.podDisruptionBudget,
          zoneSpread: placement.zoneSpread,
          excludedNodeRoles: placement.excludedNodeRoles,
          resourceProfile: placement.resourceProfile,
        }).to.deep.equal(c.placement);
        expect(placement.notices).to.deep.equal([]);
        expect(placement.source).to.equal(c.topology.source);
      });
    });
  }
});
