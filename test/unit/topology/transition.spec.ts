import { expect } from 'chai';
import { placementFor } from '../../../src/topology/sizing.js';
import { stagedPlacement, type CurrentPlacement } from '../../../src/topology/transition.js';
import type { AntiAffinity, ClusterTopology, Placement } from '../../../src/topology/types.js';

const HA3: ClusterTopology = { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable', source: 'Infrastructure', schedulableNodes: 3, zones: 3 };
const target = (spec = {}, nodes = 3): Placement => placementFor(spec, HA3, nodes, 3);

describe('topology: stagedPlacement', () => {
  // [description, previous, target, anti-affinity applied now, staged?]
  const table: [string, CurrentPlacement | undefined, Placement, AntiAffinity, boolean][] = [
    ['first creation applies the target at once', undefined, target(), 'Required', false],
    ['SingleReplica -> HA, 1 Ready of 3: scale up with Preferred', { replicas: 1, readyReplicas: 1, antiAffinity: 'None' }, target(), 'Preferred', true],
    ['scaled, 2 of 3 Ready: still Preferred', { replicas: 3, readyReplicas: 2, antiAffinity: 'Preferred' }, target(), 'Preferred', true],
    ['scaled, 3 of 3 Ready: Required', { replicas: 3, readyReplicas: 3, antiAffinity: 'Preferred' }, target(), 'Required', false],
    ['more Ready than needed (scaling down): Required', { replicas: 5, readyReplicas: 5, antiAffinity: 'Preferred' }, target(), 'Required', false],
    ['0 Ready (for example all pods just created): Preferred', { replicas: 1, readyReplicas: 0, antiAffinity: 'None' }, target(), 'Preferred', true],
    ['already Required, scaling up: keep Required', { replicas: 2, readyReplicas: 2, antiAffinity: 'Required' }, target(), 'Required', false],
    ['target Preferred (not enough nodes): the target', { replicas: 1, readyReplicas: 1, antiAffinity: 'None' }, target({ size: 5 }), 'Preferred', false],
    ['target None (one replica): the target', { replicas: 3, readyReplicas: 0, antiAffinity: 'Required' }, target({ size: 1 }), 'None', false],
    ['nonsense ready counts count as 0', { replicas: 3, readyReplicas: Number.NaN, antiAffinity: 'None' }, target(), 'Preferred', true],
    ['negative ready counts count as 0', { replicas: 3, readyReplicas: -2, antiAffinity: 'Preferred' }, target(), 'Preferred', true],
  ];

  for (const [what, previous, t, antiAffinity, staged] of table) {
    it(what, () => {
      const now = stagedPlacement(previous, t);
      expect(now.antiAffinity).to.equal(antiAffinity);
      // The replica increase is always applied at once.
      expect(now.replicas).to.equal(t.replicas);
      expect({ ...now, antiAffinity: t.antiAffinity, notices: t.notices }).to.deep.equal(t);
      if (staged) {
        expect(now.notices.map((n) => n.reason)).to.deep.equal([...t.notices.map((n) => n.reason), 'ScalingUp']);
        expect(now.notices.at(-1)).to.include({ type: 'HighAvailability', status: 'False' });
      } else {
        expect(now).to.equal(t);
      }
    });
  }

  it('keeps the extra fields of a sized placement', () => {
    const t = placementFor({ highAvailability: 'Enabled' }, HA3, 3, 3);
    const now = stagedPlacement({ replicas: 1, readyReplicas: 1, antiAffinity: 'None' }, t);
    expect(now.source).to.equal('Override');
    expect(now.effectiveTopology).to.deep.equal(t.effectiveTopology);
  });

  it('converges: the replica count never drops and Required comes only once all are Ready', () => {
    const goal = target();
    let current: CurrentPlacement = { replicas: 1, readyReplicas: 1, antiAffinity: 'None' };
    const applied: AntiAffinity[] = [];
    for (let step = 0; step < 5; step++) {
      const now = stagedPlacement(current, goal);
      applied.push(now.antiAffinity);
      expect(now.replicas).to.be.at.least(current.readyReplicas);
      if (now.antiAffinity === 'Required') expect(current.readyReplicas).to.be.at.least(goal.replicas);
      // One more pod becomes Ready per step.
      current = { replicas: now.replicas, readyReplicas: Math.min(now.replicas, current.readyReplicas + 1), antiAffinity: now.antiAffinity };
    }
    expect(applied).to.deep.equal(['Preferred', 'Preferred', 'Required', 'Required', 'Required']);
  });

  it('does not mutate the target', () => {
    const t = target();
    const copy = structuredClone(t);
    stagedPlacement({ replicas: 1, readyReplicas: 1, antiAffinity: 'None' }, t);
    expect(t).to.deep.equal(copy);
  });
});
