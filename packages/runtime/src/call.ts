// The one way to call the apiserver with a deadline: every request gets its
// own timeout and follows an outer AbortSignal (leadership lost, shutdown),
// and the returned promise settles even if the client ignores the abort.
// The call gets a plain AbortSignal, what the runtime's client (client/) takes.
import { realClock, type Clock } from './clock.js';
import { RequestTimeoutError } from './errors.js';

export interface DeadlineOptions {
  /** Aborts the call early (its reason's message is kept). */
  signal?: AbortSignal;
  clock?: Clock;
}

/**
 * Runs `fn` (one API call, given the AbortSignal to pass on)
 * with a hard deadline of `timeoutMs`. Rejects with RequestTimeoutError on
 * the deadline, or with "WHAT: aborted" when `signal` aborts first.
 */
export async function callWithDeadline<T>(
  what: string,
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
  options: DeadlineOptions = {},
): Promise<T> {
  const clock = options.clock ?? realClock;
  const outer = options.signal;
  const ctl = new AbortController();
  let rejectEarly: (err: Error) => void = () => undefined;
  const early = new Promise<never>((_, reject) => {
    rejectEarly = reject;
  });
  const timer = clock.setTimeout(() => {
    const err = new RequestTimeoutError(`${what}: timed out after ${timeoutMs}ms`);
    ctl.abort(err);
    rejectEarly(err);
  }, timeoutMs);
  const onOuter = (): void => {
    const err = new Error(`${what}: aborted`);
    ctl.abort(err);
    rejectEarly(err);
  };
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  try {
    const call = fn(ctl.signal);
    call.catch(() => undefined); // a late rejection after the race must not go unhandled
    return await Promise.race([call, early]);
  } finally {
    clock.clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}
