// What the auto pilot remembers of each cache between polls: the last
// reading (rates need two), the signals of the recent past (the policy's
// windows), and the anomaly baseline with its latest verdict. The stats poll
// (monitoring/usage.ts) feeds it; the reconciler reads it. In memory only:
// the baseline is also stored in the cache's <name>-baseline ConfigMap
// (baselinestore.ts) and taken back from there the first time a cache is
// seen, so an operator restart keeps what was learned. Signal history is not
// kept over a restart: the policy then waits for a whole window of new polls
// before a step, which is what keeps a restart from scaling twice.
import type { Memcached, MemcachedSpec } from '../../api/types.js';
import { applyDefaults } from '../../api/validator.js';
import { observe as observeBaseline, parseBaseline, type BaselineState, type Verdict } from './baseline.js';
import { anomalySettings, autoscalingSettings } from './settings.js';
import { signalsOf, type CacheReading, type CacheSignals } from './signals.js';

/** Signals kept per cache at most, whatever the windows (a 10 s poll over an hour's cooldown is 360). */
const MAX_HISTORY = 1000;

interface CacheMemory {
  previous?: CacheReading;
  history: CacheSignals[];
  baseline?: BaselineState;
  verdict?: Verdict;
  /** The stored baseline was looked for (once per cache and operator run). */
  restored: boolean;
}

export interface AutopilotMemoryOptions {
  /** The stored baseline of a cache (its <name>-baseline ConfigMap), if any. */
  storedBaseline: (mc: Memcached) => string | undefined;
}

const idOf = (mc: Memcached): string => mc.metadata.uid ?? `${mc.metadata.namespace}/${mc.metadata.name}`;

/** Pure: the history after a new signal, trimmed to the window (plus one older signal, so the window's start is covered) and MAX_HISTORY. */
export function trimmedHistory(history: readonly CacheSignals[], next: CacheSignals, windowMs: number): CacheSignals[] {
  const all = [...history, next];
  const from = next.at - windowMs;
  const firstInside = all.findIndex((s) => s.at > from);
  const start = Math.max(0, (firstInside < 0 ? all.length : firstInside) - 1, all.length - MAX_HISTORY);
  return all.slice(start);
}

export class AutopilotMemory {
  private readonly caches = new Map<string, CacheMemory>();

  constructor(private readonly options: AutopilotMemoryOptions) {}

  /**
   * One poll's reading of a cache. Returns true when the auto pilot acts on
   * this cache (autoscaling or anomaly detection on): the caller then asks
   * for a reconcile, which decides.
   */
  record(mc: Memcached, reading: CacheReading): boolean {
    const window = autoscalingWindowMs(mc.spec ?? {});
    const detection = anomalySettings(mc.spec ?? {});
    if (window === undefined && detection === undefined) {
      this.caches.delete(idOf(mc));
      return false;
    }
    const memory = this.memoryOf(mc);
    const signals = signalsOf(memory.previous, reading);
    memory.previous = reading;
    if (!signals) return true;
    memory.history = trimmedHistory(memory.history, signals, window ?? 0);
    if (detection?.ok) {
      const { state, verdict } = observeBaseline(memory.baseline, signals, detection.settings);
      memory.baseline = state;
      memory.verdict = verdict;
    }
    return true;
  }

  /** The signals of the recent past, oldest first. */
  history(mc: Memcached): readonly CacheSignals[] {
    return this.caches.get(idOf(mc))?.history ?? [];
  }

  /** The anomaly baseline and the verdict of the last poll; undefined before the first poll with rates. */
  anomaly(mc: Memcached): { baseline: BaselineState; verdict: Verdict } | undefined {
    const memory = this.caches.get(idOf(mc));
    return memory?.baseline && memory.verdict ? { baseline: memory.baseline, verdict: memory.verdict } : undefined;
  }

  /** Forgets the caches not in `live` (deleted Memcacheds), so memory stays bounded. */
  retain(live: readonly Memcached[]): void {
    const ids = new Set(live.map(idOf));
    for (const id of this.caches.keys()) if (!ids.has(id)) this.caches.delete(id);
  }

  private memoryOf(mc: Memcached): CacheMemory {
    const id = idOf(mc);
    let memory = this.caches.get(id);
    if (!memory) {
      memory = { history: [], restored: false };
      this.caches.set(id, memory);
    }
    if (!memory.restored) {
      memory.restored = true;
      const stored = parseBaseline(this.options.storedBaseline(mc));
      if (stored) memory.baseline = stored;
    }
    return memory;
  }
}

/**
 * Pure: how far back the policy looks for a cache (the longer of evictingFor
 * and the scale-in cooldown), or undefined when it does not scale. The
 * topology only narrows the replica bounds, so any will do here.
 */
export function autoscalingWindowMs(spec: MemcachedSpec): number | undefined {
  if (applyDefaults(spec).autoscaling?.enabled !== true) return undefined;
  const parsed = autoscalingSettings(spec, 'HighlyAvailable');
  return parsed.ok ? Math.max(parsed.settings.evictingForMs, parsed.settings.scaleInCooldownMs) : undefined;
}
