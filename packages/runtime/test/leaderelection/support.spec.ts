import { expect } from 'chai';
import { Registry } from 'prom-client';
import { sleep } from '../../src/clock.js';
import { FakeClock } from '../../src/testing.js';
import { LeaderElectionConfigError } from '../../src/leaderelection/config.js';
import { LeaseElector } from '../../src/leaderelection/lease.js';
import { callWithDeadline } from '../../src/call.js';
import { RequestTimeoutError, statusCode } from '../../src/errors.js';
import { leaderGauge } from '../../src/leaderelection/elector.js';
import { silentLogger as silent } from '../../src/logger.js';
import { offlineKubeConfig } from './fixtures.js';


describe('leaderelection support', () => {
  describe('FakeClock and sleep', () => {
    it('fires timers in time order only when advanced', () => {
      const clock = new FakeClock(1000);
      const fired: string[] = [];
      clock.setTimeout(() => fired.push('b'), 200);
      clock.setTimeout(() => fired.push('a'), 100);
      const h = clock.setTimeout(() => fired.push('never'), 150);
      clock.clearTimeout(h);
      clock.advance(99);
      expect(fired).to.deep.equal([]);
      clock.advance(101);
      expect(fired).to.deep.equal(['a', 'b']);
      expect(clock.now()).to.equal(1200);
      expect(clock.pendingTimers()).to.equal(0);
    });

    it('sleep resolves true when the time elapses and false when aborted', async () => {
      const clock = new FakeClock();
      const done = sleep(clock, 500);
      clock.advance(500);
      expect(await done).to.equal(true);
      const ctl = new AbortController();
      const aborted = sleep(clock, 500, ctl.signal);
      ctl.abort();
      expect(await aborted).to.equal(false);
      expect(clock.pendingTimers()).to.equal(0);
    });
  });

  describe('callWithDeadline', () => {
    it('rejects with RequestTimeoutError and aborts the request signal when the call hangs', async () => {
      const clock = new FakeClock();
      let seen: AbortSignal | undefined;
      const p = callWithDeadline('get lease', 3000, (signal) => {
        seen = signal;
        return new Promise(() => undefined); // never resolves: a hung apiserver
      }, { clock });
      await new Promise((r) => setImmediate(r));
      expect(seen?.aborted).to.equal(false);
      clock.advance(2999);
      expect(seen?.aborted).to.equal(false);
      clock.advance(1);
      let caught: unknown;
      await p.catch((e: unknown) => (caught = e));
      expect(caught).to.be.instanceOf(RequestTimeoutError);
      expect(seen?.aborted).to.equal(true);
    });

    it('returns the result and clears its timer when the call succeeds', async () => {
      const clock = new FakeClock();
      expect(await callWithDeadline('x', 3000, () => Promise.resolve(42), { clock })).to.equal(42);
      expect(clock.pendingTimers()).to.equal(0);
    });

    it('rejects at once when the outer signal aborts', async () => {
      const clock = new FakeClock();
      const outer = new AbortController();
      const p = callWithDeadline('x', 3000, () => new Promise<number>(() => undefined), { clock, signal: outer.signal });
      outer.abort();
      let caught: unknown;
      await p.catch((e: unknown) => (caught = e));
      expect((caught as Error).message).to.contain('aborted');
    });
  });

  it('statusCode reads ApiException.code and watch statusCode', () => {
    expect(statusCode({ code: 409 })).to.equal(409);
    expect(statusCode({ statusCode: 404 })).to.equal(404);
    expect(statusCode(new Error('x'))).to.equal(undefined);
    expect(statusCode({ code: 'ECONNREFUSED' })).to.equal(undefined);
  });

  it('leaderGauge is registered once per injected registry', () => {
    const registry = new Registry();
    expect(leaderGauge(registry)).to.equal(leaderGauge(registry));
    expect(registry.getMetricsAsArray()).to.have.length(1);
  });

  describe('LeaseElector construction', () => {
    const base = () => ({
      kubeConfig: offlineKubeConfig(),
      namespace: 'ns',
      name: 'memcached-operator',
      logger: silent,
      clock: new FakeClock(),
    });

    it('rejects invalid timings, naming them', () => {
      expect(
        () =>
          new LeaseElector({
            ...base(),
            registry: new Registry(),
            timings: { leaseDurationMs: 5_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, jitterFactor: 1.2 },
          }),
      )
        .to.throw(LeaderElectionConfigError)
        .with.property('message')
        .that.contains('leaseDurationMs');
    });

    it('rejects a request timeout not shorter than the renew deadline', () => {
      expect(() => new LeaseElector({ ...base(), registry: new Registry(), requestTimeoutMs: 10_000 })).to.throw(
        /requestTimeoutMs/,
      );
    });

    it('starts as non-leader: gauge 0 in the injected registry, healthy, release is a no-op', async () => {
      const registry = new Registry();
      const a = new LeaseElector({ ...base(), registry, identity: 'a' });
      const b = new LeaseElector({ ...base(), name: 'other-lock', registry });
      expect(a.identity).to.equal('a');
      expect(b.identity).to.match(/_[0-9a-f-]{36}$/);
      expect(a.isLeader()).to.equal(false);
      expect(() => a.healthCheck()).not.to.throw();
      const text = await registry.metrics();
      expect(text).to.contain('leader_election_master_status{name="memcached-operator"} 0');
      expect(text).to.contain('leader_election_master_status{name="other-lock"} 0');
      await a.release(); // never held: no API call, resolves
      expect(a.isLeader()).to.equal(false);
    });
  });
});
