// Rate limiters decide how long a failed (or rate-limited) item waits before it
// is handed out again. The default mirrors controller-runtime: per-item
// exponential backoff combined with an overall token bucket, taking the longer
// of the two delays so one hot key cannot starve the API server nor can a burst
// of distinct keys.
import { realClock, type Clock } from './clock.js';

export interface RateLimiter<K = string> {
  /** Delay in ms before `key` may be processed again; records one more requeue. */
  when(key: K): number;
  /** Clears the failure history of `key` (it succeeded or gave up). */
  forget(key: K): void;
  numRequeues(key: K): number;
}

export const DEFAULT_BASE_DELAY_MS = 5;
export const DEFAULT_MAX_DELAY_MS = 1000 * 1000;
export const DEFAULT_QPS = 10;
export const DEFAULT_BURST = 100;

/** Pure: base * 2^failures, capped at max. `failures` is the count before this one. */
export function exponentialDelayMs(failures: number, baseMs: number, maxMs: number): number {
  const delay = baseMs * Math.pow(2, failures);
  return Number.isFinite(delay) && delay < maxMs ? delay : maxMs;
}

export class ItemExponentialFailureRateLimiter<K = string> implements RateLimiter<K> {
  private readonly failures = new Map<K, number>();

  constructor(
    private readonly baseDelayMs = DEFAULT_BASE_DELAY_MS,
    private readonly maxDelayMs = DEFAULT_MAX_DELAY_MS,
  ) {
    if (!(baseDelayMs > 0) || !(maxDelayMs >= baseDelayMs)) {
      throw new RangeError(`invalid backoff: base ${baseDelayMs} ms, max ${maxDelayMs} ms`);
    }
  }

  when(key: K): number {
    const previous = this.failures.get(key) ?? 0;
    this.failures.set(key, previous + 1);
    return exponentialDelayMs(previous, this.baseDelayMs, this.maxDelayMs);
  }

  forget(key: K): void {
    this.failures.delete(key);
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }
}

/**
 * Token bucket shared by all keys. Each when() reserves a token; when the
 * bucket is empty the reservation is taken on credit and the caller waits until
 * the bucket would have refilled to cover it.
 */
export class BucketRateLimiter<K = string> implements RateLimiter<K> {
  private tokens: number;
  private lastRefill: number;

  constructor(
    private readonly qps = DEFAULT_QPS,
    private readonly burst = DEFAULT_BURST,
    private readonly clock: Clock = realClock,
  ) {
    if (!(qps > 0) || !(burst >= 1)) throw new RangeError(`invalid token bucket: qps ${qps}, burst ${burst}`);
    this.tokens = burst;
    this.lastRefill = clock.now();
  }

  when(_key: K): number {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.lastRefill);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.qps) / 1000);
    this.lastRefill = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.qps);
  }

  forget(_key: K): void {
    // The bucket is shared; there is no per-key state to clear.
  }

  numRequeues(_key: K): number {
    return 0;
  }
}

export class MaxOfRateLimiter<K = string> implements RateLimiter<K> {
  private readonly limiters: RateLimiter<K>[];

  constructor(...limiters: RateLimiter<K>[]) {
    if (limiters.length === 0) throw new RangeError('MaxOfRateLimiter needs at least one limiter');
    this.limiters = limiters;
  }

  when(key: K): number {
    // Every limiter must record the requeue, so no short-circuiting.
    return this.limiters.map((limiter) => limiter.when(key)).reduce((a, b) => Math.max(a, b), 0);
  }

  forget(key: K): void {
    for (const limiter of this.limiters) limiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.limiters.map((limiter) => limiter.numRequeues(key)).reduce((a, b) => Math.max(a, b), 0);
  }
}

export function defaultControllerRateLimiter<K = string>(clock: Clock = realClock): RateLimiter<K> {
  return new MaxOfRateLimiter<K>(
    new ItemExponentialFailureRateLimiter<K>(DEFAULT_BASE_DELAY_MS, DEFAULT_MAX_DELAY_MS),
    new BucketRateLimiter<K>(DEFAULT_QPS, DEFAULT_BURST, clock),
  );
}
