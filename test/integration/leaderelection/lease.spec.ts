// Lease-based leader election under process faults, on the local cluster:
// three real operator processes (each with its own ServiceAccount) against one
// apiserver. Timings are FAST_TIMINGS (lease 4 s, renew deadline 3 s, retry
// 1 s), a quarter of client-go's defaults with the same ratios, so a SIGKILL
// failover takes ~4 s instead of ~15 s and the suite stays within minutes.
//
// Every number asserted here is also recorded in bench/results/failover-raw.json.
import { expect } from 'chai';
import { describeViolations, FAST_TIMINGS, measureFailover, recordFailoverReport, type FailoverReport } from '../../support/failover.js';

const T = FAST_TIMINGS;
const RUNS = 5;
/** Extra room for the first reconcile of a new leader on a loaded 2-core CI machine. */
const RECONCILE_SLACK_MS = 2_000;

export function expectNoOverlappingWriters(report: FailoverReport): void {
  expect(report.overlap.writesChecked, 'reconciler writes by candidates in the audit log').to.be.greaterThan(report.runs.length);
  expect(report.overlap.windows.length, 'leadership windows').to.be.at.least(report.runs.length + 1);
  expect(report.overlap.violations, describeViolations(report.overlap)).to.deep.equal([]);
}

function summary(report: FailoverReport): string {
  const s = report.summary;
  const f = (x: { min: number; median: number; max: number } | undefined): string =>
    x ? `min ${Math.round(x.min)} / median ${Math.round(x.median)} / max ${Math.round(x.max)} ms` : '-';
  return `${report.kind}: failover ${f(s.failoverMs)}; takeover ${f(s.takeoverMs)}${s.handoverMs ? `; handover ${f(s.handoverMs)}` : ''}`;
}

describe('leader election (lease) under process faults, on the local cluster', function () {
  this.timeout(300_000);

  it('SIGKILL of the leader, 5 times: a new leader reconciles within LeaseDuration + RetryPeriod + 1 s, never before the lease expired', async () => {
    const report = await measureFailover('sigkill', RUNS);
    recordFailoverReport(report);
    console.log(`      ${summary(report)}`);
    expect(report.runs).to.have.length(RUNS);
    const bound = T.leaseDurationMs + T.retryPeriodMs + 1_000;
    for (const run of report.runs) {
      expect(run.newLeader.identity).to.not.equal(run.oldLeader.identity);
      // Killed: no release, so the lease had to expire. Expiry is judged from
      // when the standby saw the last renewal, which is after it was written.
      expect(run.oldLastLockWriteAt, 'the killed leader renewed at least once').to.be.a('number');
      expect(run.takeoverAt - run.oldLastLockWriteAt!, 'takeover waited a full LeaseDuration after the last renewal').to.be.at.least(
        T.leaseDurationMs,
      );
      expect(run.takeoverMs, 'kill → takeover').to.be.at.most(bound);
      expect(run.failoverMs, 'kill → first write by the new leader').to.be.at.most(bound + RECONCILE_SLACK_MS);
    }
    expectNoOverlappingWriters(report);
  });

  it('SIGTERM of the leader, 5 times: the lease is released and taken within ~1 s, the old process exits 0', async () => {
    const report = await measureFailover('sigterm', RUNS, {
      inspect: (lab) => {
        for (const c of lab.candidates.filter((x) => x.exitCode === 0)) {
          expect(c.proc.logs().some((l) => l.msg === 'released leader election lease'), `${c.name} released the lease`).to.equal(true);
        }
      },
    });
    recordFailoverReport(report);
    console.log(`      ${summary(report)}`);
    expect(report.runs).to.have.length(RUNS);
    for (const run of report.runs) {
      expect(run.oldLeader.exitCode, 'graceful shutdown exits 0').to.equal(0);
      expect(run.handoverMs, 'release → takeover').to.be.a('number');
      // ~100 ms by design (watch + fast handover); 3 s tolerates CI noise and
      // is still well below the 4 s a lease expiry would take.
      expect(run.handoverMs!).to.be.below(3_000);
      expect(run.takeoverMs, 'SIGTERM → takeover').to.be.below(3_000);
    }
    expectNoOverlappingWriters(report);
  });

  it('partition: the cut-off leader stops before its RenewDeadline ends and exits 1; the new one starts only after LeaseDuration', async () => {
    const report = await measureFailover('partition', 2, {
      inspect: (lab, r) => {
        // The apiserver's record: the old leader's last write of any kind came before its deadline.
        for (const run of r.runs) {
          const old = lab.candidates.find((c) => c.name === run.oldLeader.name)!;
          const lastWrite = lab
            .audit()
            .filter((w) => w.user === old.user && w.resource !== 'events')
            .pop();
          expect(lastWrite, `${old.name} wrote before the cut`).to.not.equal(undefined);
          expect(lastWrite!.completed).to.be.at.most(run.oldLastLockWriteAt! + T.renewDeadlineMs);
          expect(old.proc.logs().some((l) => l.msg === 'exiting: leadership lost'), `${old.name} exits because it lost leadership`).to.equal(
            true,
          );
        }
      },
    });
    recordFailoverReport(report);
    console.log(`      ${summary(report)}`);
    for (const run of report.runs) {
      expect(run.oldLeader.exitCode, 'a leader that lost its lease exits non-zero').to.equal(1);
      expect(run.oldLastLockWriteAt).to.be.a('number');
      expect(run.oldStoppedLeadingAt, 'the old leader logged the loss').to.be.a('number');
      // The deadline timer runs from the start of the last successful renewal,
      // which precedes its completion at the apiserver; 250 ms covers timer
      // and logging latency.
      expect(run.oldStoppedLeadingAt! - run.oldLastLockWriteAt!, 'stopped within RenewDeadline of the last renewal').to.be.at.most(
        T.renewDeadlineMs + 250,
      );
      expect(run.takeoverAt - run.oldLastLockWriteAt!, 'takeover only after LeaseDuration').to.be.at.least(T.leaseDurationMs);
      expect(run.oldStoppedLeadingAt!).to.be.below(run.takeoverAt);
      expect(run.failoverMs).to.be.at.most(T.leaseDurationMs + T.retryPeriodMs + 1_000 + RECONCILE_SLACK_MS);
    }
    expectNoOverlappingWriters(report);
  });
});
