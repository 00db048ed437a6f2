import { expect } from 'chai';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { Condition, Memcached } from '../../../src/api/types.js';
import { placementEvents, requeueFor, statusEvents, statusInputFor, type Observed, type Outcome, type Plan } from '../../../src/memcached/outcome.js';
import { computeStatus } from '../../../src/memcached/status.js';
import type { SizedPlacement } from '../../../src/topology/sizing.js';
import { HIGHLY_AVAILABLE, memcached } from './fixtures.js';

const T0 = new Date('2025-01-01T00:00:00.000Z');
const MC = memcached({ size: 3 });
const UID = MC.metadata.uid!;
const PLACEMENT: SizedPlacement = { ...HIGHLY_AVAILABLE, source: 'Nodes', effectiveTopology: { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable' } };

function statefulSet(args: string[], owner = UID, replicas = 3): V1StatefulSet {
  return {
    metadata: { name: 'cache', generation: 1, ownerReferences: [{ apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', name: 'cache', uid: owner, controller: true }] },
    spec: { replicas, selector: {}, serviceName: 'cache-servers', template: { spec: { containers: [{ name: 'memcached', args }] } } },
    status: { observedGeneration: 1, replicas, readyReplicas: replicas, updatedReplicas: replicas, availableReplicas: replicas },
  };
}

function pod(name: string, ready: boolean): V1Pod {
  return { metadata: { name }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } };
}

const PLAN: Plan = { spec: { size: 3 }, placement: PLACEMENT, schedulableNodes: 3, statefulSet: statefulSet(['-p', '11211']) };

function observed(over: Partial<Observed> = {}): Observed {
  return { mc: MC, pods: [pod('cache-b', true), pod('cache-a', true), pod('cache-c', false)], ...over };
}

function summary(conditions: readonly Condition[] | undefined): Record<string, string> {
  return Object.fromEntries((conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
}

const QUOTA = 'writing Service cache keeps failing; retrying with backoff: exceeded quota: no-services';

describe('memcached/outcome', () => {
  describe('statusInputFor: every outcome reported through one path', () => {
    const live = statefulSet(['-p', '11211']);
    const cases: { name: string; observed: Observed; outcome: Exclude<Outcome, { kind: 'waiting' }>; want: Record<string, string>; dataPath?: string }[] = [
      {
        name: 'invalid: Degraded InvalidSpec, the old StatefulSet still described',
        observed: observed({ statefulSet: live }),
        outcome: { kind: 'invalid', message: 'spec.threads: must be <= 64' },
        want: { Available: 'True/AllReplicasReady', Progressing: 'False/RolloutComplete', Degraded: 'True/InvalidSpec' },
        dataPath: 'Plaintext',
      },
      {
        name: 'a Secret problem: Degraded with its reason',
        observed: observed(),
        outcome: { kind: 'secretProblem', security: { problem: { reason: 'SecretNotFound', message: 'Secret x does not exist' }, conditions: [], podAnnotations: {} } },
        want: { Available: 'False/ReplicasNotReady', Progressing: 'True/Creating', Degraded: 'True/SecretNotFound' },
      },
      {
        name: 'applied: the StatefulSet as written, TLS read from its template',
        observed: observed({ statefulSet: live }),
        outcome: { kind: 'applied', plan: PLAN, statefulSet: statefulSet(['-Z', '-o', 'ssl_key=k']) },
        want: { Available: 'True/AllReplicasReady', Progressing: 'False/RolloutComplete', Degraded: 'False/AsExpected' },
        dataPath: 'TLS',
      },
      {
        name: 'a write refused: Degraded ChildRejected',
        observed: observed(),
        outcome: { kind: 'failed', plan: PLAN, statefulSet: undefined, verdict: { then: 'terminal', reason: 'ChildRejected', message: 'the apiserver rejected StatefulSet cache: no' } },
        want: { Available: 'False/ReplicasNotReady', Progressing: 'False/ChildRejected', Degraded: 'True/ChildRejected' },
      },
      {
        name: 'a write that keeps failing: Degraded ChildWriteFailing, the StatefulSet written before it described',
        observed: observed(),
        outcome: { kind: 'failed', plan: PLAN, statefulSet: live, verdict: { then: 'retry', error: new Error('x'), reason: 'ChildWriteFailing', message: QUOTA } },
        want: { Available: 'True/AllReplicasReady', Progressing: 'False/RolloutComplete', Degraded: 'True/ChildWriteFailing' },
        dataPath: 'Plaintext',
      },
      {
        name: "a StatefulSet that is not this Memcached's is not reported on",
        observed: observed({ statefulSet: statefulSet(['-Z'], 'someone-else') }),
        outcome: { kind: 'invalid', message: 'bad' },
        want: { Available: 'False/ReplicasNotReady', Progressing: 'False/InvalidSpec', Degraded: 'True/InvalidSpec' },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const status = computeStatus(statusInputFor(c.observed, c.outcome, T0));
        expect(summary(status.conditions)).to.deep.equal(c.want);
        expect(status.nodes, 'ready pods from the one snapshot').to.deep.equal(['cache-a', 'cache-b']);
        expect(status.tls?.dataPath).to.equal(c.dataPath);
      });
    }

    it("carries the apiserver's message of a failing write, and a successful write clears it", () => {
      const failing = computeStatus(statusInputFor(observed(), { kind: 'failed', plan: PLAN, statefulSet: undefined, verdict: { then: 'retry', error: 0, reason: 'ChildWriteFailing', message: QUOTA } }, T0));
      expect(failing.conditions?.find((c) => c.type === 'Degraded')).to.include({ status: 'True', reason: 'ChildWriteFailing', message: QUOTA });
      const mc: Memcached = { ...MC, status: failing };
      const healed = computeStatus(statusInputFor(observed({ mc }), { kind: 'applied', plan: PLAN, statefulSet: statefulSet(['-p', '11211']) }, T0));
      expect(healed.conditions?.find((c) => c.type === 'Degraded')).to.include({ status: 'False', reason: 'AsExpected' });
      expect(statusEvents(failing.conditions, healed.conditions)).to.deep.equal([]);
    });

    it('carries the servers report of an applied outcome into the status', () => {
      const servers = { serverList: ['cache-0.cache-servers.default.svc:11211'], servers: [{ name: 'cache-0', state: 'Warm' as const }] };
      const input = statusInputFor(observed({ statefulSet: statefulSet([]) }), { kind: 'applied', plan: PLAN, statefulSet: statefulSet([]), servers }, T0);
      expect(input.servers).to.deep.equal(servers);
      expect(computeStatus(input).serverList).to.deep.equal(servers.serverList);
    });

    it('names the created StatefulSet in Progressing only on the pass that created it', () => {
      const created = statusInputFor(observed(), { kind: 'applied', plan: PLAN, statefulSet: statefulSet([]) }, T0);
      expect(created.created).to.deep.equal({ statefulSet: 'cache', replicas: 3, profile: 'HighlyAvailable' });
      const later = statusInputFor(observed({ statefulSet: statefulSet([]) }), { kind: 'applied', plan: PLAN, statefulSet: statefulSet([]) }, T0);
      expect(later.created).to.equal(undefined);
    });
  });

  describe('statusEvents', () => {
    const cond = (type: string, status: 'True' | 'False', reason: string, message = 'm'): Condition => ({ type, status, reason, message, lastTransitionTime: '' });
    const cases: { name: string; before: Condition[] | undefined; after: Condition[]; want: string[] }[] = [
      { name: 'into Degraded: one Warning', before: [cond('Degraded', 'False', 'AsExpected')], after: [cond('Degraded', 'True', 'ChildWriteFailing')], want: ['Warning ChildWriteFailing Reconcile'] },
      { name: 'a first status that is Degraded', before: undefined, after: [cond('Degraded', 'True', 'ChildRejected')], want: ['Warning ChildRejected Reconcile'] },
      { name: 'still Degraded for the same reason: none', before: [cond('Degraded', 'True', 'ChildWriteFailing')], after: [cond('Degraded', 'True', 'ChildWriteFailing', 'other')], want: [] },
      { name: 'Degraded for a new reason: one more', before: [cond('Degraded', 'True', 'ChildWriteFailing')], after: [cond('Degraded', 'True', 'ChildRejected')], want: ['Warning ChildRejected Reconcile'] },
      { name: 'an invalid spec is a validation', before: [], after: [cond('Degraded', 'True', 'InvalidSpec')], want: ['Warning InvalidSpec Validate'] },
      { name: 'back to healthy: none', before: [cond('Degraded', 'True', 'ChildWriteFailing')], after: [cond('Degraded', 'False', 'AsExpected')], want: [] },
      { name: 'Saturated turns True', before: [], after: [cond('Saturated', 'True', 'ConnectionsNearLimit')], want: ['Warning ConnectionsNearLimit Observe'] },
      { name: 'Saturated turns back', before: [cond('Saturated', 'True', 'ConnectionsNearLimit')], after: [cond('Saturated', 'False', 'ConnectionsOk')], want: ['Normal ConnectionsOk Observe'] },
      { name: 'Evicting first seen False: none', before: [], after: [cond('Evicting', 'False', 'NoEvictions')], want: [] },
    ];
    for (const c of cases) {
      it(c.name, () => expect(statusEvents(c.before, c.after).map((e) => `${e.type} ${e.reason} ${e.action}`)).to.deep.equal(c.want));
    }
  });

  describe('placementEvents', () => {
    it('none for the first creation', () => {
      expect(placementEvents(MC, undefined, PLAN)).to.deep.equal([]);
    });

    it('a scale, a new profile and each new notice', () => {
      const mc: Memcached = { ...MC, status: { topology: { controlPlane: 'SingleReplica', infrastructure: 'SingleReplica', source: 'Nodes', schedulableNodes: 1, profile: 'SingleNode' } } };
      const notice = { type: 'HighAvailability', status: 'False' as const, reason: 'ScalingUp', message: 'staged' };
      const plan: Plan = { ...PLAN, placement: { ...PLACEMENT, notices: [notice] } };
      expect(placementEvents(mc, statefulSet([], UID, 1), plan).map((e) => `${e.type} ${e.reason}: ${e.message}`)).to.deep.equal([
        'Normal Scaled: Scaled from 1 to 3 replicas (HighlyAvailable)',
        'Normal TopologyChanged: Placement profile changed from SingleNode to HighlyAvailable',
        'Warning ScalingUp: staged',
      ]);
      const noticed: Memcached = { ...mc, status: { ...mc.status, conditions: [{ ...notice, lastTransitionTime: '' }] } };
      expect(placementEvents(noticed, statefulSet([], UID, 3), plan).map((e) => e.reason)).to.deep.equal(['TopologyChanged']);
    });
  });

  describe('requeueFor', () => {
    it('looks again only after an applied reconcile, at the earliest recheck, within what setTimeout holds', () => {
      expect(requeueFor(observed(), { kind: 'invalid', message: 'x' }, T0)).to.equal(undefined);
      const applied = (rotationRecheckMs?: number, recheckInMs?: number, serversRecheckMs?: number): Outcome => ({
        kind: 'applied',
        plan: { ...PLAN, ...(recheckInMs !== undefined ? { security: { conditions: [], podAnnotations: {}, recheckInMs } } : {}) },
        statefulSet: undefined,
        ...(rotationRecheckMs !== undefined ? { rotationRecheckMs } : {}),
        ...(serversRecheckMs !== undefined ? { serversRecheckMs } : {}),
      });
      const ready = observed({ pods: [pod('a', true)] });
      expect(requeueFor(ready, applied(), T0)).to.equal(undefined);
      expect(requeueFor(ready, applied(5000, 9000), T0)).to.deep.equal({ requeueAfterMs: 5000 });
      expect(requeueFor(ready, applied(5000, 9000, 2000), T0), 'a server step to look at again').to.deep.equal({ requeueAfterMs: 2000 });
      expect(requeueFor(ready, applied(undefined, 40 * 24 * 3600 * 1000), T0)).to.deep.equal({ requeueAfterMs: 2 ** 31 - 1 });
    });
  });
});
