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
    ['SingleReplica -> HA, 1 Ready of 3: scale up with Preferred', { replicas: 1, readyReplicas: 1, antiAffinity: 'None', requiredPodsMayRun: false }, target(), 'Preferred', true],
    ['scaled, 2 of 3 Ready: still Preferred', { replicas: 3, readyReplicas: 2, antiAffinity: 'Preferred', requiredPodsMayRun: false }, target(), 'Preferred', true],
    ['scaled, 3 of 3 Ready: Required', { replicas: 3, readyReplicas: 3, antiAffinity: 'Preferred', requiredPodsMayRun: false }, target(), 'Required', false],
    ['more Ready than needed (scaling down): Required', { replicas: 5, readyReplicas: 5, antiAffinity: 'Preferred', requiredPodsMayRun: false }, target(), 'Required', false],
    ['0 Ready (for example all pods just created): Preferred', { replicas: 1, readyReplicas: 0, antiAffinity: 'None', requiredPodsMayRun: false }, target(), 'Preferred', true],
    ['already Required, scaling up: keep Required', { replicas: 2, readyReplicas: 2, antiAffinity: 'Required', requiredPodsMayRun: true }, target(), 'Required', false],
    ['target Preferred (not enough nodes): the target', { replicas: 1, readyReplicas: 1, antiAffinity: 'None', requiredPodsMayRun: false }, target({ size: 5 }), 'Preferred', false],
    ['target None (one replica): the target', { replicas: 3, readyReplicas: 0, antiAffinity: 'Required', requiredPodsMayRun: true }, target({ size: 1 }), 'None', false],
    ['nonsense ready counts count as 0', { replicas: 3, readyReplicas: Number.NaN, antiAffinity: 'None', requiredPodsMayRun: false }, target(), 'Preferred', true],
    ['negative ready counts count as 0', { replicas: 3, readyReplicas: -2, antiAffinity: 'Preferred', requiredPodsMayRun: false }, target(), 'Preferred', true],
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
    const now = stagedPlacement({ replicas: 1, readyReplicas: 1, antiAffinity: 'None', requiredPodsMayRun: false }, t);
    expect(now.source).to.equal('Override');
    expect(now.effectiveTopology).to.deep.equal(t.effectiveTopology);
  });

  it('converges: the replica count never drops and Required comes only once all are Ready', () => {
    const goal = target();
    let current: CurrentPlacement = { replicas: 1, readyReplicas: 1, antiAffinity: 'None', requiredPodsMayRun: false };
    const applied: AntiAffinity[] = [];
    for (let step = 0; step < 5; step++) {
      const now = stagedPlacement(current, goal);
      applied.push(now.antiAffinity);
      expect(now.replicas).to.be.at.least(current.readyReplicas);
      if (now.antiAffinity === 'Required') expect(current.readyReplicas).to.be.at.least(goal.replicas);
      // One more pod becomes Ready per step.
      current = {
        replicas: now.replicas,
        readyReplicas: Math.min(now.replicas, current.readyReplicas + 1),
        antiAffinity: now.antiAffinity,
        requiredPodsMayRun: now.antiAffinity === 'Required',
      };
    }
    expect(applied).to.deep.equal(['Preferred', 'Preferred', 'Required', 'Required', 'Required']);
  });

  it('does not mutate the target', () => {
    const t = target();
    const copy = structuredClone(t);
    stagedPlacement({ replicas: 1, readyReplicas: 1, antiAffinity: 'None', requiredPodsMayRun: false }, t);
    expect(t).to.deep.equal(copy);
  });

  describe('leaving Required anti-affinity for more replicas', () => {
    // 3 Required replicas on 3 nodes; spec.size 5 wants Preferred.
    const goal = target({ size: 5 });
    const cases: [string, CurrentPlacement, number, boolean][] = [
      ['Required template: relax it at 3 replicas first', { replicas: 3, readyReplicas: 3, antiAffinity: 'Required', requiredPodsMayRun: true }, 3, true],
      ['relaxed template still rolling out: stay at 3', { replicas: 3, readyReplicas: 2, antiAffinity: 'Preferred', requiredPodsMayRun: true }, 3, true],
      ['rollout finished: scale to 5', { replicas: 3, readyReplicas: 3, antiAffinity: 'Preferred', requiredPodsMayRun: false }, 5, false],
      ['scaling down needs no staging', { replicas: 6, readyReplicas: 6, antiAffinity: 'Required', requiredPodsMayRun: true }, 5, false],
      ['nonsense replica counts count as 0', { replicas: Number.NaN, readyReplicas: 0, antiAffinity: 'Required', requiredPodsMayRun: true }, 0, true],
      ['from None, rollout finished: scale at once', { replicas: 1, readyReplicas: 1, antiAffinity: 'None', requiredPodsMayRun: false }, 5, false],
    ];
    for (const [what, previous, replicas, isStaged] of cases) {
      it(what, () => {
        const now = stagedPlacement(previous, goal);
        expect(now.replicas).to.equal(replicas);
        expect(now.antiAffinity).to.equal('Preferred');
        const { oneAtATime, ...rest } = now;
        expect({ ...rest, replicas: goal.replicas, notices: goal.notices }).to.deep.equal(goal);
        // Rolled out one pod at a time while staged, which keeps the rollout recognisable.
        expect(oneAtATime).to.equal(isStaged ? true : undefined);
        if (isStaged) {
          expect(now.notices.at(-1)).to.include({ type: 'HighAvailability', status: 'False', reason: 'ScalingUp' });
          expect(now.notices.at(-1)?.message).to.match(/scaling up to 5 once no pod with Required anti-affinity is left/);
          // It stands in for the sizing's NotEnoughNodes notice (one condition per type) until the scale-up.
          expect(goal.notices.map((n) => n.reason)).to.include('NotEnoughNodes');
          expect(now.notices.slice(0, -1)).to.deep.equal(goal.notices.filter((n) => n.type !== 'HighAvailability'));
        } else {
          expect(now).to.equal(goal);
        }
      });
    }
  });
});
