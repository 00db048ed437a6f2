// One Clock, injected everywhere in the runtime (and the operator), so that
// queue delays, backoffs, resyncs, lease timings and timestamps can be driven
// deterministically in tests (FakeClock, in fakeclock.ts, exported for tests
// at @memcached-operator/runtime/testing).

export interface Clock {
  /** Milliseconds since the epoch (or since an arbitrary origin for fake clocks). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Resolves true after `ms` on `clock`, or false as soon as `signal` aborts
 * (immediately if it already has). Never rejects.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(false);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      resolve(false);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
