import { expect } from 'chai';
import type { HighAvailabilityMode, MemcachedSpec } from '../../../src/api/types.js';
import { explicitSize, placementFor } from '../../../src/topology/sizing.js';
import type { ClusterTopology, ControlPlaneTopology, InfrastructureTopology } from '../../../src/topology/types.js';

function topo(
  controlPlane: ControlPlaneTopology,
  infrastructure: InfrastructureTopology,
  schedulableNodes: number,
  zones: number,
  source: ClusterTopology['source'] = 'Infrastructure',
): ClusterTopology {
  return { controlPlane, infrastructure, source, schedulableNodes, zones };
}
const SNO = topo('SingleReplica', 'SingleReplica', 1, 1);
const COMPACT = topo('HighlyAvailable', 'HighlyAvailable', 3, 3);
const DUAL = topo('DualReplica', 'HighlyAvailable', 2, 2);
const place = (spec: MemcachedSpec, t: ClusterTopology) => placementFor(spec, t, t.schedulableNodes, t.zones);

describe('topology: placementFor overrides', () => {
  it('Enabled sizes a single-node cluster as HighlyAvailable, spreading on a best-effort basis', () => {
    const p = place({ highAvailability: 'Enabled' }, SNO);
    expect(p).to.deep.include({
      profile: 'HighlyAvailable (override)',
      replicas: 2,
      antiAffinity: 'Preferred',
      zoneSpread: false,
      podDisruptionBudget: true,
      resourceProfile: 'Standard',
      source: 'Override',
      effectiveTopology: { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable' },
    });
    expect(p.notices.map((n) => n.reason)).to.deep.equal(['NotEnoughNodes']);
  });

  it('Enabled on a HighlyAvailable cluster changes nothing but the source and profile', () => {
    const auto = place({}, COMPACT);
    const enabled = place({ highAvailability: 'Enabled' }, COMPACT);
    expect({ ...enabled, profile: auto.profile, source: auto.source }).to.deep.equal(auto);
    expect(enabled.profile).to.equal('HighlyAvailable (override)');
    expect(enabled.source).to.equal('Override');
  });

  it('Disabled sizes a HighlyAvailable cluster as SingleReplica', () => {
    const p = place({ highAvailability: 'Disabled' }, COMPACT);
    expect(p).to.deep.equal({
      profile: 'SingleReplica (override)',
      replicas: 1,
      antiAffinity: 'None',
      zoneSpread: false,
      podDisruptionBudget: false,
      excludedNodeRoles: ['arbiter'],
      resourceProfile: 'Small',
      notices: [],
      source: 'Override',
      effectiveTopology: { controlPlane: 'SingleReplica', infrastructure: 'SingleReplica' },
    });
  });

  it('Disabled with an explicit size honours it, with a HighAvailabilityDisabled notice', () => {
    const p = place({ highAvailability: 'Disabled', size: 3 }, COMPACT);
    expect(p.replicas).to.equal(3);
    expect(p.antiAffinity).to.equal('None');
    expect(p.podDisruptionBudget).to.equal(false);
    expect(p.notices).to.have.length(1);
    expect(p.notices[0]).to.include({ type: 'HighAvailability', status: 'False', reason: 'HighAvailabilityDisabled' });
    expect(p.notices[0].message).to.include('3 replicas');
  });

  it('Auto and unset are the same as no override, keeping the detected source', () => {
    for (const t of [SNO, COMPACT, DUAL, topo('HighlyAvailable', 'HighlyAvailable', 3, 0, 'Nodes')]) {
      expect(place({ highAvailability: 'Auto' }, t)).to.deep.equal(place({}, t));
      expect(place({}, t).source).to.equal(t.source);
    }
  });
});

describe('topology: placementFor explicit sizes', () => {
  it('honours size 3 on a single-node cluster, with a SingleNodeCluster notice', () => {
    const p = place({ size: 3 }, SNO);
    expect(p).to.deep.include({ profile: 'SingleReplica', replicas: 3, antiAffinity: 'None', podDisruptionBudget: false, zoneSpread: false, resourceProfile: 'Small' });
    expect(p.notices).to.have.length(1);
    expect(p.notices[0]).to.include({ type: 'HighAvailability', status: 'False', reason: 'SingleNodeCluster' });
    expect(p.notices[0].message).to.match(/single node gives no high availability/);
  });

  it('gives no notice for size 1 (or 0) on a single-node cluster', () => {
    expect(place({ size: 1 }, SNO).notices).to.deep.equal([]);
    expect(place({ size: 0 }, SNO).notices).to.deep.equal([]);
  });

  // [spec.size, topology, replicas, anti-affinity, PDB, zone spread, notice reasons]
  const table: [number, ClusterTopology, number, string, boolean, boolean, string[]][] = [
    [0, COMPACT, 0, 'None', false, false, []],
    [1, COMPACT, 1, 'None', false, false, []],
    [2, COMPACT, 2, 'Required', true, true, []],
    [3, COMPACT, 3, 'Required', true, true, []],
    [4, COMPACT, 4, 'Preferred', true, true, ['NotEnoughNodes']],
    [4, topo('HighlyAvailable', 'HighlyAvailable', 6, 1), 4, 'Required', true, false, []],
    [10, topo('HighlyAvailable', 'HighlyAvailable', 12, 3), 10, 'Required', true, true, []],
    [1, DUAL, 1, 'None', false, false, []],
    [3, DUAL, 3, 'Preferred', true, true, ['NotEnoughNodes']],
    [2, topo('External', 'HighlyAvailable', 1, 1), 2, 'Preferred', true, false, ['NotEnoughNodes']],
  ];
  for (const [size, t, replicas, antiAffinity, pdb, spread, reasons] of table) {
    it(`size ${size} on ${t.controlPlane}/${t.infrastructure} with ${t.schedulableNodes} nodes in ${t.zones} zones`, () => {
      const p = place({ size }, t);
      expect(p.replicas).to.equal(replicas);
      expect(p.antiAffinity).to.equal(antiAffinity);
      expect(p.podDisruptionBudget).to.equal(pdb);
      expect(p.zoneSpread).to.equal(spread);
      expect(p.notices.map((n) => n.reason)).to.deep.equal(reasons);
    });
  }

  it('ignores sizes that are not non-negative integers', () => {
    for (const size of [-1, 2.5, Number.NaN, Number.POSITIVE_INFINITY, '3' as unknown as number]) {
      expect(explicitSize({ size })).to.equal(undefined);
      expect(place({ size }, COMPACT).replicas).to.equal(3);
      expect(place({ size }, SNO).replicas).to.equal(1);
    }
    expect(explicitSize({})).to.equal(undefined);
    expect(explicitSize({ size: 0 })).to.equal(0);
  });
});

describe('topology: placementFor on HighlyAvailable with few nodes', () => {
  it('defaults to the node count below 3, but never below 2', () => {
    const replicas = [0, 1, 2, 3, 4, 10].map((n) => place({}, topo('HighlyAvailable', 'HighlyAvailable', n, 0)).replicas);
    expect(replicas).to.deep.equal([2, 2, 2, 3, 3, 3]);
  });

  it('falls back to Preferred with a NotEnoughNodes notice when replicas outnumber nodes', () => {
    const p = place({}, topo('HighlyAvailable', 'HighlyAvailable', 1, 1));
    expect(p.replicas).to.equal(2);
    expect(p.antiAffinity).to.equal('Preferred');
    expect(p.podDisruptionBudget).to.equal(true);
    expect(p.notices).to.have.length(1);
    expect(p.notices[0]).to.include({ type: 'HighAvailability', status: 'False', reason: 'NotEnoughNodes' });
    expect(p.notices[0].message).to.include('2 replicas but only 1 schedulable node');
    expect(p.notices[0].message).to.include('1 pod Pending');
  });

  it('uses the node and zone counts it is given, not the topology\'s (they may reflect the spec\'s own tolerations)', () => {
    const p = placementFor({}, COMPACT, 2, 1);
    expect(p.replicas).to.equal(2);
    expect(p.antiAffinity).to.equal('Required');
    expect(p.zoneSpread).to.equal(false);
  });

  it('treats negative or non-finite counts as zero', () => {
    for (const [nodes, zones] of [[-1, -1], [Number.NaN, Number.NaN], [Number.POSITIVE_INFINITY, 5]]) {
      const p = placementFor({}, COMPACT, nodes, zones);
      expect(p.replicas).to.equal(2);
      expect(p.antiAffinity).to.equal('Preferred');
    }
  });
});

describe('topology: placementFor invariants over every input combination', () => {
  const controlPlanes: ControlPlaneTopology[] = ['HighlyAvailable', 'HighlyAvailableArbiter', 'SingleReplica', 'DualReplica', 'External'];
  const infrastructures: InfrastructureTopology[] = ['HighlyAvailable', 'SingleReplica'];
  const modes: (HighAvailabilityMode | undefined)[] = [undefined, 'Auto', 'Enabled', 'Disabled'];
  const sizes = [undefined, 0, 1, 2, 3, 5];
  let checked = 0;

  it('holds for every combination', () => {
    for (const cp of controlPlanes)
      for (const infra of infrastructures)
        for (const highAvailability of modes)
          for (const size of sizes)
            for (let nodes = 0; nodes <= 6; nodes++)
              for (let zones = 0; zones <= Math.min(nodes, 3); zones++) {
                const spec: MemcachedSpec = { ...(size !== undefined ? { size } : {}), ...(highAvailability ? { highAvailability } : {}) };
                const p = placementFor(spec, topo(cp, infra, nodes, zones), nodes, zones);
                const where = JSON.stringify({ cp, infra, highAvailability, size, nodes, zones });
                const singleReplica = p.effectiveTopology.infrastructure === 'SingleReplica';
                expect(p.excludedNodeRoles, where).to.deep.equal(['arbiter']);
                if (size !== undefined) expect(p.replicas, where).to.equal(size);
                else expect(p.replicas, where).to.be.within(1, 3);
                // A PDB never on fewer than 2 replicas; always on 2+ unless SingleReplica.
                expect(p.podDisruptionBudget, where).to.equal(!singleReplica && p.replicas >= 2);
                if (p.antiAffinity === 'Required') expect(nodes, where).to.be.at.least(p.replicas);
                if (p.replicas < 2 || singleReplica) expect(p.antiAffinity, where).to.equal('None');
                if (p.zoneSpread) expect(zones >= 2 && p.replicas >= 2, where).to.equal(true);
                const reasons = p.notices.map((n) => n.reason);
                expect(reasons.includes('NotEnoughNodes'), where).to.equal(p.antiAffinity === 'Preferred');
                expect(new Set(p.notices.map((n) => n.type)).size, where).to.equal(p.notices.length);
                expect(p.resourceProfile, where).to.equal(singleReplica ? 'Small' : 'Standard');
                expect(p.source, where).to.equal(highAvailability === 'Enabled' || highAvailability === 'Disabled' ? 'Override' : 'Infrastructure');
                expect(p.profile.length, where).to.be.at.most(26);
                checked++;
              }
    expect(checked).to.be.greaterThan(1000);
  });
});
