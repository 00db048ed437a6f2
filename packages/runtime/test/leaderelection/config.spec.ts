import { expect } from 'chai';
import {
  DEFAULT_TIMINGS,
  LeaderElectionConfigError,
  SINGLE_REPLICA_TIMINGS,
  jittered,
  newIdentity,
  timingsFor,
  validateTimings,
  type Timings,
} from '../../src/leaderelection/config.js';

// Without a label, messages name the fields themselves.
const LEASE_DURATION_FLAG = 'leaseDurationMs';
const RENEW_DEADLINE_FLAG = 'renewDeadlineMs';
const RETRY_PERIOD_FLAG = 'retryPeriodMs';

const t = (leaseS: number, renewS: number, retryS: number, jitterFactor = 1.2): Timings => ({
  leaseDurationMs: leaseS * 1000,
  renewDeadlineMs: renewS * 1000,
  retryPeriodMs: retryS * 1000,
  jitterFactor,
});

describe('leaderelection config', () => {
  describe('defaults', () => {
    it('are client-go/controller-runtime 15s/10s/2s with jitter 1.2', () => {
      expect(DEFAULT_TIMINGS).to.deep.equal(t(15, 10, 2, 1.2));
      expect(() => validateTimings({ ...DEFAULT_TIMINGS })).not.to.throw();
    });
  });

  describe('validateTimings', () => {
    const invalid: { name: string; timings: Timings; mentions: string[] }[] = [
      { name: 'zero lease duration', timings: t(0, 10, 2), mentions: [LEASE_DURATION_FLAG, 'greater than zero'] },
      { name: 'negative renew deadline', timings: t(15, -1, 2), mentions: [RENEW_DEADLINE_FLAG, 'greater than zero'] },
      { name: 'zero retry period', timings: t(15, 10, 0), mentions: [RETRY_PERIOD_FLAG, 'greater than zero'] },
      { name: 'NaN retry period', timings: t(15, 10, NaN), mentions: [RETRY_PERIOD_FLAG] },
      { name: 'zero jitter', timings: t(15, 10, 2, 0), mentions: ['jitterFactor'] },
      {
        name: 'lease duration equal to renew deadline',
        timings: t(10, 10, 2),
        mentions: [LEASE_DURATION_FLAG, RENEW_DEADLINE_FLAG, 'must be greater than'],
      },
      {
        name: 'lease duration below renew deadline',
        timings: t(8, 10, 2),
        mentions: [`${LEASE_DURATION_FLAG} (8s)`, `${RENEW_DEADLINE_FLAG} (10s)`],
      },
      {
        name: 'renew deadline equal to jitter × retry period',
        timings: t(15, 12, 10, 1.2),
        mentions: [RENEW_DEADLINE_FLAG, RETRY_PERIOD_FLAG, '1.2'],
      },
      {
        name: 'renew deadline below jitter × retry period (but above the bare retry period)',
        timings: t(15, 10, 9, 1.2),
        mentions: [RENEW_DEADLINE_FLAG, RETRY_PERIOD_FLAG],
      },
    ];
    for (const c of invalid) {
      it(`rejects ${c.name}`, () => {
        let caught: unknown;
        try {
          validateTimings(c.timings);
        } catch (err) {
          caught = err;
        }
        expect(caught).to.be.instanceOf(LeaderElectionConfigError);
        for (const m of c.mentions) expect((caught as Error).message).to.contain(m);
      });
    }

    const valid: { name: string; timings: Timings }[] = [
      { name: 'defaults', timings: t(15, 10, 2) },
      { name: 'SNO timings', timings: t(270, 240, 60) },
      { name: 'just above the jittered retry period', timings: t(15, 12.1, 10, 1.2) },
      { name: 'sub-second retry period', timings: t(3, 2, 0.5) },
    ];
    for (const c of valid) {
      it(`accepts ${c.name}`, () => {
        expect(validateTimings(c.timings)).to.deep.equal(c.timings);
      });
    }

    it('reports every problem at once', () => {
      expect(() => validateTimings(t(0, 0, 2)))
        .to.throw(LeaderElectionConfigError)
        .with.property('message')
        .that.contains(`${LEASE_DURATION_FLAG} must be greater than zero`)
        .and.contains(`${RENEW_DEADLINE_FLAG} must be greater than zero`);
    });
  });

  describe('timingsFor', () => {
    it('gives library-go SNO timings (270s/240s/60s) on SingleReplica', () => {
      expect(timingsFor('SingleReplica', {})).to.deep.equal(t(270, 240, 60, 1.2));
      expect(SINGLE_REPLICA_TIMINGS).to.deep.equal(t(270, 240, 60, 1.2));
    });

    it('keeps client-go defaults on HighlyAvailable', () => {
      expect(timingsFor('HighlyAvailable', {})).to.deep.equal(t(15, 10, 2, 1.2));
    });

    it('lets explicit flags win on SingleReplica', () => {
      expect(timingsFor('SingleReplica', { leaseDurationMs: 300_000 })).to.deep.equal(t(300, 240, 60));
      expect(
        timingsFor('SingleReplica', { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }),
      ).to.deep.equal(t(15, 10, 2));
    });

    it('lets explicit flags win on HighlyAvailable', () => {
      expect(timingsFor('HighlyAvailable', { retryPeriodMs: 1_000 })).to.deep.equal(t(15, 10, 1));
    });

    it('ignores undefined entries of the explicit flags', () => {
      expect(timingsFor('SingleReplica', { leaseDurationMs: undefined })).to.deep.equal(t(270, 240, 60));
    });

    it('validates the merged result and names the flags', () => {
      expect(() => timingsFor('SingleReplica', { leaseDurationMs: 20_000 }))
        .to.throw(LeaderElectionConfigError)
        .with.property('message')
        .that.contains(LEASE_DURATION_FLAG)
        .and.contains(RENEW_DEADLINE_FLAG);
    });

    it('names the timings as the caller labels them (the flags a user set)', () => {
      const label = (field: keyof Timings) => `--${field.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      expect(() => timingsFor('SingleReplica', { leaseDurationMs: 20_000 }, label))
        .to.throw(LeaderElectionConfigError)
        .with.property('message')
        .that.equals('invalid leader election timings: --lease-duration (20s) must be greater than --renew-deadline (240s)');
    });

    it('does not mutate the topology defaults', () => {
      timingsFor('SingleReplica', { leaseDurationMs: 999_000 });
      expect(SINGLE_REPLICA_TIMINGS.leaseDurationMs).to.equal(270_000);
    });
  });

  describe('jittered', () => {
    it('waits between d and d × (1 + factor)', () => {
      expect(jittered(2000, 1.2, () => 0)).to.equal(2000);
      expect(jittered(2000, 1.2, () => 0.5)).to.equal(3200);
      expect(jittered(2000, 1.2, () => 0.999999)).to.be.below(4400).and.above(4399);
    });

    it('treats a non-positive factor as 1', () => {
      expect(jittered(1000, 0, () => 0.5)).to.equal(1500);
    });
  });

  describe('newIdentity', () => {
    it('is <hostname>_<uuid> and unique', () => {
      const a = newIdentity('node-a');
      const b = newIdentity('node-a');
      expect(a).to.match(/^node-a_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(a).not.to.equal(b);
    });

    it('defaults to the host name', () => {
      expect(newIdentity()).to.match(/^.+_[0-9a-f-]{36}$/);
    });
  });
});
