// The auto pilot's part of a reconcile: the values in effect before the
// children are built, and the decision with status.autoscaling after.
import { expect } from 'chai';
import type { AutoscalingStatus, Memcached, MemcachedSpec, ServerOperationStatus } from '../../../../src/api/types.js';
import { autoscalingPlan, lastScaleEnd, nextAutoscaling, type AutoscalingPlan } from '../../../../src/memcached/autopilot/plan.js';
import type { CacheSignals } from '../../../../src/memcached/autopilot/signals.js';
import type { SizedPlacement } from '../../../../src/topology/sizing.js';

const MINUTE = 60_000;
const NOW = new Date(Date.UTC(2026, 0, 5, 12));
const iso = (msBeforeNow: number): string => new Date(NOW.getTime() - msBeforeNow).toISOString();

const AUTOSCALING = {
  enabled: true, maxReplicas: 5, maxMemoryLimitMB: 256, evictingFor: '1m', scaleOutCooldown: '2m', scaleInCooldown: '4m',
  targetMemoryPercent: 80, evictionsPerSecond: '1',
};

function memcached(spec: MemcachedSpec, autoscaling?: AutoscalingStatus): Memcached {
  return { apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name: 'c', namespace: 'ns', uid: 'u1' }, spec, status: autoscaling ? { autoscaling } : {} };
}

function placement(replicas: number, infrastructure: 'HighlyAvailable' | 'SingleReplica' = 'HighlyAvailable'): SizedPlacement {
  return { replicas, effectiveTopology: { controlPlane: infrastructure, infrastructure } } as SizedPlacement;
}

function okPlan(mc: Memcached, p = placement(2)): Extract<AutoscalingPlan, { ok: true }> {
  const plan = autoscalingPlan(mc, mc.spec!, p);
  if (!plan?.ok) throw new Error(`expected a usable plan: ${JSON.stringify(plan)}`);
  return plan;
}

/** Polls every 10 s for the last `minutes`, ending now. */
function polls(minutes: number, fields: Partial<CacheSignals>): CacheSignals[] {
  const n = minutes * 6;
  return Array.from({ length: n }, (_, i) => ({
    at: NOW.getTime() - (n - 1 - i) * 10_000, intervalMs: 10_000, pods: 2, memoryUsedPercent: 50, memoryUsedPercentMax: 50,
    evictionsPerSecond: 0, requestsPerSecond: 100, getsPerSecond: 80, hitRatio: 0.9, connections: 4, ...fields,
  }));
}

describe('autopilot/plan: the values in effect', () => {
  it('is undefined with autoscaling off, and leaves the spec alone', () => {
    expect(autoscalingPlan(memcached({ size: 3 }), { size: 3 }, placement(3))).to.equal(undefined);
    expect(autoscalingPlan(memcached({ size: 3, autoscaling: { ...AUTOSCALING, enabled: false } }), { size: 3, autoscaling: { ...AUTOSCALING, enabled: false } }, placement(3))).to.equal(undefined);
  });

  it('starts from spec.size and memoryLimitMB, then follows status.autoscaling', () => {
    const spec = { size: 2, memoryLimitMB: 64, autoscaling: AUTOSCALING };
    expect(okPlan(memcached(spec)).spec).to.deep.include({ size: 2, memoryLimitMB: 64 });
    const decided = memcached(spec, { desiredReplicas: 4, memoryLimitMB: 128, specSize: 2, specMemoryLimitMB: 64 });
    expect(okPlan(decided).spec).to.deep.include({ size: 4, memoryLimitMB: 128 });
  });

  it('takes an edited spec.size as the new starting point, clamped into the bounds', () => {
    const spec = { size: 9, memoryLimitMB: 64, autoscaling: AUTOSCALING };
    const decided = memcached(spec, { desiredReplicas: 4, memoryLimitMB: 128, specSize: 2, specMemoryLimitMB: 64 });
    expect(okPlan(decided, placement(9)).spec).to.deep.include({ size: 5, memoryLimitMB: 128 });
  });

  it('runs one replica on a single-node placement, whatever was decided', () => {
    const spec = { size: 2, memoryLimitMB: 64, autoscaling: AUTOSCALING };
    const decided = memcached(spec, { desiredReplicas: 4, memoryLimitMB: 128, specSize: 2, specMemoryLimitMB: 64 });
    expect(okPlan(decided, placement(1, 'SingleReplica')).spec).to.deep.include({ size: 1, memoryLimitMB: 128 });
  });

  it('says why unusable settings are unusable (an object stored before a CRD upgrade)', () => {
    const spec = { size: 2, autoscaling: { ...AUTOSCALING, scaleInCooldown: 'soon' } };
    expect(autoscalingPlan(memcached(spec), spec, placement(2))).to.deep.equal({ ok: false, message: 'spec.autoscaling.scaleInCooldown: "soon" is not a duration such as 30s, 5m or 1h' });
  });
});

describe('autopilot/plan: when the last change ended', () => {
  const op = (startedMsAgo: number, finishedMsAgo?: number): ServerOperationStatus => ({
    type: 'Resize', phase: finishedMsAgo === undefined ? 'Running' : 'Succeeded', startedAt: iso(startedMsAgo),
    ...(finishedMsAgo !== undefined ? { finishedAt: iso(finishedMsAgo) } : {}), message: '',
  });
  const cases: [string, string | undefined, ServerOperationStatus | undefined, string | undefined][] = [
    ['no step yet', undefined, op(60_000, 30_000), undefined],
    ['a step, its operation still running: the step', iso(90_000), op(60_000), iso(90_000)],
    ['a step, its operation finished: the end', iso(90_000), op(89_500, 30_000), iso(30_000)],
    ['an operation from before the step: the step', iso(90_000), op(200_000, 95_000), iso(90_000)],
  ];
  for (const [name, last, operation, expected] of cases) {
    it(name, () => expect(lastScaleEnd(last, operation)).to.equal(expected));
  }
});

describe('autopilot/plan: the decision and status.autoscaling', () => {
  const spec = { size: 2, memoryLimitMB: 64, autoscaling: AUTOSCALING };
  const base = { busy: false, readyReplicas: 2, lastOperation: undefined, now: NOW };

  it('grows memory first when full and evicting for the whole window, and records the step', () => {
    const mc = memcached(spec);
    const { status, decision } = nextAutoscaling({ ...base, previous: undefined, plan: okPlan(mc), history: polls(2, { memoryUsedPercent: 95, evictionsPerSecond: 20 }) });
    expect(decision).to.deep.include({ action: 'GrowMemory', from: 64, to: 128 });
    expect(status).to.deep.include({ desiredReplicas: 2, memoryLimitMB: 128, minReplicas: 2, maxReplicas: 5, specSize: 2, specMemoryLimitMB: 64, currentReplicas: 2, lastScaleTime: NOW.toISOString() });
    expect(status.lastDecision).to.deep.include({ action: 'GrowMemory', reason: 'MemoryFullAndEvicting' });
  });

  it('adds a server once memory is at its ceiling', () => {
    const mc = memcached(spec, { desiredReplicas: 2, memoryLimitMB: 256, specSize: 2, specMemoryLimitMB: 64, lastScaleTime: iso(10 * MINUTE) });
    const { status, decision } = nextAutoscaling({ ...base, previous: mc.status!.autoscaling, plan: okPlan(mc), history: polls(2, { memoryUsedPercent: 95, evictionsPerSecond: 20 }) });
    expect(decision).to.deep.include({ action: 'ScaleOut', from: 2, to: 3 });
    expect(status).to.deep.include({ desiredReplicas: 3, memoryLimitMB: 256 });
  });

  it('decides nothing while the servers change, and keeps the values in effect', () => {
    const mc = memcached(spec, { desiredReplicas: 3, memoryLimitMB: 256, specSize: 2, specMemoryLimitMB: 64, lastScaleTime: iso(MINUTE) });
    const { status, decision } = nextAutoscaling({ ...base, busy: true, previous: mc.status!.autoscaling, plan: okPlan(mc), history: polls(2, { memoryUsedPercent: 95, evictionsPerSecond: 20 }) });
    expect(decision).to.deep.include({ action: 'None', reason: 'OperationInProgress' });
    expect(status).to.deep.include({ desiredReplicas: 3, memoryLimitMB: 256, lastScaleTime: iso(MINUTE) });
  });

  it('counts evidence only from the end of the step\'s operation: the same polls decide nothing again', () => {
    const mc = memcached(spec, { desiredReplicas: 2, memoryLimitMB: 128, specSize: 2, specMemoryLimitMB: 64, lastScaleTime: iso(3 * MINUTE) });
    const finished: ServerOperationStatus = { type: 'Resize', phase: 'Succeeded', startedAt: iso(3 * MINUTE - 500), finishedAt: iso(30_000), message: '' };
    const { status, decision } = nextAutoscaling({ ...base, lastOperation: finished, previous: mc.status!.autoscaling, plan: okPlan(mc), history: polls(3, { memoryUsedPercent: 95, evictionsPerSecond: 20 }) });
    expect(decision.action).to.equal('None');
    expect(status.lastScaleTime).to.equal(iso(30_000));
  });

  it('writes the same status twice for a steady cache (nothing to write)', () => {
    const mc = memcached(spec);
    const first = nextAutoscaling({ ...base, previous: undefined, plan: okPlan(mc), history: polls(2, {}) });
    const again = nextAutoscaling({ ...base, now: new Date(NOW.getTime() + 10_000), previous: first.status, plan: okPlan(memcached(spec, first.status)), history: polls(2, {}) });
    expect(again.status).to.deep.equal(first.status);
  });
});
