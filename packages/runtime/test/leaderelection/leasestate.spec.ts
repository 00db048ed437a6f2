import { expect } from 'chai';
import { DEFAULT_TIMINGS, type Timings } from '../../src/leaderelection/config.js';
import {
  decide,
  effectiveLeaseMs,
  EXPIRY_MARGIN_MS,
  leaderHealthProblem,
  nextAttemptDelay,
  observe,
  renewDeadlinePassed,
  toMicroTime,
  type LeaseAction,
  type LeaseRecord,
  type ObservedLease,
  type Observation,
} from '../../src/leaderelection/leasestate.js';

const timings: Timings = { ...DEFAULT_TIMINGS };
const ME = 'me_1111';
const OTHER = 'other_2222';
// A local clock far ahead of the remote renewTimes below (skew).
const T0 = Date.parse('2030-06-01T00:00:00Z');

function lease(rv: string, record: Partial<LeaseRecord>): ObservedLease {
  return {
    resourceVersion: rv,
    record: {
      holderIdentity: OTHER,
      leaseDurationSeconds: 15,
      acquireTime: '2020-01-01T00:00:00.000000Z',
      renewTime: '2020-01-01T00:00:00.000000Z',
      leaseTransitions: 3,
      ...record,
    },
  };
}

/** A candidate that reads the lease at `now`, folding it into its observation. */
class Candidate {
  observation: Observation | undefined;
  constructor(readonly identity: string) {}
  read(current: ObservedLease | undefined, now: number): LeaseAction {
    this.observation = observe(this.observation, current, now);
    return decide({ current, observation: this.observation, now, identity: this.identity, timings });
  }
}

describe('lease state machine', () => {
  it('creates the lease when there is none, with leaseTransitions 0', () => {
    const a = new Candidate(ME).read(undefined, T0);
    expect(a.kind).to.equal('create');
    if (a.kind !== 'create') return;
    expect(a.record).to.deep.equal({
      holderIdentity: ME,
      leaseDurationSeconds: 15,
      acquireTime: toMicroTime(T0),
      renewTime: toMicroTime(T0),
      leaseTransitions: 0,
    });
  });

  it('a fresh candidate waits a full LeaseDuration from first observation even if renewTime looks ancient (skew-proof)', () => {
    const c = new Candidate(ME);
    const held = lease('100', { renewTime: '2001-01-01T00:00:00.000000Z' });
    const first = c.read(held, T0);
    expect(first).to.deep.equal({ kind: 'wait', holder: OTHER, expiresInMs: 15_000 });
    expect(c.read(held, T0 + 14_999).kind).to.equal('wait');
  });

  it('is not fooled by a renewTime in the future either (remote clock ahead)', () => {
    const c = new Candidate(ME);
    const held = lease('100', { renewTime: '2099-01-01T00:00:00.000000Z' });
    c.read(held, T0);
    expect(c.read(held, T0 + 15_000).kind).to.equal('takeover');
  });

  it('takes over after no change for LeaseDuration, incrementing leaseTransitions', () => {
    const c = new Candidate(ME);
    const held = lease('100', { leaseTransitions: 3 });
    c.read(held, T0);
    const a = c.read(held, T0 + 15_000);
    expect(a.kind).to.equal('takeover');
    if (a.kind !== 'takeover') return;
    expect(a.reason).to.equal('expired');
    expect(a.record.holderIdentity).to.equal(ME);
    expect(a.record.leaseTransitions).to.equal(4);
    expect(a.record.acquireTime).to.equal(toMicroTime(T0 + 15_000));
    expect(a.record.renewTime).to.equal(toMicroTime(T0 + 15_000));
    expect(a.record.leaseDurationSeconds).to.equal(15);
  });

  it('restarts the wait whenever the record changes (holder renewing)', () => {
    const c = new Candidate(ME);
    c.read(lease('100', {}), T0);
    // The holder renews at T0+10s: new resourceVersion and renewTime.
    expect(c.read(lease('101', { renewTime: '2020-01-01T00:00:10.000000Z' }), T0 + 10_000).kind).to.equal('wait');
    const still = c.read(lease('101', { renewTime: '2020-01-01T00:00:10.000000Z' }), T0 + 20_000);
    expect(still).to.deep.equal({ kind: 'wait', holder: OTHER, expiresInMs: 5_000 });
    expect(c.read(lease('101', { renewTime: '2020-01-01T00:00:10.000000Z' }), T0 + 25_000).kind).to.equal('takeover');
  });

  it('treats a change of the spec alone (same resourceVersion) as a change', () => {
    const c = new Candidate(ME);
    c.read(lease('100', {}), T0);
    c.read(lease('100', { renewTime: '2020-01-01T00:00:05.000000Z' }), T0 + 10_000);
    expect(c.read(lease('100', { renewTime: '2020-01-01T00:00:05.000000Z' }), T0 + 20_000).kind).to.equal('wait');
  });

  it("honours the holder's declared leaseDurationSeconds (e.g. SNO 270 s)", () => {
    const c = new Candidate(ME);
    const held = lease('100', { leaseDurationSeconds: 270 });
    c.read(held, T0);
    expect(c.read(held, T0 + 269_999).kind).to.equal('wait');
    expect(c.read(held, T0 + 270_000).kind).to.equal('takeover');
  });

  it('falls back to our LeaseDuration when the record declares none', () => {
    expect(effectiveLeaseMs(lease('1', { leaseDurationSeconds: 0 }).record, timings)).to.equal(15_000);
    expect(effectiveLeaseMs(lease('1', { leaseDurationSeconds: 7 }).record, timings)).to.equal(7_000);
  });

  it('renews as the holder, keeping acquireTime and leaseTransitions', () => {
    const c = new Candidate(ME);
    const mine = lease('200', { holderIdentity: ME, leaseTransitions: 5, acquireTime: '2030-05-31T23:00:00.000000Z' });
    const a = c.read(mine, T0 + 2_000);
    expect(a.kind).to.equal('renew');
    if (a.kind !== 'renew') return;
    expect(a.record).to.deep.equal({
      holderIdentity: ME,
      leaseDurationSeconds: 15,
      acquireTime: '2030-05-31T23:00:00.000000Z',
      renewTime: toMicroTime(T0 + 2_000),
      leaseTransitions: 5,
    });
  });

  it('takes over an empty-holder (released) lease immediately, incrementing leaseTransitions', () => {
    const c = new Candidate(ME);
    const released = lease('300', { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 6 });
    const a = c.read(released, T0);
    expect(a.kind).to.equal('takeover');
    if (a.kind !== 'takeover') return;
    expect(a.reason).to.equal('released');
    expect(a.record.holderIdentity).to.equal(ME);
    expect(a.record.leaseTransitions).to.equal(7);
  });

  it('counts leaseTransitions across a full create → renew → takeover → renew history', () => {
    const a = new Candidate(ME);
    const b = new Candidate(OTHER);
    const created = a.read(undefined, T0);
    if (created.kind !== 'create') throw new Error('expected create');
    let current: ObservedLease = { resourceVersion: '1', record: created.record };
    const renewed = a.read(current, T0 + 2_000);
    if (renewed.kind !== 'renew') throw new Error('expected renew');
    expect(renewed.record.leaseTransitions).to.equal(0);
    current = { resourceVersion: '2', record: renewed.record };
    expect(b.read(current, T0 + 3_000).kind).to.equal('wait');
    // a dies; b takes over once the record has not changed for LeaseDuration.
    const took = b.read(current, T0 + 18_000);
    if (took.kind !== 'takeover') throw new Error('expected takeover');
    expect(took.record.leaseTransitions).to.equal(1);
    current = { resourceVersion: '3', record: took.record };
    const bRenew = b.read(current, T0 + 20_000);
    if (bRenew.kind !== 'renew') throw new Error('expected renew');
    expect(bRenew.record.leaseTransitions).to.equal(1);
    // a comes back (same identity): it sees b holding, and waits.
    expect(a.read(current, T0 + 21_000).kind).to.equal('wait');
  });

  it('a lease that disappears and reappears is observed afresh', () => {
    const c = new Candidate(ME);
    c.read(lease('100', {}), T0);
    expect(c.read(undefined, T0 + 5_000).kind).to.equal('create');
    // Re-created by someone else before our create: a new full wait from now.
    const again = c.read(lease('500', {}), T0 + 6_000);
    expect(again).to.deep.equal({ kind: 'wait', holder: OTHER, expiresInMs: 15_000 });
  });

  describe('observe', () => {
    it('keeps the first observation time while the record is unchanged', () => {
      const first = observe(undefined, lease('1', {}), 100);
      const second = observe(first, lease('1', {}), 900);
      expect(second?.observedAt).to.equal(100);
    });

    it('moves the observation time when the resourceVersion changes', () => {
      const first = observe(undefined, lease('1', {}), 100);
      expect(observe(first, lease('2', {}), 900)?.observedAt).to.equal(900);
    });

    it('forgets the observation when the lease is gone', () => {
      expect(observe(observe(undefined, lease('1', {}), 100), undefined, 200)).to.equal(undefined);
    });
  });

  describe('renew deadline and health', () => {
    it('steps down only once RenewDeadline has passed since the last successful renewal', () => {
      expect(renewDeadlinePassed(T0, T0 + 9_999, timings)).to.equal(false);
      expect(renewDeadlinePassed(T0, T0 + 10_000, timings)).to.equal(true);
    });

    it('is unhealthy only when leading without renewal for LeaseDuration + margin', () => {
      expect(leaderHealthProblem(true, T0, T0 + 35_000, timings, 20_000)).to.equal(undefined);
      expect(leaderHealthProblem(true, T0, T0 + 35_001, timings, 20_000)).to.match(/not renewed for 35s/);
      expect(leaderHealthProblem(false, T0, T0 + 999_000, timings, 20_000)).to.equal(undefined);
      expect(leaderHealthProblem(true, undefined, T0, timings, 20_000)).to.equal(undefined);
    });
  });

  describe('next attempt of a waiting candidate', () => {
    it('polls on the jittered RetryPeriod while the lease is far from expiry', () => {
      expect(nextAttemptDelay(2_400, 12_000)).to.equal(2_400);
      expect(nextAttemptDelay(2_400, undefined)).to.equal(2_400);
    });

    it('wakes just after expiry when that comes before the next poll', () => {
      expect(nextAttemptDelay(4_000, 1_000)).to.equal(1_000 + EXPIRY_MARGIN_MS);
      expect(nextAttemptDelay(4_000, 0)).to.equal(EXPIRY_MARGIN_MS);
      expect(nextAttemptDelay(4_000, -50)).to.equal(0);
    });
  });

  it('formats MicroTime with microsecond precision', () => {
    expect(toMicroTime(Date.parse('2024-01-02T03:04:05.678Z'))).to.equal('2024-01-02T03:04:05.678000Z');
  });
});
