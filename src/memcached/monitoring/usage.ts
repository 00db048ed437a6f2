// Is a cache saturated, is it evicting? (The usage conditions and their Events.) The
// operator reads the same `stats` Prometheus does, in a slow, bounded poll
// (UsagePoller, leader only, off by default out of cluster), and reports two
// conditions on the Memcached: Saturated and Evicting. The poller enqueues a
// Memcached only when its state changes, and the reconciler writes status
// only when it differs, so an idle cache causes no writes.
import type { V1Pod } from '@kubernetes/client-node';
import {
  errorMessage,
  findCondition,
  realClock,
  setCondition,
  type Clock,
  type ConditionUpdate,
  type Logger,
  type Request,
  type Runnable,
} from '@memcached-operator/runtime';
import type { Condition, ConditionStatus, Memcached } from '../../api/types.js';
import { CONTAINER_NAME, PLAINTEXT_PORT_NAME, PORT_NAME } from '../children/statefulset.js';
import { selectorLabels } from '../children/metadata.js';
import { isServing } from '../pods.js';

export const CONDITION_SATURATED = 'Saturated';
export const CONDITION_EVICTING = 'Evicting';
/** Share of max_connections in use from which a pod counts as saturated. */
export const SATURATED_CONNECTIONS_SHARE = 0.9;

/**
 * The counters and gauges of one pod's `stats` this logic and the auto pilot
 * (src/memcached/autopilot/signals.ts: hit ratio, request rate, restarts)
 * read.
 */
export interface PodSample {
  pod: string;
  currConnections: number;
  maxConnections: number;
  rejectedConnections: number;
  listenDisabled: number;
  evictions: number;
  bytes: number;
  limitBytes: number;
  /** Seconds since memcached started: a smaller one means the counters started over. */
  uptime: number;
  getHits: number;
  getMisses: number;
  cmdGet: number;
  cmdSet: number;
  cmdTouch: number;
  /**
   * memcached refused the poll's own connection at its limit ("ERROR Too
   * many open connections"): saturated now, though no stats could be read
   * (the counters are the pod's last ones).
   */
  refusedPoll?: boolean;
}

/** memcached's answer to a connection it refuses at its limit (-c), as the memcached client (src/protocol) reports it. */
export const REFUSED_AT_LIMIT = /Too many open connections/;

export interface UsageState {
  saturated: ConditionUpdate;
  evicting: ConditionUpdate;
}

const num = (stats: Map<string, string>, key: string): number => Number(stats.get(key) ?? 0) || 0;

/** Pure: the fields of a `stats` reply this logic uses. */
export function sampleOf(pod: string, stats: Map<string, string>): PodSample {
  return {
    pod,
    currConnections: num(stats, 'curr_connections'),
    maxConnections: num(stats, 'max_connections'),
    rejectedConnections: num(stats, 'rejected_connections'),
    listenDisabled: num(stats, 'listen_disabled_num'),
    evictions: num(stats, 'evictions'),
    bytes: num(stats, 'bytes'),
    limitBytes: num(stats, 'limit_maxbytes'),
    uptime: num(stats, 'uptime'),
    getHits: num(stats, 'get_hits'),
    getMisses: num(stats, 'get_misses'),
    cmdGet: num(stats, 'cmd_get'),
    cmdSet: num(stats, 'cmd_set'),
    cmdTouch: num(stats, 'cmd_touch'),
  };
}

const percent = (part: number, whole: number): string => `${whole > 0 ? Math.round((part / whole) * 100) : 0}%`;

function update(type: string, status: ConditionStatus, reason: string, message: string): ConditionUpdate {
  return { type, status, reason, message };
}

/**
 * Pure: the two conditions from this poll's samples and the previous poll's
 * (by pod). Counters are compared with the previous sample of the same pod;
 * a pod seen for the first time, or whose counters went down (memcached
 * restarted), contributes no increase. Messages name the pods, not numbers
 * that change each poll, so a steady state reads the same and writes nothing.
 */
export function usageState(samples: readonly PodSample[], previous: ReadonlyMap<string, PodSample>): UsageState {
  const rose = (s: PodSample, key: 'rejectedConnections' | 'listenDisabled' | 'evictions'): boolean => {
    const before = previous.get(s.pod);
    return before !== undefined && s[key] > before[key];
  };
  const busy = samples.filter((s) => s.maxConnections > 0 && s.currConnections >= SATURATED_CONNECTIONS_SHARE * s.maxConnections);
  const refusing = samples.filter((s) => s.refusedPoll || rose(s, 'rejectedConnections') || rose(s, 'listenDisabled'));
  const evicting = samples.filter((s) => rose(s, 'evictions'));
  const names = (list: PodSample[]): string => list.map((s) => s.pod).sort().join(', ');

  let saturated: ConditionUpdate;
  if (refusing.length > 0) {
    saturated = update(CONDITION_SATURATED, 'True', 'ConnectionsRejected', `memcached refused connections at its limit (-c) in pods ${names(refusing)}; raise spec.maxConnections or add replicas`);
  } else if (busy.length > 0) {
    saturated = update(CONDITION_SATURATED, 'True', 'ConnectionsNearLimit', `pods ${names(busy)} use at least ${percent(SATURATED_CONNECTIONS_SHARE, 1)} of their connection limit (-c); raise spec.maxConnections or add replicas`);
  } else {
    saturated = update(CONDITION_SATURATED, 'False', 'BelowLimits', 'Connections are below the limit');
  }
  const evictingUpdate =
    evicting.length > 0
      ? update(CONDITION_EVICTING, 'True', 'ItemsEvicted', `pods ${names(evicting)} evict items to make room: the working set is larger than memoryLimitMB; raise it or add replicas`)
      : update(CONDITION_EVICTING, 'False', 'NoEvictions', 'No items evicted since the last look');
  return { saturated, evicting: evictingUpdate };
}

/**
 * Pure: conditions with the usage conditions set (state known) or carried
 * over as they were (no observation yet, or the poller is off).
 */
export function withUsageConditions(
  conditions: Condition[] | undefined,
  previous: readonly Condition[] | undefined,
  state: UsageState | undefined,
  now: Date,
): Condition[] {
  let list = [...(conditions ?? [])];
  for (const [type, next] of [[CONDITION_SATURATED, state?.saturated], [CONDITION_EVICTING, state?.evicting]] as const) {
    const before = findCondition(previous, type);
    if (next) list = setCondition(before ? [...list, before] : list, next, now);
    else if (before && !findCondition(list, type)) list.push(before);
  }
  return list;
}

/** Pure: the port a pod's stats are read on (the plaintext listener, if there is one). */
export function statsPortOf(pod: V1Pod): number | undefined {
  const ports = pod.spec?.containers.find((c) => c.name === CONTAINER_NAME)?.ports ?? [];
  return (ports.find((p) => p.name === PLAINTEXT_PORT_NAME) ?? ports.find((p) => p.name === PORT_NAME))?.containerPort;
}

/** Another reader of each poll (the auto pilot's memory, autopilot/memory.ts). */
export interface UsageObserver {
  /** One poll of one cache; true asks for a reconcile of it whatever the conditions say. */
  record(mc: Memcached, reading: { at: number; pods: readonly PodSample[] }): boolean;
  /** The Memcacheds that still exist, after each poll. */
  retain(live: readonly Memcached[]): void;
}

export interface UsagePollerOptions {
  memcacheds: { list(): Memcached[] };
  pods: { list(namespace?: string): V1Pod[] };
  /** Reads `stats` (the memcached client's fetchStats, through the pod's TLS and auth). */
  fetch: (target: { host: string; port: number }, timeoutMs: number) => Promise<Map<string, string>>;
  /** Called with a Memcached whose state changed. */
  onChange: (req: Request) => void;
  observer?: UsageObserver;
  intervalMs: number;
  /** Pods read at once. */
  maxConcurrent?: number;
  /** At most this many pods per poll; the rest wait for the next one. */
  maxPodsPerPoll?: number;
  logger: Logger;
  clock?: Clock;
}

/** The poll: a leader runnable, so only one replica reads the caches. */
export class UsagePoller implements Runnable {
  readonly name = 'memcached-usage';
  private readonly clock: Clock;
  private readonly samples = new Map<string, PodSample>();
  private readonly states = new Map<string, { state: UsageState; key: string }>();
  private timer: unknown;
  private stopped = false;
  private cursor = 0;

  constructor(private readonly options: UsagePollerOptions) {
    this.clock = options.clock ?? realClock;
  }

  /** The usage of a Memcached as last observed; undefined before its first complete look. */
  stateOf(mc: Memcached): UsageState | undefined {
    return this.states.get(`${mc.metadata.namespace}/${mc.metadata.name}`)?.state;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    return Promise.resolve();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.poll()
        .catch((err: unknown) => this.options.logger.error('usage poll failed', { error: errorMessage(err) }))
        .finally(() => this.schedule());
    }, this.options.intervalMs);
  }

  /** One pass over (a bounded share of) the Memcacheds; exported for tests through poll(). */
  async poll(): Promise<void> {
    const maxPods = this.options.maxPodsPerPoll ?? 500;
    const all = this.options.memcacheds.list().sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    if (all.length === 0) return;
    // Round-robin from where the last poll stopped, whole Memcacheds at a time.
    const batch: { mc: Memcached; pods: V1Pod[] }[] = [];
    let pods = 0;
    for (let i = 0; i < all.length && pods < maxPods; i++) {
      const mc = all[(this.cursor + i) % all.length];
      const selector = selectorLabels(mc);
      const mine = this.options.pods
        .list(mc.metadata.namespace)
        .filter((p) => isServing(p) && Object.entries(selector).every(([k, v]) => p.metadata?.labels?.[k] === v));
      batch.push({ mc, pods: mine });
      pods += mine.length;
    }
    this.cursor = (this.cursor + batch.length) % all.length;

    const work = batch.flatMap(({ pods: list }) => list);
    const read = new Map<string, PodSample>();
    const refused = new Set<string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < work.length) {
        const pod = work[next++];
        const port = statsPortOf(pod);
        const ip = pod.status?.podIP;
        if (!port || !ip) continue;
        const uid = pod.metadata!.uid ?? pod.metadata!.name!;
        try {
          read.set(uid, sampleOf(pod.metadata!.name!, await this.options.fetch({ host: ip, port }, 1000)));
        } catch (err) {
          // At its connection limit memcached refuses the poll too: that is
          // the saturation itself, not a pod that cannot be read.
          if (REFUSED_AT_LIMIT.test(errorMessage(err))) refused.add(uid);
          else this.options.logger.debug('cannot read stats', { pod: pod.metadata?.name, error: errorMessage(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.maxConcurrent ?? 4, work.length) }, worker));
    if (this.stopped) return;

    for (const { mc, pods: list } of batch) {
      const keyed = list.map((p) => [p.metadata!.uid ?? p.metadata!.name!, read.get(p.metadata!.uid ?? p.metadata!.name!)] as const);
      const previous = new Map(keyed.flatMap(([uid]) => (this.samples.has(uid) ? [[this.samples.get(uid)!.pod, this.samples.get(uid)!] as const] : [])));
      // A refused poll stands in with the pod's last counters (unchanged, so
      // no rise is made up) and is not kept: the next real read compares with
      // the last real one.
      const samples = keyed.flatMap(([uid, s], i) => {
        if (s) return [s];
        if (!refused.has(uid)) return [];
        const name = list[i].metadata!.name!;
        return [{ ...(previous.get(name) ?? sampleOf(name, new Map())), pod: name, refusedPoll: true }];
      });
      for (const [uid, s] of keyed) if (s) this.samples.set(uid, s);
      if (samples.length === 0) continue;
      const observed = this.options.observer?.record(mc, { at: this.clock.now(), pods: samples }) ?? false;
      const state = usageState(samples, previous);
      const id = `${mc.metadata.namespace}/${mc.metadata.name}`;
      const key = JSON.stringify(state);
      const changed = this.states.get(id)?.key !== key;
      this.states.set(id, { state, key });
      if (changed || observed) this.options.onChange({ namespace: mc.metadata.namespace!, name: mc.metadata.name! });
    }
    this.options.observer?.retain(all);
    // Forget pods that are gone, so the maps stay bounded.
    const live = new Set(this.options.memcacheds.list().flatMap((mc) => this.options.pods.list(mc.metadata.namespace).map((p) => p.metadata?.uid ?? p.metadata?.name)));
    for (const uid of this.samples.keys()) if (!live.has(uid)) this.samples.delete(uid);
    const liveMcs = new Set(all.map((mc) => `${mc.metadata.namespace}/${mc.metadata.name}`));
    for (const id of this.states.keys()) if (!liveMcs.has(id)) this.states.delete(id);
  }
}
