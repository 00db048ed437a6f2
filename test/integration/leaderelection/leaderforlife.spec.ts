// Leader-for-life election (--leader-election-mode=leader-for-life) on the
// local cluster: operator processes run outside the cluster with POD_NAME /
// POD_NAMESPACE naming stand-in Pods created on fake kwok nodes of their own.
// The harness plays the kubelet: when a candidate's Pod is deleted, its
// process is killed.
//
// A waiting candidate retries with leader.Become's backoff (1 s doubling to
// 16 s, +20 % jitter), so a takeover can take one full 19.2 s wait plus a
// quick retry after the owner is deleted; the bounds below follow from that.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { eventually } from '../../support/cluster.js';
import { describeViolations, disposeLabAfterEach, ElectionLab, measureFailover, recordFailoverReport, type FailoverReport } from '../../support/failover.js';

/** One maximal backoff wait (16 s + 20 %), a 1 s retry after the delete, GC of the lock, a reconcile, CI noise. */
const TAKEOVER_BOUND_MS = 19_200 + 1_200 + 5_000;

function expectTakenOver(report: FailoverReport): void {
  expect(report.runs).to.have.length(1);
  const run = report.runs[0];
  expect(run.newLeader.name).to.not.equal(run.oldLeader.name);
  expect(run.failoverMs, 'fault → first write by the new leader').to.be.at.most(TAKEOVER_BOUND_MS);
  expect(report.overlap.writesChecked).to.be.greaterThan(0);
  expect(report.overlap.windows.map((w) => w.user)).to.have.length(2);
  expect(report.overlap.violations, describeViolations(report.overlap)).to.deep.equal([]);
  console.log(`      ${report.kind}: failover ${Math.round(run.failoverMs)} ms, lock re-created ${Math.round(run.takeoverMs)} ms after the fault`);
}

describe('leader election (leader-for-life) on the local cluster', function () {
  this.timeout(300_000);
  let lab: ElectionLab | undefined;
  disposeLabAfterEach(
    () => lab,
    () => (lab = undefined),
  );

  it('an Evicted leader Pod is deleted by a waiting candidate, which then becomes the leader', async () => {
    const report = await measureFailover('lfl-evicted', 1, {
      candidates: 2,
      // The standby waits its longest (16 s) backoff first: the worst case a long-running deployment sees.
      settle: true,
      inspect: async (l, r) => {
        const core = l.kc.makeApiClient(k8s.CoreV1Api);
        const old = await core.readNamespacedPod({ name: r.runs[0].oldLeader.name, namespace: l.namespace }).catch((e: unknown) => e);
        expect(old instanceof k8s.ApiException && old.code === 404, 'the evicted Pod was deleted').to.equal(true);
      },
    });
    recordFailoverReport(report);
    expectTakenOver(report);
  });

  it('a leader Pod on a NotReady node is deleted with the lock, and a waiting candidate becomes the leader', async () => {
    const report = await measureFailover('lfl-node-notready', 1, {
      candidates: 2,
      inspect: (l, r) => {
        const old = l.candidates.find((c) => c.name === r.runs[0].oldLeader.name)!;
        // Partitioned on its lost node, it kept believing it led, but could not write; the kubelet killed it.
        expect(old.exitCode, 'the old leader was killed once its Pod was deleted').to.equal(null);
        const winner = l.candidates.find((c) => c.name === r.runs[0].newLeader.name)!;
        expect(winner.proc.logs().some((x) => x.msg === 'removing the lock owner so the lock is freed' && /NotReady/.test(String(x.reason)))).to.equal(
          true,
        );
      },
    });
    recordFailoverReport(report);
    expectTakenOver(report);
  });

  it('a healthy leader is never taken over, and a leader restarted in the same Pod carries on', async () => {
    lab = await ElectionLab.open({ prefix: 'le-lfl-healthy', mode: 'leader-for-life' });
    const leader = await lab.startCandidates(2);
    const standby = lab.live().find((c) => c !== leader)!;
    await lab.createMemcached('cache', 1);
    expect(await lab.waitForStatefulSet('cache', 1)).to.equal(leader.identity);

    // Bounded wait for something that must not happen: the standby looks at
    // the lock 5 times (backoff 1 + 2 + 4 + 8 s, ~15-18 s) and must find a
    // healthy owner every time.
    const waits = (): number => standby.proc.logs().filter((l) => l.msg === 'not the leader; waiting').length;
    await eventually('the standby to find the lock held 5 times', () => (waits() >= 5 ? true : undefined), { timeoutMs: 40_000 });
    expect(await lab.holder()).to.equal(leader.podName);
    expect(standby.proc.logs().filter((l) => /became the leader|removing the lock owner/.test(String(l.msg)))).to.deep.equal([]);
    expect(leader.exitCode).to.equal(undefined);

    // A container restart: same Pod, new process. The lock is still its Pod's.
    leader.proc.child.kill('SIGKILL');
    await leader.proc.exited;
    const restarted = await lab.startCandidate({ pod: leader.podName });
    expect(await lab.waitForLeader({ timeoutMs: 30_000 })).to.equal(restarted);
    expect(restarted.proc.logs().some((l) => l.msg === 'found existing lock owned by this Pod; became the leader')).to.equal(true);
    await lab.setSize('cache', 2);
    expect(await lab.waitForStatefulSet('cache', 2)).to.equal(restarted.identity);

    const overlap = lab.overlap();
    expect(overlap.windows.map((w) => w.user), 'one lock owner throughout').to.deep.equal([leader.user]);
    expect(overlap.writesChecked).to.be.greaterThan(0);
    expect(overlap.violations, describeViolations(overlap)).to.deep.equal([]);
  });
});
