import { expect } from 'chai';
import { Registry } from 'prom-client';
import { FakeClock } from '../../src/testing.js';
import {
  LEADER_FOR_LIFE_MAX_BACKOFF_MS,
  LeaderForLife,
  LeaderForLifeOutOfClusterError,
  backoffStepAfter,
  decideLockOwner,
  isNodeReady,
  leaderForLifeBackoff,
  type LockAction,
  type LockOwnerState,
} from '../../src/leaderelection/leaderforlife.js';
import type { Logger } from '../../src/logger.js';
import { offlineKubeConfig } from './fixtures.js';

const MY_UID = 'uid-mine';
const OTHER_UID = 'uid-other';

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const rec = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  const logger: Logger & { lines: string[] } = { lines, error: rec('error'), warn: rec('warn'), info: rec('info'), debug: rec('debug'), child: () => logger };
  return logger;
}

describe('leader-for-life', () => {
  describe('decideLockOwner', () => {
    const table: { name: string; state: LockOwnerState; expect: LockAction['kind'] }[] = [
      { name: 'no lock → create', state: { lockExists: false, myPodUid: MY_UID }, expect: 'create' },
      {
        name: 'lock owned by my Pod (restart) → leader',
        state: { lockExists: true, lockOwnerUid: MY_UID, myPodUid: MY_UID },
        expect: 'leader',
      },
      {
        name: 'owner Pod evicted → delete pod',
        state: {
          lockExists: true,
          lockOwnerUid: OTHER_UID,
          myPodUid: MY_UID,
          ownerPod: { phase: 'Failed', reason: 'Evicted', nodeName: 'n1' },
          ownerNodeReady: true,
        },
        expect: 'delete-pod',
      },
      {
        name: 'owner Pod preempted → delete pod',
        state: {
          lockExists: true,
          lockOwnerUid: OTHER_UID,
          myPodUid: MY_UID,
          ownerPod: { phase: 'Failed', reason: 'Preempting', nodeName: 'n1' },
        },
        expect: 'delete-pod',
      },
      {
        name: 'owner Pod on a NotReady node → delete pod and lock',
        state: {
          lockExists: true,
          lockOwnerUid: OTHER_UID,
          myPodUid: MY_UID,
          ownerPod: { phase: 'Running', nodeName: 'n1' },
          ownerNodeReady: false,
        },
        expect: 'delete-pod-and-lock',
      },
      {
        name: 'healthy owner → wait',
        state: {
          lockExists: true,
          lockOwnerUid: OTHER_UID,
          myPodUid: MY_UID,
          ownerPod: { phase: 'Running', nodeName: 'n1' },
          ownerNodeReady: true,
        },
        expect: 'wait',
      },
      {
        name: 'owner Pod failed for another reason → wait',
        state: {
          lockExists: true,
          lockOwnerUid: OTHER_UID,
          myPodUid: MY_UID,
          ownerPod: { phase: 'Failed', reason: 'OOMKilled', nodeName: 'n1' },
          ownerNodeReady: true,
        },
        expect: 'wait',
      },
      {
        name: 'owner node readiness unknown → wait',
        state: {
          lockExists: true,
          lockOwnerUid: OTHER_UID,
          myPodUid: MY_UID,
          ownerPod: { phase: 'Running', nodeName: 'n1' },
        },
        expect: 'wait',
      },
      {
        name: 'owner Pod not scheduled yet → wait',
        state: {
          lockExists: true,
          lockOwnerUid: OTHER_UID,
          myPodUid: MY_UID,
          ownerPod: { phase: 'Pending' },
          ownerNodeReady: false,
        },
        expect: 'wait',
      },
      {
        name: 'owner Pod already gone → wait for GC',
        state: { lockExists: true, lockOwnerUid: OTHER_UID, myPodUid: MY_UID },
        expect: 'wait',
      },
      {
        name: 'lock without a Pod owner → wait (never taken by force)',
        state: { lockExists: true, myPodUid: MY_UID },
        expect: 'wait',
      },
    ];
    for (const c of table) {
      it(c.name, () => {
        expect(decideLockOwner(c.state).kind).to.equal(c.expect);
      });
    }
  });

  describe('isNodeReady', () => {
    it('is true only when the Ready condition is True', () => {
      expect(isNodeReady({ status: { conditions: [{ type: 'Ready', status: 'True' }] } })).to.equal(true);
      expect(isNodeReady({ status: { conditions: [{ type: 'Ready', status: 'False' }] } })).to.equal(false);
      expect(isNodeReady({ status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } })).to.equal(false);
      expect(isNodeReady({ status: { conditions: [{ type: 'MemoryPressure', status: 'True' }] } })).to.equal(false);
      expect(isNodeReady({})).to.equal(false);
    });
  });

  describe('leaderForLifeBackoff', () => {
    it('doubles from 1 s and caps at 16 s without jitter', () => {
      const seq = Array.from({ length: 8 }, (_, i) => leaderForLifeBackoff(i, () => 0));
      expect(seq).to.deep.equal([1000, 2000, 4000, 8000, 16000, 16000, 16000, 16000]);
      expect(LEADER_FOR_LIFE_MAX_BACKOFF_MS).to.equal(16_000);
    });

    it('adds up to 20 % jitter on top of each step', () => {
      for (let i = 0; i < 8; i++) {
        const base = Math.min(1000 * 2 ** i, 16_000);
        expect(leaderForLifeBackoff(i, () => 0)).to.equal(base);
        expect(leaderForLifeBackoff(i, () => 0.5)).to.equal(base * 1.1);
        const max = leaderForLifeBackoff(i, () => 0.999999);
        expect(max).to.be.below(base * 1.2).and.at.least(base);
      }
    });

    it('stays bounded for huge attempt counts', () => {
      expect(leaderForLifeBackoff(10_000, () => 0.999999)).to.be.below(16_000 * 1.2);
      expect(leaderForLifeBackoff(-3, () => 0)).to.equal(1000);
    });
  });

  describe('backoffStepAfter', () => {
    it('keeps doubling while the lock is held by a live Pod, or was just created by someone else', () => {
      expect(backoffStepAfter({ kind: 'wait', reason: 'lock is held by a running Pod' }, 5)).to.equal(5);
      expect(backoffStepAfter({ kind: 'create' }, 3)).to.equal(3);
    });

    it('starts again from 1 s after deleting the owner Pod (and the lock): the lock is about to be free', () => {
      expect(backoffStepAfter({ kind: 'delete-pod', reason: 'owner Pod failed with reason Evicted' }, 6)).to.equal(0);
      expect(backoffStepAfter({ kind: 'delete-pod-and-lock', reason: "owner Pod's node n is NotReady" }, 6)).to.equal(0);
    });

    it('polls at most every ~4 s while only garbage collection of the lock is pending', () => {
      const gone = decideLockOwner({ lockExists: true, lockOwnerUid: 'old', myPodUid: 'me' });
      expect(gone.kind).to.equal('wait');
      expect(backoffStepAfter(gone, 7)).to.equal(2);
      expect(backoffStepAfter(gone, 1)).to.equal(1);
    });
  });

  describe('out of cluster', () => {
    it('refuses with a clear error when POD_NAME/POD_NAMESPACE are unset', async () => {
      const lfl = new LeaderForLife({
        kubeConfig: offlineKubeConfig(),
        lockName: 'memcached-operator-lock',
        logger: recordingLogger(),
        clock: new FakeClock(),
      });
      let started = false;
      let caught: unknown;
      try {
        await lfl.run({ onStartedLeading: () => (started = true), onStoppedLeading: () => undefined });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(LeaderForLifeOutOfClusterError);
      expect((caught as Error).message).to.contain('POD_NAME').and.contain('POD_NAMESPACE');
      expect(started).to.equal(false);
      expect(lfl.isLeader()).to.equal(false);
    });

    it('also refuses when only one of the variables is set', async () => {
      const lfl = new LeaderForLife({
        kubeConfig: offlineKubeConfig(),
        lockName: 'lock',
        podName: 'op-0',
        logger: recordingLogger(),
      });
      let caught: unknown;
      await lfl.run({ onStartedLeading: () => undefined, onStoppedLeading: () => undefined }).catch((e: unknown) => {
        caught = e;
      });
      expect(caught).to.be.instanceOf(LeaderForLifeOutOfClusterError);
    });

    it('with the skip option, logs that election is skipped and leads until stop()', async () => {
      const logger = recordingLogger();
      const registry = new Registry();
      const lfl = new LeaderForLife({
        kubeConfig: offlineKubeConfig(),
        lockName: 'lock',
        skipOutOfCluster: true,
        logger,
        registry,
        clock: new FakeClock(),
      });
      let signal: AbortSignal | undefined;
      let stopped = 0;
      const running = lfl.run({ onStartedLeading: (s) => (signal = s), onStoppedLeading: () => stopped++ });
      await new Promise((r) => setImmediate(r));
      expect(lfl.isLeader()).to.equal(true);
      expect(signal?.aborted).to.equal(false);
      expect(logger.lines.some((l) => /^warn: .*leader election skipped/.test(l))).to.equal(true);
      expect(await registry.getSingleMetricAsString('leader_election_master_status')).to.contain(
        'leader_election_master_status{name="lock"} 1',
      );
      await lfl.release(); // no-op by design
      expect(lfl.isLeader()).to.equal(true);
      lfl.stop();
      await running;
      expect(lfl.isLeader()).to.equal(false);
      expect(signal?.aborted).to.equal(true);
      expect(stopped).to.equal(0);
      expect(await registry.getSingleMetricAsString('leader_election_master_status')).to.contain(
        'leader_election_master_status{name="lock"} 0',
      );
    });
  });
});
