// A cache under load, minute by minute, for the auto pilot's simulations:
// enough of memcached's behaviour to check the policy's decisions against,
// fed to it through the same path the operator uses (per-pod stats counters
// -> signalsOf -> decide) on a fake clock.
//
// The model: clients read a working set of W MB (items live for a TTL), a
// cache-aside client sets what it missed. The servers hold B MB; a full
// server holds FULL_SHARE of its -m (memcached's bytes over limit_maxbytes
// when evicting: measured 69 to 95%, 88% typical). With W above the
// capacity C = replicas x memory x FULL_SHARE, the cache is full, hits C/W
// of the gets, and every set of a missed item evicts one. Under it, B grows
// with the sets toward W, and shrinks toward W with the TTL when W drops.
// Changes take time (a server restarts per memory step, keys move on a
// scale), the servers' counters start over on a restart, and the reading
// of memory has a little noise per pod, as ketama's spread has.
import { FakeClock } from '@memcached-operator/runtime/testing';
import type { PodSample } from '../../../../src/memcached/monitoring/usage.js';
import { decide, type Decision } from '../../../../src/memcached/autopilot/policy.js';
import type { AutoscalingSettings } from '../../../../src/memcached/autopilot/settings.js';
import { signalsOf, type CacheReading, type CacheSignals } from '../../../../src/memcached/autopilot/signals.js';
import { normal, uniform } from './random.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const FULL_SHARE = 0.88;
const ITEM_KB = 4;
const TTL_MS = 30 * MINUTE;
/** A scale moves keys for this long; a memory step restarts one server after the other, this long each. */
const SCALE_MS = 2 * MINUTE;
const RESTART_MS = MINUTE;

export interface Load {
  /** The working set (MB) and gets per second at time t (ms since the start). */
  workingSetMB: (t: number) => number;
  getsPerSecond: (t: number) => number;
}

export interface SimulationResult {
  actions: { t: number; action: Decision['action']; from: number; to: number; reason: string }[];
  replicas: number;
  memoryLimitMB: number;
  /** Minutes in which the cache evicted, and when each was. */
  evictingMinutes: number[];
  /** Decisions by reason, every poll. */
  reasons: Record<string, number>;
}

interface Server {
  name: string;
  uptimeS: number;
  evictions: number;
  hits: number;
  misses: number;
  sets: number;
}

/** One cache, minute by minute. */
class CacheModel {
  servers: Server[] = [];
  storedMB: number;
  private next = 0;

  constructor(
    public replicas: number,
    public memoryLimitMB: number,
    initialStoredMB: number,
  ) {
    for (let i = 0; i < replicas; i++) this.addServer();
    this.storedMB = initialStoredMB;
  }

  capacityMB(): number {
    return this.replicas * this.memoryLimitMB * FULL_SHARE;
  }

  addServer(): void {
    this.servers.push({ name: `cache-${this.next++}`, uptimeS: 0, evictions: 0, hits: 0, misses: 0, sets: 0 });
  }

  /** One minute of load; returns the evictions it caused. */
  minute(workingSetMB: number, getsPerSecond: number): number {
    const capacity = this.capacityMB();
    const cached = Math.min(this.storedMB, workingSetMB, capacity);
    const hitRatio = workingSetMB > 0 ? cached / workingSetMB : 1;
    const gets = getsPerSecond * 60;
    const sets = gets * (1 - hitRatio);
    const setMB = (sets * ITEM_KB) / 1024;
    let evictions = 0;
    if (this.storedMB + setMB > capacity) {
      evictions = ((this.storedMB + setMB - capacity) * 1024) / ITEM_KB;
      this.storedMB = capacity;
    } else {
      this.storedMB += setMB;
    }
    // Items beyond the working set expire (memcached's LRU crawler reclaims them).
    if (this.storedMB > workingSetMB) this.storedMB = workingSetMB + (this.storedMB - workingSetMB) * Math.exp(-MINUTE / TTL_MS);
    const n = this.servers.length;
    for (const s of this.servers) {
      s.uptimeS += 60;
      s.evictions += Math.round(evictions / n);
      s.hits += Math.round((gets * hitRatio) / n);
      s.misses += Math.round((gets * (1 - hitRatio)) / n);
      s.sets += Math.round(sets / n);
    }
    return evictions;
  }

  samples(noise: () => number): PodSample[] {
    const perServer = this.storedMB / this.servers.length;
    return this.servers.map((s) => ({
      pod: s.name, currConnections: 20, maxConnections: 1024, rejectedConnections: 0, listenDisabled: 0,
      evictions: s.evictions, bytes: Math.max(0, perServer * (1 + 0.03 * noise())) * 1024 * 1024, limitBytes: this.memoryLimitMB * 1024 * 1024,
      uptime: s.uptimeS, getHits: s.hits, getMisses: s.misses, cmdGet: s.hits + s.misses, cmdSet: s.sets, cmdTouch: 0,
    }));
  }

  /** Applies a decision; returns how long the servers are busy with it (ms). */
  apply(decision: Decision): number {
    switch (decision.action) {
      case 'ScaleOut':
        for (let i = this.replicas; i < decision.to; i++) this.addServer();
        this.replicas = decision.to;
        return SCALE_MS;
      case 'ScaleIn':
        this.servers = this.servers.slice(0, decision.to);
        this.replicas = decision.to;
        this.storedMB = Math.min(this.storedMB, this.capacityMB());
        return SCALE_MS;
      case 'GrowMemory':
      case 'ShrinkMemory':
        this.memoryLimitMB = decision.to;
        this.storedMB = Math.min(this.storedMB, this.capacityMB());
        // Each server restarts in place, its keys kept; its counters start over.
        this.servers = this.servers.map((s) => ({ ...s, uptimeS: 0, evictions: 0, hits: 0, misses: 0, sets: 0 }));
        return RESTART_MS * this.replicas;
      default:
        return 0;
    }
  }
}

/**
 * Runs the policy against the model for durationMs, polling every minute on
 * a fake clock. The reconciler's part is played here: busy while a change
 * runs, lastScaleAt when it ends.
 */
export function simulate(
  settings: AutoscalingSettings,
  start: { replicas: number; memoryLimitMB: number; storedMB?: number },
  load: Load,
  durationMs: number,
  seed = 1,
): SimulationResult {
  const clock = new FakeClock(Date.UTC(2026, 0, 5));
  const origin = clock.now();
  const noise = normal(uniform(seed));
  const model = new CacheModel(start.replicas, start.memoryLimitMB, start.storedMB ?? Math.min(load.workingSetMB(0), start.replicas * start.memoryLimitMB * FULL_SHARE));
  const result: SimulationResult = { actions: [], replicas: 0, memoryLimitMB: 0, evictingMinutes: [], reasons: {} };
  const keep = Math.max(settings.evictingForMs, settings.scaleInCooldownMs) + 5 * MINUTE;
  let history: CacheSignals[] = [];
  let previous: CacheReading | undefined;
  let busyUntil = 0;
  let lastScaleAt: number | undefined;
  while (clock.now() - origin < durationMs) {
    clock.advance(MINUTE);
    const now = clock.now();
    const t = now - origin;
    const evictions = model.minute(load.workingSetMB(t), load.getsPerSecond(t) * Math.exp(0.05 * noise()));
    if (evictions > 0) result.evictingMinutes.push(t);
    const reading: CacheReading = { at: now, pods: model.samples(noise) };
    const signals = signalsOf(previous, reading);
    previous = reading;
    if (signals) history = [...history.filter((s) => s.at > now - keep), signals];
    if (busyUntil !== 0 && now >= busyUntil) {
      lastScaleAt = busyUntil;
      busyUntil = 0;
    }
    const decision = decide({ settings, replicas: model.replicas, memoryLimitMB: model.memoryLimitMB, history, lastScaleAt, busy: busyUntil !== 0, now });
    result.reasons[decision.reason] = (result.reasons[decision.reason] ?? 0) + 1;
    if (decision.action === 'None') continue;
    result.actions.push({ t, action: decision.action, from: decision.from, to: decision.to, reason: decision.reason });
    busyUntil = now + model.apply(decision);
  }
  result.replicas = model.replicas;
  result.memoryLimitMB = model.memoryLimitMB;
  return result;
}
