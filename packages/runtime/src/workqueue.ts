// A keyed work queue with client-go semantics:
//  - a key is queued at most once (the dirty set deduplicates adds);
//  - a key handed to a worker is "processing"; adding it again meanwhile only
//    marks it dirty, and it is re-queued when the worker calls done(), so no
//    key is ever processed by two workers at once;
//  - delayed adds (addAfter) keep only the earliest pending deadline per key;
//  - coalesced adds (addCoalesced, ours) wait for a quiet moment: each new
//    event moves the deadline, up to a cap from the first, and an immediate
//    add makes a pending coalesced one pointless, so it is dropped;
//  - rate-limited adds delay by the rate limiter's verdict.
// Unlike client-go, a shut-down queue hands out no further work: get() resolves
// undefined at once, which is what "stop taking work" needs.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { realClock, type Clock } from './clock.js';
import { defaultControllerRateLimiter, type RateLimiter } from './ratelimiter.js';
import { perRegistry } from './metrics.js';

export interface WorkQueueOptions<K> {
  /** The `controller` and `name` labels of every metric, as in controller-runtime (both the controller's name). */
  name: string;
  clock?: Clock;
  rateLimiter?: RateLimiter<K>;
  /** Metrics are registered here; no metrics without a registry. */
  registry?: Registry;
}

/** Metric names as in controller-runtime, so existing dashboards work. */
export const WORKQUEUE_METRIC_NAMES = {
  depth: 'workqueue_depth',
  adds: 'workqueue_adds_total',
  retries: 'workqueue_retries_total',
  queueDuration: 'workqueue_queue_duration_seconds',
  workDuration: 'workqueue_work_duration_seconds',
  unfinishedWork: 'workqueue_unfinished_work_seconds',
  longestRunning: 'workqueue_longest_running_processor_seconds',
} as const;

// 10ns .. 1000s, like controller-runtime's ExponentialBuckets(10e-9, 10, 12).
const DURATION_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * Math.pow(10, i));

interface ProcessingTimes {
  unfinishedWorkSeconds(): number;
  longestRunningProcessorSeconds(): number;
}

class WorkqueueMetricFamily {
  readonly depth: Gauge<'controller' | 'name'>;
  readonly adds: Counter<'controller' | 'name'>;
  readonly retries: Counter<'controller' | 'name'>;
  readonly queueDuration: Histogram<'controller' | 'name'>;
  readonly workDuration: Histogram<'controller' | 'name'>;
  readonly liveQueues = new Map<string, ProcessingTimes>();

  constructor(registry: Registry) {
    const registers = [registry];
    const liveQueues = this.liveQueues;
    this.depth = new Gauge({ name: WORKQUEUE_METRIC_NAMES.depth, help: 'Current depth of workqueue', labelNames: ['controller', 'name'], registers });
    this.adds = new Counter({ name: WORKQUEUE_METRIC_NAMES.adds, help: 'Total number of adds handled by workqueue', labelNames: ['controller', 'name'], registers });
    this.retries = new Counter({ name: WORKQUEUE_METRIC_NAMES.retries, help: 'Total number of retries handled by workqueue', labelNames: ['controller', 'name'], registers });
    this.queueDuration = new Histogram({
      name: WORKQUEUE_METRIC_NAMES.queueDuration,
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['controller', 'name'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.workDuration = new Histogram({
      name: WORKQUEUE_METRIC_NAMES.workDuration,
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: ['controller', 'name'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    // These two are computed at scrape time from the live queues' in-flight items.
    new Gauge({
      name: WORKQUEUE_METRIC_NAMES.unfinishedWork,
      help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration',
      labelNames: ['controller', 'name'],
      registers,
      collect() {
        for (const [name, queue] of liveQueues) this.set({ controller: name, name }, queue.unfinishedWorkSeconds());
      },
    });
    new Gauge({
      name: WORKQUEUE_METRIC_NAMES.longestRunning,
      help: 'How many seconds has the longest running processor for workqueue been running',
      labelNames: ['controller', 'name'],
      registers,
      collect() {
        for (const [name, queue] of liveQueues) this.set({ controller: name, name }, queue.longestRunningProcessorSeconds());
      },
    });
  }
}

const workqueueMetrics = perRegistry((registry) => new WorkqueueMetricFamily(registry));

/** FIFO with O(1) amortised push/shift, so a deep queue does not degrade get(). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

interface DelayedAdd {
  readyAt: number;
  handle: unknown;
  /** Set for a coalesced add: the latest deadline it may have (the cap, counted from its first event). */
  coalesced?: { latestReadyAt: number };
}

export class WorkQueue<K = string> {
  readonly name: string;
  private readonly labels: { controller: string; name: string };
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter<K>;
  private readonly metrics: WorkqueueMetricFamily | undefined;

  private readonly queue = new Fifo<K>();
  /** Keys that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<K>();
  /** Keys handed to a worker and not yet done(), with when they were handed out. */
  private readonly processing = new Map<K, number>();
  /** When each dirty key was added, for the queue-duration histogram. */
  private readonly addedAt = new Map<K, number>();
  private readonly delayed = new Map<K, DelayedAdd>();
  private readonly getters: ((key: K | undefined) => void)[] = [];
  private readonly drainWaiters: (() => void)[] = [];
  private shuttingDownFlag = false;

  constructor(options: WorkQueueOptions<K>) {
    this.name = options.name;
    this.labels = { controller: options.name, name: options.name };
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter<K>(this.clock);
    this.metrics = options.registry ? workqueueMetrics(options.registry) : undefined;
    if (this.metrics) {
      if (this.metrics.liveQueues.has(this.name)) {
        throw new Error(`a workqueue named "${this.name}" already reports to this registry`);
      }
      this.metrics.liveQueues.set(this.name, {
        unfinishedWorkSeconds: () => this.unfinishedWorkSeconds(),
        longestRunningProcessorSeconds: () => this.longestRunningProcessorSeconds(),
      });
      this.metrics.depth.set(this.labels, 0);
    }
  }

  /** Marks `key` as needing processing. No-op after shutdown. */
  add(key: K): void {
    if (this.shuttingDownFlag) return;
    // A coalesced add still waiting would only run the key again for events
    // this add's processing will already see.
    const pending = this.delayed.get(key);
    if (pending?.coalesced) {
      this.clock.clearTimeout(pending.handle);
      this.delayed.delete(key);
    }
    // Counted as client-go counts workqueue_adds_total: a key already
    // waiting is no new work, so only an add that queues something counts.
    if (this.dirty.has(key)) return;
    this.metrics?.adds.inc(this.labels);
    this.dirty.add(key);
    this.addedAt.set(key, this.clock.now());
    if (this.processing.has(key)) return; // re-queued by done()
    this.enqueue(key);
  }

  /** Adds `key` after `delayMs`; if it is already waiting, the earlier deadline wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDownFlag) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending) {
      if (pending.readyAt <= readyAt) return;
      this.clock.clearTimeout(pending.handle);
    }
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { readyAt, handle });
  }

  /**
   * Adds `key` once events for it have paused for `quietMs`, but no later
   * than `maxWaitMs` after the first of them: a burst (a Deployment's status
   * steps, pods turning Ready one by one) becomes one add, and a steady
   * stream cannot postpone the key past the cap. An earlier plain delayed
   * add (addAfter) for the key wins.
   */
  addCoalesced(key: K, quietMs: number, maxWaitMs: number): void {
    if (this.shuttingDownFlag) return;
    const now = this.clock.now();
    const pending = this.delayed.get(key);
    if (pending && !pending.coalesced) {
      if (pending.readyAt <= now + quietMs) return;
    }
    const latestReadyAt = pending?.coalesced?.latestReadyAt ?? now + Math.max(quietMs, maxWaitMs);
    const readyAt = Math.min(now + quietMs, latestReadyAt);
    if (pending) this.clock.clearTimeout(pending.handle);
    const handle = this.clock.setTimeout(
      () => {
        this.delayed.delete(key);
        this.add(key);
      },
      Math.max(0, readyAt - now),
    );
    this.delayed.set(key, { readyAt, handle, coalesced: { latestReadyAt } });
  }

  /** Adds `key` once the rate limiter allows it, counting a retry. */
  addRateLimited(key: K): void {
    if (this.shuttingDownFlag) return;
    this.metrics?.retries.inc(this.labels);
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Stops tracking `key`'s failures; its next rate-limited add starts from the base delay. */
  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.rateLimiter.numRequeues(key);
  }

  /**
   * Resolves with the next key, marking it as processing (call done() when
   * finished), or with undefined once the queue is shut down.
   */
  get(): Promise<K | undefined> {
    if (this.shuttingDownFlag) return Promise.resolve(undefined);
    if (this.queue.length > 0) return Promise.resolve(this.takeNext());
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks `key` as processed; if it was re-added meanwhile it is queued again. */
  done(key: K): void {
    const startedAt = this.processing.get(key);
    if (startedAt === undefined) return;
    this.processing.delete(key);
    this.metrics?.workDuration.observe(this.labels, this.secondsSince(startedAt));
    if (this.dirty.has(key) && !this.shuttingDownFlag) this.enqueue(key);
    if (this.processing.size === 0) this.releaseDrainWaiters();
  }

  /** Number of keys waiting to be handed out (not counting delayed or processing ones). */
  len(): number {
    return this.queue.length;
  }

  /** Number of keys currently handed to workers. */
  processingCount(): number {
    return this.processing.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDownFlag;
  }

  /** Stops accepting and handing out work; blocked get() calls resolve undefined. */
  shutDown(): void {
    if (!this.shuttingDownFlag) {
      this.shuttingDownFlag = true;
      for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
      this.delayed.clear();
      this.queue.clear();
      this.dirty.clear();
      this.addedAt.clear();
      this.metrics?.depth.set(this.labels, 0);
      this.metrics?.liveQueues.delete(this.name);
      for (const resolve of this.getters.splice(0)) resolve(undefined);
    }
    if (this.processing.size === 0) this.releaseDrainWaiters();
  }

  /** Shuts down, then resolves once every key handed out so far is done(). */
  shutDownWithDrain(): Promise<void> {
    const drained = new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    this.shutDown();
    return drained;
  }

  private enqueue(key: K): void {
    const getter = this.getters.shift();
    if (getter) {
      getter(this.markProcessing(key));
      return;
    }
    this.queue.push(key);
    this.metrics?.depth.inc(this.labels);
  }

  private takeNext(): K {
    const key = this.queue.shift() as K;
    this.metrics?.depth.dec(this.labels);
    return this.markProcessing(key);
  }

  private markProcessing(key: K): K {
    const now = this.clock.now();
    const addedAt = this.addedAt.get(key);
    if (addedAt !== undefined) this.metrics?.queueDuration.observe(this.labels, (now - addedAt) / 1000);
    this.addedAt.delete(key);
    this.dirty.delete(key);
    this.processing.set(key, now);
    return key;
  }

  private releaseDrainWaiters(): void {
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  private secondsSince(ms: number): number {
    return Math.max(0, this.clock.now() - ms) / 1000;
  }

  private unfinishedWorkSeconds(): number {
    let total = 0;
    for (const startedAt of this.processing.values()) total += this.secondsSince(startedAt);
    return total;
  }

  private longestRunningProcessorSeconds(): number {
    let longest = 0;
    for (const startedAt of this.processing.values()) longest = Math.max(longest, this.secondsSince(startedAt));
    return longest;
  }
}
