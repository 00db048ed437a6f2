// Lease-based leader election across apiserver outages: the kube-apiserver
// process of the local cluster is stopped (connection refused) and started
// again with the same command line.
//
// Timings: stopping and restarting a real kube-apiserver takes ~15 s here (it
// stops listening at once after SIGTERM but only exits when SIGKILLed 10 s
// later; start-up to /readyz takes ~5 s), so the short-outage case uses lease
// 40 s / renew deadline 30 s / retry 3 s, where that outage is shorter than
// the renew deadline; the long-outage case uses FAST_TIMINGS (4 s / 3 s / 1 s),
// where the same outage is far longer.
import { expect } from 'chai';
import {
  describeViolations,
  disposeLabAfterEach,
  ElectionLab,
  eventuallyExited,
  FAST_TIMINGS,
  logTime,
  recordFailoverReport,
  type ElectionTimings,
} from '../../support/failover.js';
import { stats } from '../../support/stats.js';
import { eventually } from '../../support/cluster.js';

const BLIP: ElectionTimings = { leaseDurationMs: 40_000, renewDeadlineMs: 30_000, retryPeriodMs: 3_000 };

describe('leader election (lease) across apiserver outages, on the local cluster', function () {
  this.timeout(300_000);
  let lab: ElectionLab | undefined;
  disposeLabAfterEach(
    () => lab,
    () => (lab = undefined),
  );

  it('an outage shorter than RenewDeadline: the leader keeps its lease, does not exit, and goes on reconciling', async () => {
    lab = await ElectionLab.open({ prefix: 'le-blip', timings: BLIP });
    const leader = await lab.startCandidates(2);
    await lab.createMemcached('cache', 2);
    expect(await lab.waitForStatefulSet('cache', 2)).to.equal(leader.identity);

    const down = Date.now();
    await lab.stopApiserver();
    await lab.startApiserver();
    const outageMs = Date.now() - down;
    console.log(`      apiserver down for ${outageMs} ms (renew deadline ${BLIP.renewDeadlineMs} ms)`);
    expect(outageMs, 'precondition: the outage is shorter than RenewDeadline').to.be.below(BLIP.renewDeadlineMs);

    // It renews again (the apiserver records the write) and still holds the lease.
    await eventually('the leader to renew after the outage', () => lab!.lockWrites(down + outageMs).find((w) => w.user === leader.user), {
      timeoutMs: 2 * BLIP.retryPeriodMs + 10_000,
    });
    expect(await lab.holder()).to.equal(leader.identity);
    expect(leader.exitCode, 'the leader is still running').to.equal(undefined);
    expect(leader.proc.logs().filter((l) => l.msg === 'leader election lost')).to.deep.equal([]);
    const health = await fetch(`http://127.0.0.1:${leader.proc.healthPort}/healthz`);
    expect(health.status, '/healthz of the leader').to.equal(200);

    await lab.setSize('cache', 3);
    expect(await lab.waitForStatefulSet('cache', 3), 'the same leader reconciles after the outage').to.equal(leader.identity);

    const overlap = lab.overlap();
    expect(overlap.windows.map((w) => w.user), 'one leadership window: nobody took over').to.deep.equal([leader.user]);
    expect(overlap.writesChecked).to.be.greaterThan(0);
    expect(overlap.violations, describeViolations(overlap)).to.deep.equal([]);
  });

  it('an outage longer than RenewDeadline: the leader stops and exits 1, leadership is acquired again, nothing is lost', async () => {
    const T = FAST_TIMINGS;
    lab = await ElectionLab.open({ prefix: 'le-outage', timings: T });
    const leader = await lab.startCandidates(2);
    const standby = lab.live().find((c) => c !== leader)!;
    await lab.createMemcached('cache-0', 1);
    expect(await lab.waitForStatefulSet('cache-0', 1)).to.equal(leader.identity);

    // Work in flight when the apiserver goes away: created, not yet reconciled.
    const sizes = [2, 3, 4, 5];
    for (const [i, size] of sizes.entries()) await lab.createMemcached(`cache-${i + 1}`, size);
    const down = Date.now();
    await lab.stopApiserver();
    await eventuallyExited(leader, 30_000);
    expect(leader.exitCode, 'a leader that cannot renew exits non-zero').to.equal(1);
    const lastRenew = lab.lockWrites().filter((w) => w.user === leader.user).pop()!;
    const lost = logTime(leader, 'leader election lost');
    expect(lost, 'the leader logged the loss').to.be.a('number');
    expect(lost! - lastRenew.completed, 'stepped down within RenewDeadline').to.be.at.most(T.renewDeadlineMs + 250);
    expect(leader.proc.logs().some((l) => l.msg === 'exiting: leadership lost')).to.equal(true);
    await lab.startApiserver();
    const up = Date.now();
    console.log(`      apiserver down for ${up - down} ms`);

    // The kubelet would restart the container; the standby is still there too.
    const restarted = await lab.startCandidate();
    await lab.createMemcached('cache-5', 6);
    const next = await lab.waitForLeader({ not: [leader] });
    expect([standby, restarted]).to.include(next);
    expect(standby.exitCode, 'a standby rides the outage out').to.equal(undefined);

    // Nothing lost: every Memcached converges, the ones created during the lost leader's last moments included.
    for (const [i, size] of [1, ...sizes, 6].entries()) {
      expect(await lab.waitForStatefulSet(`cache-${i}`, size), `cache-${i} reconciled by the new leader or the old`).to.be.oneOf([
        leader.identity,
        next.identity,
      ]);
    }
    expect(await lab.waitForStatefulSet('cache-5', 6), 'created after the outage: only the new leader can have written it').to.equal(
      next.identity,
    );

    const takeover = lab.lockWrites(down).find((w) => w.user === next.user)!;
    expect(takeover, 'the new leader took the lease after the outage').to.not.equal(undefined);
    // It took over as soon as the apiserver answered: it had seen no renewal for longer than LeaseDuration.
    expect(takeover.completed - up, 'takeover after the apiserver is back').to.be.below(T.leaseDurationMs + T.retryPeriodMs * 2.2);
    const first = await lab.firstWrite('the new leader reconciling', (w) => w.user === next.user && w.resource === 'statefulsets');
    const overlap = lab.overlap();
    expect(overlap.violations, describeViolations(overlap)).to.deep.equal([]);
    expect(overlap.writesChecked).to.be.greaterThan(0);

    recordFailoverReport({
      kind: 'apiserver-outage',
      mode: 'lease',
      timings: T,
      candidates: 2,
      runs: [
        {
          faultAt: down,
          oldLeader: { name: leader.name, identity: leader.identity, exitCode: leader.exitCode, exitedAt: leader.exitedAt },
          newLeader: { name: next.name, identity: next.identity },
          oldLastLockWriteAt: lastRenew.completed,
          oldStoppedLeadingAt: lost,
          takeoverAt: takeover.completed,
          firstWriteAt: first.completed,
          // From the apiserver going down, the outage (~15 s) included. The
          // standby saw no renewal for longer than LeaseDuration, so it takes
          // over on its first attempt once the apiserver answers again.
          takeoverMs: takeover.completed - down,
          failoverMs: first.completed - down,
        },
      ],
      summary: {
        takeoverMs: stats([takeover.completed - down]),
        failoverMs: stats([first.completed - down]),
      },
      overlap,
    });
  });
});
