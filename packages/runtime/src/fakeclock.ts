// A Clock that tests drive by hand: a test double, exported only at
// @memcached-operator/runtime/testing, never from the package's front door.
import type { Clock } from './clock.js';

interface FakeTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly fn: () => void;
}

/**
 * A manually driven clock. Timers fire only from advance()/advanceAsync(), in
 * due-time order (ties in scheduling order), with now() set to each timer's due
 * time while it runs, so timers scheduled by a firing timer are honoured within
 * the same advance().
 */
export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { id, dueAt: this.current + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** Number of timers scheduled and not yet fired or cleared. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** Due time of the earliest pending timer, if any. */
  nextDueAt(): number | undefined {
    return this.earliestDueBy(Number.POSITIVE_INFINITY)?.dueAt;
  }

  /** Moves time forward by ms, synchronously running every timer that falls due. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError(`FakeClock cannot go backwards (advance(${ms}))`);
    const target = this.current + ms;
    for (let timer = this.earliestDueBy(target); timer; timer = this.earliestDueBy(target)) {
      this.fire(timer);
    }
    this.current = target;
  }

  /**
   * Like advance(), but lets the event loop run after each timer so promise
   * chains started by one timer can settle (and schedule more timers) before the
   * next one fires. Useful for code that awaits between timeouts.
   */
  async advanceAsync(ms: number): Promise<void> {
    if (ms < 0) throw new RangeError(`FakeClock cannot go backwards (advanceAsync(${ms}))`);
    const target = this.current + ms;
    await yieldToEventLoop();
    for (let timer = this.earliestDueBy(target); timer; timer = this.earliestDueBy(target)) {
      this.fire(timer);
      await yieldToEventLoop();
    }
    this.current = target;
    await yieldToEventLoop();
  }

  private fire(timer: FakeTimer): void {
    this.timers.delete(timer.id);
    this.current = Math.max(this.current, timer.dueAt);
    timer.fn();
  }

  private earliestDueBy(limit: number): FakeTimer | undefined {
    let earliest: FakeTimer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.dueAt > limit) continue;
      if (!earliest || timer.dueAt < earliest.dueAt || (timer.dueAt === earliest.dueAt && timer.id < earliest.id)) {
        earliest = timer;
      }
    }
    return earliest;
  }
}

/** Resolves after pending promise callbacks and I/O callbacks have had a chance to run. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
