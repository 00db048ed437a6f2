// The auto pilot's scaling policy: from a cache's recent signals, its
// settings and what it runs now, one decision: grow every server's memory,
// add a server, remove one, shrink memory, or nothing. Pure; the simulation
// in test/unit/memcached/autopilot/ is where its defaults come from
// (docs/autopilot.md has the figures).
//
//  - Out only when, for the whole evictingFor window, every poll saw memory
//    use at or above the target AND evictions above the threshold, and the
//    scale-out cooldown has passed since the last change ended. Memory first
//    (doubling, up to maxMemoryLimitMB: in place, keys kept), then one server.
//  - In only when nothing was evicted at any poll of the whole scale-in
//    cooldown and the use, after the step, would stay SCALE_IN_HEADROOM_PERCENT
//    under the target at the highest use the window saw. Servers first, then
//    memory (halving, down to memoryLimitMB): the reverse of the way out.
//  - Evidence counts only from the end of the last change (lastScaleAt), since
//    signals taken while servers restart or keys move say little; nothing is
//    decided while the servers are busy.
// One step at a time; the asymmetric cooldowns, the headroom and "every poll"
// are what keep it from flapping.
import type { AutoscalingAction, AutoscalingDecisionStatus, AutoscalingSignalsStatus } from '../../api/types.js';
import type { CacheSignals } from './signals.js';
import type { AutoscalingSettings } from './settings.js';

/** Percentage points under the target the use must stay, after a step in, to take it. */
export const SCALE_IN_HEADROOM_PERCENT = 15;
/** Memory grows by this factor a step (and shrinks by it on the way back). */
export const MEMORY_STEP_FACTOR = 2;
/** Signals older than this many of their own intervals are stale: the poll has stopped reaching the cache. */
const STALE_AFTER_INTERVALS = 3;
/** Timer jitter between two polls that a window may miss by and still count as covered. */
const COVERAGE_SLACK_MS = 1000;

export type DecisionReason =
  | 'MemoryFullAndEvicting'
  | 'WellUnderTarget'
  | 'CoolingDown'
  | 'AtMaximum'
  | 'Evicting'
  | 'EvictingUnderTarget'
  | 'OperationInProgress'
  | 'NoRecentSignals'
  | 'Steady';

export interface Decision {
  action: AutoscalingAction;
  /** Replicas (ScaleOut, ScaleIn, None) or megabytes per server (GrowMemory, ShrinkMemory). */
  from: number;
  to: number;
  reason: DecisionReason;
  message: string;
}

export interface PolicyInput {
  settings: AutoscalingSettings;
  /** Replicas and memory per server in effect (settings.ts effectiveScale). */
  replicas: number;
  memoryLimitMB: number;
  /** The cache's signals, oldest first, one per poll (keep at least the longer of evictingFor and scaleInCooldown). */
  history: readonly CacheSignals[];
  /** When the last change of replicas or memory ended (status.autoscaling.lastScaleTime); undefined: none yet. */
  lastScaleAt?: number;
  /** An operation on the servers is running (a restart, a resize, keys moving): decide nothing now. */
  busy: boolean;
  now: number;
}

const none = (input: PolicyInput, reason: DecisionReason, message: string): Decision => ({
  action: 'None',
  from: input.replicas,
  to: input.replicas,
  reason,
  message,
});

const minutes = (ms: number): string => (ms >= 60_000 ? `${+(ms / 60_000).toFixed(1)}m` : `${Math.round(ms / 1000)}s`);

/**
 * The signals that cover the window from `from` to the latest poll: those
 * taken after `from`, provided the earliest of them began (at - intervalMs)
 * by `from`, so no part of the window went unseen. Undefined when the history
 * does not reach that far back (after a change, or an operator restart). A
 * window shorter than the poll interval is covered by the latest signal.
 */
export function covering(evidence: readonly CacheSignals[], from: number): CacheSignals[] | undefined {
  const inside = evidence.filter((s) => s.at > from);
  const latest = evidence.at(-1);
  if (inside.length === 0) return latest && latest.intervalMs > 0 ? [latest] : undefined;
  const first = inside[0];
  if (first.intervalMs <= 0 || first.at - first.intervalMs > from + COVERAGE_SLACK_MS) return undefined;
  return inside;
}

const evicting = (s: CacheSignals, settings: AutoscalingSettings): boolean =>
  s.evictionsPerSecond !== undefined && s.evictionsPerSecond > settings.evictionsPerSecond;

const full = (s: CacheSignals, settings: AutoscalingSettings): boolean => s.memoryUsedPercent >= settings.targetMemoryPercent;

/** The step out: memory first, up to its ceiling, then a server; undefined at both maxima. */
function stepOut(input: PolicyInput): Pick<Decision, 'action' | 'from' | 'to'> | undefined {
  const { settings, memoryLimitMB, replicas } = input;
  if (memoryLimitMB < settings.memoryCeilingMB) {
    return { action: 'GrowMemory', from: memoryLimitMB, to: Math.min(settings.memoryCeilingMB, Math.ceil(memoryLimitMB * MEMORY_STEP_FACTOR)) };
  }
  if (replicas < settings.maxReplicas) return { action: 'ScaleOut', from: replicas, to: replicas + 1 };
  return undefined;
}

/**
 * The step in, if one keeps the use SCALE_IN_HEADROOM_PERCENT under the
 * target at the window's peak use: a server first, down to minReplicas, then
 * memory, down to memoryLimitMB.
 */
function stepIn(input: PolicyInput, peakPercent: number): { step: Pick<Decision, 'action' | 'from' | 'to'>; projected: number } | undefined {
  const { settings, memoryLimitMB, replicas } = input;
  const limit = settings.targetMemoryPercent - SCALE_IN_HEADROOM_PERCENT;
  if (replicas > settings.minReplicas) {
    const projected = (peakPercent * replicas) / (replicas - 1);
    return projected <= limit ? { step: { action: 'ScaleIn', from: replicas, to: replicas - 1 }, projected } : undefined;
  }
  if (memoryLimitMB > settings.memoryFloorMB) {
    const to = Math.max(settings.memoryFloorMB, Math.ceil(memoryLimitMB / MEMORY_STEP_FACTOR));
    const projected = (peakPercent * memoryLimitMB) / to;
    return projected <= limit ? { step: { action: 'ShrinkMemory', from: memoryLimitMB, to }, projected } : undefined;
  }
  return undefined;
}

function decideOut(input: PolicyInput, window: readonly CacheSignals[], sinceChange: number): Decision {
  const { settings } = input;
  const latest = window[window.length - 1];
  const why = `memory use ${Math.round(latest.memoryUsedPercent)}% (target ${settings.targetMemoryPercent}%) and ${latest.evictionsPerSecond!.toFixed(2)} evictions/s (threshold ${settings.evictionsPerSecond}) at every poll for ${minutes(settings.evictingForMs)}`;
  if (sinceChange < settings.scaleOutCooldownMs) {
    return none(input, 'CoolingDown', `${why}, but the last change ended ${minutes(sinceChange)} ago; the scale-out cooldown is ${minutes(settings.scaleOutCooldownMs)}`);
  }
  const step = stepOut(input);
  if (!step) {
    return none(input, 'AtMaximum', `${why}, but the cache runs maxReplicas ${settings.maxReplicas} with ${settings.memoryCeilingMB} MB each: raise autoscaling.maxReplicas or maxMemoryLimitMB`);
  }
  const what = step.action === 'GrowMemory' ? `memory per server ${step.from} -> ${step.to} MB` : `replicas ${step.from} -> ${step.to}`;
  return { ...step, reason: 'MemoryFullAndEvicting', message: `${why}: ${what}` };
}

/** Pure: the one decision for now. */
export function decide(input: PolicyInput): Decision {
  const { settings, history, now } = input;
  if (input.busy) return none(input, 'OperationInProgress', 'an operation on the servers is running; deciding after it ends');
  const evidence = history.filter((s) => input.lastScaleAt === undefined || s.at - s.intervalMs >= input.lastScaleAt);
  const latest = evidence.at(-1);
  if (!latest || now - latest.at > STALE_AFTER_INTERVALS * Math.max(latest.intervalMs, 60_000)) {
    const since = input.lastScaleAt === undefined ? '' : ' since the last change ended';
    return none(input, 'NoRecentSignals', `no recent stats from the cache${since}`);
  }
  const sinceChange = input.lastScaleAt === undefined ? Number.POSITIVE_INFINITY : now - input.lastScaleAt;

  const outWindow = covering(evidence, now - settings.evictingForMs);
  if (outWindow && outWindow.every((s) => evicting(s, settings) && full(s, settings))) return decideOut(input, outWindow, sinceChange);

  const inWindow = sinceChange >= settings.scaleInCooldownMs ? covering(evidence, now - settings.scaleInCooldownMs) : undefined;
  if (inWindow && inWindow.every((s) => s.evictionsPerSecond === 0)) {
    const peak = Math.max(...inWindow.map((s) => s.memoryUsedPercent));
    const found = stepIn(input, peak);
    if (found) {
      const { step, projected } = found;
      const what = step.action === 'ShrinkMemory' ? `memory per server ${step.from} -> ${step.to} MB` : `replicas ${step.from} -> ${step.to}`;
      return {
        ...step,
        reason: 'WellUnderTarget',
        message: `no evictions for ${minutes(settings.scaleInCooldownMs)} and memory use at most ${Math.round(peak)}%, about ${Math.round(projected)}% after the step (target ${settings.targetMemoryPercent}%): ${what}`,
      };
    }
  }
  if (evicting(latest, settings) && full(latest, settings)) {
    return none(input, 'Evicting', `evicting with memory use ${Math.round(latest.memoryUsedPercent)}% (target ${settings.targetMemoryPercent}%): the cache grows if every poll says so for ${minutes(settings.evictingForMs)}`);
  }
  if (evicting(latest, settings)) {
    return none(
      input,
      'EvictingUnderTarget',
      `evicting with memory use ${Math.round(latest.memoryUsedPercent)}%, under the target ${settings.targetMemoryPercent}%: items of some sizes crowd out others (memcached's slab classes) rather than the cache being short of memory, so it does not grow; lower autoscaling.targetMemoryPercent if more memory does help`,
    );
  }
  return none(input, 'Steady', `memory use ${Math.round(latest.memoryUsedPercent)}% (target ${settings.targetMemoryPercent}%)`);
}

/** A rate as the CRD writes decimals: at most two decimals, no exponent. */
const decimalText = (n: number): string => String(Math.round(n * 100) / 100);

/** Pure: a poll's signals as status.autoscaling.lastDecision.signals (whole percents and decimal strings). */
export function signalsStatus(s: CacheSignals): AutoscalingSignalsStatus {
  return {
    memoryUsedPercent: Math.round(s.memoryUsedPercent),
    memoryUsedPercentMax: Math.round(s.memoryUsedPercentMax),
    ...(s.evictionsPerSecond !== undefined ? { evictionsPerSecond: decimalText(s.evictionsPerSecond) } : {}),
    ...(s.hitRatio !== undefined ? { hitRatioPercent: Math.round(s.hitRatio * 100) } : {}),
    ...(s.requestsPerSecond !== undefined ? { requestsPerSecond: decimalText(s.requestsPerSecond) } : {}),
    connections: s.connections,
  };
}

/** Reasons that say nothing lasting (a change running, its first poll after): they never replace the last decision. */
const TRANSIENT: ReadonlySet<DecisionReason> = new Set(['OperationInProgress', 'NoRecentSignals']);
/** Reasons for doing nothing that the user may have to act on: they replace even a recorded step. */
const NOTEWORTHY: ReadonlySet<DecisionReason> = new Set(['AtMaximum', 'EvictingUnderTarget']);

/**
 * Pure: status.autoscaling.lastDecision after a decision. It shows the last
 * step taken, or why there is none: a step always replaces it; doing nothing
 * replaces a step only for a reason to act on (AtMaximum,
 * EvictingUnderTarget), and another "nothing" only when the reason changed;
 * transient reasons replace nothing. So a steady cache writes nothing, and
 * a step stays visible until something else worth saying happens.
 */
export function nextDecisionStatus(
  previous: AutoscalingDecisionStatus | undefined,
  decision: Decision,
  latest: CacheSignals | undefined,
  now: Date,
): AutoscalingDecisionStatus | undefined {
  const record = (): AutoscalingDecisionStatus => ({
    time: now.toISOString(),
    action: decision.action,
    from: decision.from,
    to: decision.to,
    reason: decision.reason,
    message: decision.message,
    ...(latest ? { signals: signalsStatus(latest) } : {}),
  });
  if (decision.action !== 'None') return record();
  if (TRANSIENT.has(decision.reason)) return previous;
  if (!previous) return record();
  if (previous.action !== 'None') return NOTEWORTHY.has(decision.reason) ? record() : previous;
  return previous.reason === decision.reason ? previous : record();
}
