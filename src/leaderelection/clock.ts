// Leader election runs on the runtime's injectable clock, so its timing logic
// is driven by the same fake clock as the queue in unit tests; sleep() is the
// one helper election needs on top.
import type { Clock } from '../runtime/clock.js';

export { FakeClock, realClock, type Clock } from '../runtime/clock.js';

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
