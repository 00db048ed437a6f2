// The scaling policy, decision by decision. The simulation of the same
// policy against a cache under load is in simulation.spec.ts.
import { expect } from 'chai';
import type { AutoscalingDecisionStatus } from '../../../../src/api/types.js';
import { covering, decide, nextDecisionStatus, signalsStatus, type Decision, type PolicyInput } from '../../../../src/memcached/autopilot/policy.js';
import type { AutoscalingSettings } from '../../../../src/memcached/autopilot/settings.js';
import type { CacheSignals } from '../../../../src/memcached/autopilot/signals.js';

const MINUTE = 60_000;
const NOW = Date.UTC(2026, 0, 5, 12);
const SETTINGS: AutoscalingSettings = {
  minReplicas: 2, maxReplicas: 6, targetMemoryPercent: 65, evictionsPerSecond: 1, evictingForMs: 5 * MINUTE,
  scaleOutCooldownMs: 10 * MINUTE, scaleInCooldownMs: 20 * MINUTE, memoryFloorMB: 256, memoryCeilingMB: 256,
};

/** Polls every minute for the last `minutes`, ending now, each with these signals. */
function polls(minutes: number, fields: Partial<CacheSignals>, end = NOW): CacheSignals[] {
  return Array.from({ length: minutes }, (_, i) => ({
    at: end - (minutes - 1 - i) * MINUTE, intervalMs: MINUTE, pods: 3, memoryUsedPercent: 50, memoryUsedPercentMax: 55,
    evictionsPerSecond: 0, requestsPerSecond: 1000, getsPerSecond: 800, hitRatio: 0.9, connections: 30, ...fields,
  }));
}

const EVICTING = { memoryUsedPercent: 88, evictionsPerSecond: 40 };
const QUIET_LOW = { memoryUsedPercent: 20, evictionsPerSecond: 0 };

function input(overrides: Partial<PolicyInput>): PolicyInput {
  return { settings: SETTINGS, replicas: 3, memoryLimitMB: 256, history: polls(30, {}), busy: false, now: NOW, ...overrides };
}

const summary = (d: Decision) => `${d.action} ${d.from}->${d.to} ${d.reason}`;

describe('autopilot/policy: decide', () => {
  const cases: [string, Partial<PolicyInput>, string][] = [
    ['steady: nothing', {}, 'None 3->3 Steady'],
    ['full and evicting at every poll for 5m: a server', { history: polls(30, EVICTING) }, 'ScaleOut 3->4 MemoryFullAndEvicting'],
    ['the same with room to grow memory: memory first, doubled', { settings: { ...SETTINGS, memoryCeilingMB: 1024 }, history: polls(30, EVICTING) }, 'GrowMemory 256->512 MemoryFullAndEvicting'],
    ['memory doubles up to the ceiling, not past it', { settings: { ...SETTINGS, memoryCeilingMB: 384 }, history: polls(30, EVICTING) }, 'GrowMemory 256->384 MemoryFullAndEvicting'],
    ['at maxReplicas and the memory ceiling: nothing, and why', { replicas: 6, history: polls(30, EVICTING) }, 'None 6->6 AtMaximum'],
    ['evicting for 4 of the 5 minutes: not yet', { history: [...polls(26, {}, NOW - 4 * MINUTE), ...polls(4, EVICTING)] }, 'None 3->3 Evicting'],
    ['one poll of the 5 minutes without evictions: not yet', { history: [...polls(27, EVICTING, NOW - 3 * MINUTE), ...polls(1, { memoryUsedPercent: 88 }, NOW - 2 * MINUTE), ...polls(2, EVICTING)] }, 'None 3->3 Evicting'],
    ['evicting at exactly the threshold: not above it', { history: polls(30, { memoryUsedPercent: 88, evictionsPerSecond: 1 }) }, 'None 3->3 Steady'],
    ['evicting under the memory target (slab classes): nothing, and why', { history: polls(30, { memoryUsedPercent: 50, evictionsPerSecond: 40 }) }, 'None 3->3 EvictingUnderTarget'],
    ['evicting within the scale-out cooldown', { history: polls(8, EVICTING), lastScaleAt: NOW - 8 * MINUTE }, 'None 3->3 CoolingDown'],
    ['evicting, cooldown over', { history: polls(30, EVICTING), lastScaleAt: NOW - 10 * MINUTE }, 'ScaleOut 3->4 MemoryFullAndEvicting'],
    ['only polls from before the last change: they do not count', { history: polls(30, EVICTING, NOW - 12 * MINUTE), lastScaleAt: NOW - 11 * MINUTE }, 'None 3->3 NoRecentSignals'],
    ['a change running: nothing', { history: polls(30, EVICTING), busy: true }, 'None 3->3 OperationInProgress'],
    ['no history (an operator restart)', { history: [] }, 'None 3->3 NoRecentSignals'],
    ['stale history (the poll stopped reaching the cache)', { history: polls(30, EVICTING, NOW - 10 * MINUTE) }, 'None 3->3 NoRecentSignals'],
    ['quiet and well under the target for 20m: a server less', { history: polls(30, QUIET_LOW) }, 'ScaleIn 3->2 WellUnderTarget'],
    ['quiet, at minReplicas with memory above the floor: memory halved', { replicas: 2, memoryLimitMB: 1024, settings: { ...SETTINGS, memoryCeilingMB: 1024 }, history: polls(30, QUIET_LOW) }, 'ShrinkMemory 1024->512 WellUnderTarget'],
    ['memory halves down to the floor, not past it', { replicas: 2, memoryLimitMB: 384, settings: { ...SETTINGS, memoryCeilingMB: 1024 }, history: polls(30, QUIET_LOW) }, 'ShrinkMemory 384->256 WellUnderTarget'],
    ['at minReplicas and the floor: nothing', { replicas: 2, history: polls(30, QUIET_LOW) }, 'None 2->2 Steady'],
    ['one eviction in the 20 minutes: no step in', { history: [...polls(20, QUIET_LOW, NOW - 10 * MINUTE), ...polls(1, { ...QUIET_LOW, evictionsPerSecond: 0.02 }, NOW - 9 * MINUTE), ...polls(9, QUIET_LOW)] }, 'None 3->3 Steady'],
    ['a poll without rates in the 20 minutes (unknown is not quiet): no step in', { history: [...polls(20, QUIET_LOW, NOW - 10 * MINUTE), ...polls(1, { ...QUIET_LOW, evictionsPerSecond: undefined }, NOW - 9 * MINUTE), ...polls(9, QUIET_LOW)] }, 'None 3->3 Steady'],
    ['quiet for 19 minutes since the last change: not yet', { history: polls(19, QUIET_LOW), lastScaleAt: NOW - 19 * MINUTE }, 'None 3->3 Steady'],
    ['quiet for 20 minutes since the last change', { history: polls(20, QUIET_LOW), lastScaleAt: NOW - 20 * MINUTE }, 'ScaleIn 3->2 WellUnderTarget'],
    // 3 -> 2 at 34% gives 51%: more than 15 points under 65.
    ['use that would land within the headroom after the step: no step in', { history: polls(30, { memoryUsedPercent: 34 }) }, 'None 3->3 Steady'],
    ['use that lands at 50% after the step (65 - 15): a step in', { history: polls(30, { memoryUsedPercent: 100 / 3 }) }, 'ScaleIn 3->2 WellUnderTarget'],
    ['the window\'s peak counts, not the latest poll', { history: [...polls(25, { memoryUsedPercent: 45 }, NOW - 5 * MINUTE), ...polls(5, QUIET_LOW)] }, 'None 3->3 Steady'],
  ];
  for (const [name, overrides, want] of cases) {
    it(name, () => expect(summary(decide(input(overrides)))).to.equal(want));
  }

  it('says why in words, with the numbers it saw', () => {
    expect(decide(input({ history: polls(30, EVICTING) })).message).to.equal(
      'memory use 88% (target 65%) and 40.00 evictions/s (threshold 1) at every poll for 5m: replicas 3 -> 4',
    );
    expect(decide(input({ history: polls(8, EVICTING), lastScaleAt: NOW - 8 * MINUTE })).message).to.match(/the last change ended 8m ago; the scale-out cooldown is 10m$/);
    expect(decide(input({ replicas: 6, history: polls(30, EVICTING) })).message).to.match(/raise autoscaling.maxReplicas or maxMemoryLimitMB$/);
    expect(decide(input({ history: polls(30, QUIET_LOW) })).message).to.equal(
      'no evictions for 20m and memory use at most 20%, about 30% after the step (target 65%): replicas 3 -> 2',
    );
  });

  it('a window shorter than the poll interval is covered by the latest poll', () => {
    const history = polls(3, EVICTING);
    expect(covering(history, NOW - 10_000)).to.deep.equal([history[2]]);
    expect(summary(decide(input({ history, settings: { ...SETTINGS, evictingForMs: 0, scaleOutCooldownMs: 0 }, lastScaleAt: NOW - 3 * MINUTE })))).to.equal('ScaleOut 3->4 MemoryFullAndEvicting');
  });

  it('a first poll without rates does not cover a window', () => {
    const [first, ...rest] = polls(6, EVICTING);
    expect(covering([{ ...first, intervalMs: 0 }, ...rest], NOW - 5 * MINUTE - 1)).to.equal(undefined);
  });
});

describe('autopilot/policy: status.autoscaling.lastDecision', () => {
  const now = new Date(NOW);
  const signals = polls(1, EVICTING)[0];
  const step: Decision = { action: 'ScaleOut', from: 3, to: 4, reason: 'MemoryFullAndEvicting', message: 'm' };
  const nothing = (reason: Decision['reason']): Decision => ({ action: 'None', from: 4, to: 4, reason, message: reason });
  const recorded = nextDecisionStatus(undefined, step, signals, now)!;

  it('records a step with the signals it saw, as whole percents and decimal strings', () => {
    expect(recorded).to.deep.equal({
      time: '2026-01-05T12:00:00.000Z', action: 'ScaleOut', from: 3, to: 4, reason: 'MemoryFullAndEvicting', message: 'm',
      signals: { memoryUsedPercent: 88, memoryUsedPercentMax: 55, evictionsPerSecond: '40', hitRatioPercent: 90, requestsPerSecond: '1000', connections: 30 },
    });
    expect(signalsStatus({ ...signals, evictionsPerSecond: 1 / 3, hitRatio: undefined })).to.deep.include({ evictionsPerSecond: '0.33' }).and.not.have.property('hitRatioPercent');
  });

  const cases: [string, AutoscalingDecisionStatus | undefined, Decision, 'kept' | 'replaced' | 'none'][] = [
    ['a steady cache after a step: the step stays', recorded, nothing('Steady'), 'kept'],
    ['a change running after a step: the step stays', recorded, nothing('OperationInProgress'), 'kept'],
    ['at the maximum after a step: replaced (the user may act)', recorded, nothing('AtMaximum'), 'replaced'],
    ['evicting under the target after a step: replaced', recorded, nothing('EvictingUnderTarget'), 'replaced'],
    ['another step: replaced', recorded, { ...step, from: 4, to: 5 }, 'replaced'],
    ['nothing, then nothing for the same reason: kept (no write)', { ...recorded, action: 'None', reason: 'Steady' }, nothing('Steady'), 'kept'],
    ['nothing, then nothing for another reason: replaced', { ...recorded, action: 'None', reason: 'Steady' }, nothing('Evicting'), 'replaced'],
    ['the first decision is transient: nothing recorded yet', undefined, nothing('NoRecentSignals'), 'none'],
    ['the first decision is steady: recorded', undefined, nothing('Steady'), 'replaced'],
  ];
  for (const [name, previous, decision, want] of cases) {
    it(name, () => {
      const next = nextDecisionStatus(previous, decision, signals, new Date(NOW + MINUTE));
      if (want === 'kept') expect(next).to.equal(previous);
      if (want === 'none') expect(next).to.equal(undefined);
      if (want === 'replaced') expect(next).to.deep.include({ action: decision.action, reason: decision.reason, time: '2026-01-05T12:01:00.000Z' });
    });
  }
});
