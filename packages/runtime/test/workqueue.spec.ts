import { expect } from 'chai';
import { Registry } from 'prom-client';
import { FakeClock, yieldToEventLoop } from '../src/testing.js';
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
  exponentialDelayMs,
} from '../src/ratelimiter.js';
import { WORKQUEUE_METRIC_NAMES, WorkQueue } from '../src/workqueue.js';

function newQueue(clock = new FakeClock(), registry?: Registry): WorkQueue {
  return new WorkQueue({ name: 'test', clock, rateLimiter: new ItemExponentialFailureRateLimiter(5, 1000), registry });
}

/** Takes every key that is ready right now, without blocking. */
async function drainReady(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.len() > 0) keys.push((await queue.get()) as string);
  return keys;
}

describe('runtime/clock FakeClock', () => {
  it('fires due timers in due-time order, ties in scheduling order, and not early', () => {
    const clock = new FakeClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@20'), 20);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('c@20'), 20);
    const cancelled = clock.setTimeout(() => fired.push('cancelled'), 5);
    clock.clearTimeout(cancelled);
    clock.advance(19);
    expect(fired).to.deep.equal(['a@10']);
    clock.advance(1);
    expect(fired).to.deep.equal(['a@10', 'b@20', 'c@20']);
    expect(clock.now()).to.equal(1020);
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('runs timers scheduled by a firing timer within the same advance', () => {
    const clock = new FakeClock();
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
    }, 10);
    clock.advance(100);
    expect(seen).to.deep.equal([10, 15]);
  });
});

describe('runtime/ratelimiter', () => {
  it('doubles the per-item delay from the base and caps it', () => {
    const limiter = new ItemExponentialFailureRateLimiter(5, 1000);
    const delays = Array.from({ length: 10 }, () => limiter.when('k'));
    expect(delays).to.deep.equal([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    expect(limiter.numRequeues('k')).to.equal(10);
    expect(limiter.when('other')).to.equal(5);
  });

  it('forget resets the backoff', () => {
    const limiter = new ItemExponentialFailureRateLimiter(5, 1000);
    limiter.when('k');
    limiter.when('k');
    limiter.forget('k');
    expect(limiter.numRequeues('k')).to.equal(0);
    expect(limiter.when('k')).to.equal(5);
  });

  it('caps at the controller-runtime default of 1000 s and never overflows', () => {
    expect(exponentialDelayMs(0, 5, 1_000_000)).to.equal(5);
    expect(exponentialDelayMs(17, 5, 1_000_000)).to.equal(655_360);
    expect(exponentialDelayMs(18, 5, 1_000_000)).to.equal(1_000_000);
    expect(exponentialDelayMs(5000, 5, 1_000_000)).to.equal(1_000_000);
  });

  it('token bucket allows the burst, then spaces requests at 1/qps and refills over time', () => {
    const clock = new FakeClock();
    const bucket = new BucketRateLimiter(10, 100, clock);
    for (let i = 0; i < 100; i++) expect(bucket.when(`k${i}`)).to.equal(0);
    expect(bucket.when('x')).to.equal(100);
    expect(bucket.when('y')).to.equal(200);
    clock.advance(1000); // 10 tokens refill, 2 were owed
    for (let i = 0; i < 8; i++) expect(bucket.when(`z${i}`)).to.equal(0);
    expect(bucket.when('w')).to.equal(100);
  });

  it('max-of combines the limiters and forgets in all of them', () => {
    const clock = new FakeClock();
    const limiter = new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter(5, 1000), new BucketRateLimiter(1, 1, clock));
    expect(limiter.when('a')).to.equal(5); // bucket had its one token
    expect(limiter.when('a')).to.equal(1000); // bucket now owes a whole second
    limiter.forget('a');
    expect(limiter.numRequeues('a')).to.equal(0);
  });

  it('default controller limiter starts at 5 ms', () => {
    const limiter = defaultControllerRateLimiter(new FakeClock());
    expect([limiter.when('a'), limiter.when('a'), limiter.when('a')]).to.deep.equal([5, 10, 20]);
  });
});

describe('runtime/workqueue', () => {
  it('deduplicates keys that are waiting', async () => {
    const queue = newQueue();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    expect(queue.len()).to.equal(2);
    expect(await drainReady(queue)).to.deep.equal(['a', 'b']);
  });

  it('never hands a key out twice concurrently: an add while processing is delivered after done', async () => {
    const queue = newQueue();
    queue.add('a');
    const first = await queue.get();
    expect(first).to.equal('a');
    queue.add('a');
    queue.add('a');
    expect(queue.len()).to.equal(0);
    let second: string | undefined;
    void queue.get().then((key) => (second = key));
    await yieldToEventLoop();
    expect(second).to.equal(undefined);
    queue.done('a');
    await yieldToEventLoop();
    expect(second).to.equal('a');
    queue.done('a');
    expect(queue.len()).to.equal(0);
  });

  it('does not requeue a processed key that was not re-added', async () => {
    const queue = newQueue();
    queue.add('a');
    await queue.get();
    queue.done('a');
    expect(queue.len()).to.equal(0);
  });

  it('a blocked get resolves when a key is added', async () => {
    const queue = newQueue();
    const pending = queue.get();
    queue.add('x');
    expect(await pending).to.equal('x');
  });

  it('addAfter delivers in deadline order and only once due', async () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    queue.addAfter('late', 300);
    queue.addAfter('early', 100);
    queue.addAfter('middle', 200);
    clock.advance(99);
    expect(queue.len()).to.equal(0);
    clock.advance(1);
    expect(await drainReady(queue)).to.deep.equal(['early']);
    clock.advance(200);
    expect(await drainReady(queue)).to.deep.equal(['middle', 'late']);
  });

  it('addAfter keeps the earliest deadline for a key', async () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    queue.addAfter('k', 500);
    queue.addAfter('k', 100); // earlier: replaces
    queue.addAfter('k', 900); // later: ignored
    clock.advance(100);
    expect(await drainReady(queue)).to.deep.equal(['k']);
    queue.done('k');
    clock.advance(1000);
    expect(queue.len()).to.equal(0);
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('addCoalesced waits for a quiet period, and an immediate add drops the pending one', async () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    queue.addCoalesced('k', 1000, 5000);
    clock.advance(800);
    queue.addCoalesced('k', 1000, 5000); // moves the deadline to 1800
    clock.advance(900);
    expect(queue.len()).to.equal(0);
    clock.advance(100);
    expect(await drainReady(queue)).to.deep.equal(['k']);
    queue.done('k');
    queue.addCoalesced('k', 1000, 5000);
    queue.add('k'); // processing it sees every event the pending add was for
    expect(await drainReady(queue)).to.deep.equal(['k']);
    queue.done('k');
    expect(clock.pendingTimers()).to.equal(0);
    clock.advance(5000);
    expect(queue.len()).to.equal(0);
  });

  it('addCoalesced leaves an earlier plain addAfter in place, and a later one is replaced', async () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    queue.addAfter('early', 200);
    queue.addCoalesced('early', 1000, 5000);
    queue.addAfter('late', 30_000); // a recheck far off
    queue.addCoalesced('late', 1000, 5000);
    clock.advance(200);
    expect(await drainReady(queue)).to.deep.equal(['early']);
    clock.advance(800);
    expect(await drainReady(queue)).to.deep.equal(['late']);
  });

  it('addAfter with a non-positive delay adds immediately', () => {
    const queue = newQueue();
    queue.addAfter('now', 0);
    expect(queue.len()).to.equal(1);
  });

  it('addRateLimited backs off exponentially and forget resets it', async () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    const readyAfter: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const start = clock.now();
      queue.addRateLimited('k');
      while (queue.len() === 0) clock.advance(1);
      readyAfter.push(clock.now() - start);
      await queue.get();
      queue.done('k');
    }
    expect(readyAfter).to.deep.equal([5, 10, 20, 40]);
    expect(queue.numRequeues('k')).to.equal(4);
    queue.forget('k');
    expect(queue.numRequeues('k')).to.equal(0);
    queue.addRateLimited('k');
    clock.advance(5);
    expect(queue.len()).to.equal(1);
  });

  it('rate-limited backoff stops growing at the cap', () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    for (let i = 0; i < 20; i++) queue.addRateLimited('k'); // earliest wins keeps the first 5 ms timer
    expect(queue.numRequeues('k')).to.equal(20);
    clock.advance(5);
    expect(queue.len()).to.equal(1);
  });

  it('shutDown unblocks every waiting getter with undefined and refuses new work', async () => {
    const queue = newQueue();
    const getters = [queue.get(), queue.get()];
    queue.shutDown();
    expect(await Promise.all(getters)).to.deep.equal([undefined, undefined]);
    queue.add('a');
    expect(queue.len()).to.equal(0);
    expect(await queue.get()).to.equal(undefined);
    expect(queue.isShuttingDown()).to.equal(true);
  });

  it('shutDown cancels pending delayed adds', () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    queue.addAfter('k', 100);
    queue.shutDown();
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('shutDownWithDrain resolves only after in-flight keys are done', async () => {
    const queue = newQueue();
    queue.add('a');
    queue.add('b');
    await queue.get();
    await queue.get();
    let drained = false;
    void queue.shutDownWithDrain().then(() => (drained = true));
    queue.done('a');
    await yieldToEventLoop();
    expect(drained).to.equal(false);
    queue.done('b');
    await yieldToEventLoop();
    expect(drained).to.equal(true);
  });

  it('shutDownWithDrain resolves at once when idle', async () => {
    const queue = newQueue();
    await queue.shutDownWithDrain();
    expect(queue.processingCount()).to.equal(0);
  });

  it('reports controller-runtime metric names with the controller and name labels', async () => {
    const clock = new FakeClock();
    const registry = new Registry();
    const queue = newQueue(clock, registry);
    queue.add('a');
    queue.add('b');
    queue.add('a');
    queue.addRateLimited('c');
    await queue.get();
    clock.advance(2000);
    const text = await registry.metrics();
    for (const name of Object.values(WORKQUEUE_METRIC_NAMES)) expect(text).to.contain(name);
    expect(text).to.match(/workqueue_adds_total\{controller="test",name="test"\} 3/); // a, b, and c once due: the second a found a waiting and queued nothing (as client-go counts)
    expect(text).to.match(/workqueue_retries_total\{controller="test",name="test"\} 1/);
    expect(text).to.match(/workqueue_depth\{controller="test",name="test"\} 2/); // b, and c once due
    expect(text).to.match(/workqueue_longest_running_processor_seconds\{controller="test",name="test"\} 2/);
  });

  it('refuses two queues with the same name on one registry', () => {
    const registry = new Registry();
    newQueue(new FakeClock(), registry);
    expect(() => newQueue(new FakeClock(), registry)).to.throw(/already reports/);
  });
});
