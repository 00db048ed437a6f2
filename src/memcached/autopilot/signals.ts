// The auto pilot's signals: from two successive polls of one cache's pods
// (the `stats` samples of src/memcached/monitoring/usage.ts) to the cache's
// memory use, eviction rate, hit ratio, request rate and connections. Pure.
//
// Counters are compared pod by pod with the previous poll. A pod whose
// counters started over (memcached restarted: a warm restart, a resize, a
// replaced pod keeping its name) gives no rate for that interval, rather than
// a negative or a huge one; the pods that do give one stand for the others
// (ketama spreads keys, and so load, evenly), so a restart does not read as a
// drop in traffic.
import type { PodSample } from '../monitoring/usage.js';

/** One poll of one cache: the samples of the pods it read, and when (ms since the epoch). */
export interface CacheReading {
  at: number;
  pods: readonly PodSample[];
}

/** What the auto pilot knows about a cache after one poll. Rates are per second over the whole cache. */
export interface CacheSignals {
  at: number;
  /** The span the rates cover (ms): since the previous poll. */
  intervalMs: number;
  /** Pods read with a memory limit. */
  pods: number;
  /** memcached's bytes over limit_maxbytes, in percent: the mean over the pods, and the fullest pod. */
  memoryUsedPercent: number;
  memoryUsedPercentMax: number;
  /** Undefined when no pod had a comparable previous sample. */
  evictionsPerSecond?: number;
  /** Gets, sets and touches. */
  requestsPerSecond?: number;
  getsPerSecond?: number;
  /** Hits over gets (0 to 1); undefined with fewer than HIT_RATIO_MIN_GETS gets in the interval. */
  hitRatio?: number;
  /** curr_connections summed over the pods. */
  connections: number;
}

/** Polls closer than this give no rates (a rate over a few milliseconds says nothing). */
export const MIN_INTERVAL_MS = 1000;
/** Gets an interval needs for its hit ratio to mean something (the binomial spread at 30 gets and 90% is 5 points). */
export const HIT_RATIO_MIN_GETS = 30;

const COUNTERS = ['evictions', 'getHits', 'getMisses', 'cmdGet', 'cmdSet', 'cmdTouch'] as const;
type Counter = (typeof COUNTERS)[number];
type Deltas = Record<Counter, number>;

/**
 * Pure: whether a pod's counters started over between two samples: a counter
 * or the uptime went down, or the uptime grew by clearly less than the time
 * between the polls (memcached restarted within the interval and has run
 * longer since than it had before).
 */
export function countersRestarted(before: PodSample, now: PodSample, intervalSeconds: number): boolean {
  if (now.uptime < before.uptime) return true;
  if (COUNTERS.some((key) => now[key] < before[key])) return true;
  if (before.uptime === 0 && now.uptime === 0) return false;
  const slack = Math.max(2, 0.1 * intervalSeconds);
  return now.uptime - before.uptime < intervalSeconds - slack;
}

function deltasOf(before: PodSample, now: PodSample): Deltas {
  return Object.fromEntries(COUNTERS.map((key) => [key, now[key] - before[key]])) as Deltas;
}

/** Sums of the counters' increases over the pods that have comparable samples, and how many pods that is. */
function summedDeltas(
  previous: CacheReading | undefined,
  pods: readonly PodSample[],
  intervalSeconds: number,
): { sums: Deltas; counted: number } {
  const sums = Object.fromEntries(COUNTERS.map((key) => [key, 0])) as Deltas;
  let counted = 0;
  if (!previous || intervalSeconds * 1000 < MIN_INTERVAL_MS) return { sums, counted };
  const before = new Map(previous.pods.filter(usable).map((s) => [s.pod, s]));
  for (const now of pods) {
    const then = before.get(now.pod);
    if (!then || countersRestarted(then, now, intervalSeconds)) continue;
    const d = deltasOf(then, now);
    for (const key of COUNTERS) sums[key] += d[key];
    counted++;
  }
  return { sums, counted };
}

/** A sample that says something: read (not a refused poll's stand-in) and with a memory limit. */
function usable(s: PodSample): boolean {
  return !s.refusedPoll && s.limitBytes > 0;
}

/**
 * Pure: the cache's signals from this poll and the previous one (undefined
 * for the first). Undefined when no pod was read with a memory limit.
 */
export function signalsOf(previous: CacheReading | undefined, current: CacheReading): CacheSignals | undefined {
  const pods = current.pods.filter(usable);
  if (pods.length === 0) return undefined;
  const shares = pods.map((s) => (100 * s.bytes) / s.limitBytes);
  const intervalMs = previous ? current.at - previous.at : 0;
  const signals: CacheSignals = {
    at: current.at,
    intervalMs,
    pods: pods.length,
    memoryUsedPercent: shares.reduce((a, b) => a + b, 0) / shares.length,
    memoryUsedPercentMax: Math.max(...shares),
    connections: pods.reduce((sum, s) => sum + s.currConnections, 0),
  };
  const { sums, counted } = summedDeltas(previous, pods, intervalMs / 1000);
  if (counted === 0) return signals;
  // The pods with rates stand for those without (restarted or new).
  const perSecond = (n: number): number => (n / (intervalMs / 1000)) * (pods.length / counted);
  const gets = sums.getHits + sums.getMisses;
  return {
    ...signals,
    evictionsPerSecond: perSecond(sums.evictions),
    requestsPerSecond: perSecond(sums.cmdGet + sums.cmdSet + sums.cmdTouch),
    getsPerSecond: perSecond(gets),
    ...(gets >= HIT_RATIO_MIN_GETS ? { hitRatio: sums.getHits / gets } : {}),
  };
}

/** Pure: the signals taken at or after `from` (ms), oldest first; history is kept oldest first. */
export function signalsSince(history: readonly CacheSignals[], from: number): CacheSignals[] {
  return history.filter((s) => s.at >= from);
}
