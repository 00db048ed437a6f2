// The one way the harness waits: for something it names, up to a deadline,
// and saying in the log what it is still waiting for when that takes more
// than a moment. A run that goes quiet for minutes cannot be told from a
// hang; one that says "waiting for namespace X to go: 2 Memcacheds still
// carry finalizers" can be acted on.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class WaitTimeoutError extends Error {}

/** Settles as `promise` does, or rejects with WaitTimeoutError naming `what` once `timeoutMs` pass. */
export async function withDeadline<T>(what: string, timeoutMs: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WaitTimeoutError(`timed out after ${seconds(timeoutMs)} waiting for ${what}`)), timeoutMs);
  });
  promise.catch(() => undefined); // a rejection after the deadline must not go unhandled
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface WaitOptions {
  timeoutMs: number;
  /** Between probes. Default 500 ms. */
  intervalMs?: number;
  /** Where "still waiting" lines go. */
  log: (msg: string) => void;
  /** How often to say so. Default 30 s. */
  reportEveryMs?: number;
  /** What the wait sees now, for the "still waiting" line and the timeout's message. */
  progress?: () => Promise<string> | string;
}

/**
 * Probes until it returns a value other than undefined. A probe that throws
 * ends the wait at once with its error (the probe decides what is fatal);
 * one that hangs is bounded by the deadline too.
 */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, options: WaitOptions): Promise<T> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const reportEveryMs = options.reportEveryMs ?? 30_000;
  let nextReport = started + reportEveryMs;
  for (;;) {
    const value = await withDeadline(what, Math.max(1, deadline - Date.now()), Promise.resolve(probe())).catch(async (err: unknown) => {
      if (err instanceof WaitTimeoutError) throw await timedOut(what, options);
      throw err;
    });
    if (value !== undefined) return value;
    const now = Date.now();
    if (now >= deadline) throw await timedOut(what, options);
    if (now >= nextReport) {
      nextReport = now + reportEveryMs;
      options.log(`still waiting for ${what} (${seconds(now - started)} of at most ${seconds(options.timeoutMs)})${await describe(options)}`);
    }
    await sleep(Math.min(options.intervalMs ?? 500, deadline - now));
  }
}

async function timedOut(what: string, options: WaitOptions): Promise<WaitTimeoutError> {
  return new WaitTimeoutError(`timed out after ${seconds(options.timeoutMs)} waiting for ${what}${await describe(options)}`);
}

async function describe(options: WaitOptions): Promise<string> {
  if (!options.progress) return '';
  try {
    const text = await withDeadline('a progress report', 10_000, Promise.resolve(options.progress()));
    return text ? `: ${text}` : '';
  } catch (err) {
    return `: (could not tell: ${err instanceof Error ? err.message : String(err)})`;
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
