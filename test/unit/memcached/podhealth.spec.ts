import { expect } from 'chai';
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { findCondition } from '@memcached-operator/runtime';
import { NOT_READY_GRACE_MS, POD_TROUBLE, UNSCHEDULABLE_GRACE_MS, podTrouble, recheckAfterMs } from '../../../src/memcached/pods.js';
import { CONDITION_DEGRADED, computeStatus } from '../../../src/memcached/status.js';
import { projectPod } from '../../../src/memcached/watchfilters.js';
import { memcached } from './fixtures.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

function pod(name: string, opts: { ready?: boolean; unschedulable?: string; unschedulableForMs?: number; container?: Partial<V1ContainerStatus>; deleting?: boolean } = {}): V1Pod {
  const conditions = [{ type: 'Ready', status: opts.ready ? 'True' : 'False' }];
  if (opts.unschedulable !== undefined) {
    const since = new Date(ago(opts.unschedulableForMs ?? UNSCHEDULABLE_GRACE_MS));
    conditions.push({ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: opts.unschedulable, lastTransitionTime: since } as never);
  }
  return {
    metadata: { name, ...(opts.deleting ? { deletionTimestamp: new Date(NOW) } : {}) },
    status: {
      conditions: conditions,
      containerStatuses: opts.container ? [{ name: 'memcached', image: 'memcached:1.6', imageID: '', ready: !!opts.ready, restartCount: 0, ...opts.container }] : undefined,
    },
  };
}

const waiting = (reason: string, message?: string): Partial<V1ContainerStatus> => ({ state: { waiting: { reason, message } } });
const running = (sinceMs: number): Partial<V1ContainerStatus> => ({ state: { running: { startedAt: new Date(ago(sinceMs)) } } });

describe('memcached/podhealth', () => {
  const cases: { name: string; pods: V1Pod[]; want?: { reason: string; message: RegExp } }[] = [
    { name: 'all Ready', pods: [pod('a', { ready: true, container: running(5000) }), pod('b', { ready: true })] },
    { name: 'a pod just created, not yet scheduled nor failing', pods: [pod('a')] },
    { name: 'a container that started moments ago', pods: [pod('a', { container: running(5_000) })] },
    {
      name: 'unschedulable, with the scheduler message',
      pods: [pod('mc-1', { unschedulable: '0/4 nodes are available: 4 Insufficient memory.' })],
      want: { reason: POD_TROUBLE.Unschedulable, message: /^pod mc-1: 0\/4 nodes are available: 4 Insufficient memory\.$/ },
    },
    {
      name: 'image pull failures',
      pods: [pod('b', { container: waiting('ImagePullBackOff', 'Back-off pulling image "nope:1"') }), pod('a', { container: waiting('ErrImagePull', 'not found') })],
      want: { reason: POD_TROUBLE.ImagePull, message: /^2 pods \(a, b\): ErrImagePull for memcached:1\.6: not found$/ },
    },
    {
      name: 'a crash loop, with the last exit',
      pods: [pod('a', { container: { ...waiting('CrashLoopBackOff', 'back-off 40s'), restartCount: 4, lastState: { terminated: { exitCode: 71, reason: 'Error' } } } })],
      want: { reason: POD_TROUBLE.CrashLoop, message: /restarted 4 times, last terminated Error with exit code 71/ },
    },
    {
      name: 'an OOM kill, even while the container runs again',
      pods: [pod('a', { container: { ...running(1000), restartCount: 1, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } } })],
      want: { reason: POD_TROUBLE.OOMKilled, message: /OOMKilled \(the container memory limit is too low\)/ },
    },
    {
      name: 'a container config error (for example a missing key)',
      pods: [pod('a', { container: waiting('CreateContainerConfigError', 'secret "x" not found') })],
      want: { reason: POD_TROUBLE.ConfigError, message: /secret "x" not found/ },
    },
    {
      name: 'running past the grace period but not Ready: the readiness probe fails',
      pods: [pod('a', { container: running(NOT_READY_GRACE_MS + 1) })],
      want: { reason: POD_TROUBLE.NotReady, message: /is not Ready: its readiness probe fails/ },
    },
    {
      name: 'restarted by the kubelet for a failing liveness probe (a clean exit), in back-off: the probe, not a crash loop',
      pods: [pod('a', { container: { ...waiting('CrashLoopBackOff', 'back-off 20s'), restartCount: 2, lastState: { terminated: { exitCode: 0, reason: 'Completed' } } } })],
      want: { reason: POD_TROUBLE.NotReady, message: /^pod a: container memcached restarted 2 times, last terminated Completed with exit code 0: the kubelet restarts it because its liveness probe fails$/ },
    },
    {
      name: 'restarted by the kubelet for a failing liveness probe, running again but not Ready, before the grace period',
      pods: [pod('a', { container: { ...running(5_000), restartCount: 1, lastState: { terminated: { exitCode: 0, reason: 'Completed' } } } })],
      want: { reason: POD_TROUBLE.NotReady, message: /liveness probe fails/ },
    },
    {
      name: 'restarted after a clean exit and Ready again: nothing to report',
      pods: [pod('a', { ready: true, container: { ...running(5_000), restartCount: 1, lastState: { terminated: { exitCode: 0, reason: 'Completed' } } } })],
    },
    {
      name: 'unschedulable outranks a failing probe',
      pods: [pod('a', { container: running(NOT_READY_GRACE_MS * 2) }), pod('b', { unschedulable: 'node(s) didn\'t match Pod\'s node affinity/selector' })],
      want: { reason: POD_TROUBLE.Unschedulable, message: /^pod b: node\(s\) didn't match/ },
    },
    { name: 'unschedulable for a moment, as in a planned transition', pods: [pod('a', { unschedulable: 'no room', unschedulableForMs: 2_000 })] },
    { name: 'terminating pods are on their way out', pods: [pod('a', { deleting: true, container: waiting('CrashLoopBackOff') })] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = podTrouble(c.pods, NOW);
      if (!c.want) {
        expect(got).to.equal(undefined);
      } else {
        expect(got?.reason).to.equal(c.want.reason);
        expect(got?.message).to.match(c.want.message);
      }
      // The informers keep only projectPod()'s fields: a field it dropped
      // would silently hide the trouble on a real cluster.
      expect(podTrouble(c.pods.map((p) => projectPod(structuredClone(p))), NOW), 'the same from projected pods').to.deep.equal(got);
    });
  }

  it('asks to look again when a not-Ready container or an unschedulable pod will cross its grace period', () => {
    expect(recheckAfterMs([pod('a', { container: running(10_000) })], NOW)).to.equal(NOT_READY_GRACE_MS - 10_000 + 1000);
    expect(recheckAfterMs([pod('a', { ready: true, container: { ...running(10_000), ready: true } })], NOW)).to.equal(undefined);
    expect(recheckAfterMs([pod('a', { container: running(NOT_READY_GRACE_MS + 5) })], NOW)).to.equal(undefined);
    expect(recheckAfterMs([pod('a', { unschedulable: 'no room', unschedulableForMs: 10_000 })], NOW)).to.equal(UNSCHEDULABLE_GRACE_MS - 10_000 + 1000);
  });

  it('becomes the Degraded condition, with the reason and the message', () => {
    const trouble = podTrouble([pod('mc-0', { container: waiting('ErrImagePull', 'manifest unknown') })], NOW)!;
    const status = computeStatus({ mc: memcached({}), podTrouble: trouble, now: NOW });
    const degraded = findCondition(status.conditions, CONDITION_DEGRADED)!;
    expect(degraded).to.deep.include({ status: 'True', reason: 'ImagePullFailed', message: 'pod mc-0: ErrImagePull for memcached:1.6: manifest unknown' });
  });
});
