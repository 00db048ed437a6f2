// Leader-for-life election, with the semantics of Operator SDK's leader.Become:
// a ConfigMap lock whose only ownerReference is this operator's Pod. The lock
// is never released; when the Pod is deleted, the garbage collector deletes
// the lock and another candidate can create it. To avoid waiting forever on a
// Pod that will never be cleaned up on its own, a candidate deletes an owner
// Pod that was evicted/preempted, and an owner Pod on a NotReady node together
// with the lock.

import type { KubeConfig, V1ConfigMap, V1Node, V1Pod } from '@kubernetes/client-node';
import type { ApiClient } from '../client/client.js';
import { clientFor } from '../client/shared.js';
import type { Gauge, Registry } from 'prom-client';
import { callWithDeadline } from '../call.js';
import { isConditionTrue } from '../conditions.js';
import { realClock, sleep, type Clock } from '../clock.js';
import { errorMessage, statusCode } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { jittered } from './config.js';
import { leaderGauge, type LeaderCallbacks, type LeaderElector } from './elector.js';

export const LEADER_FOR_LIFE_INITIAL_BACKOFF_MS = 1_000;
export const LEADER_FOR_LIFE_MAX_BACKOFF_MS = 16_000;
/** Jitter as in leader.Become: each wait is backoff + random × 0.2 × backoff. */
export const LEADER_FOR_LIFE_JITTER = 0.2;

/**
 * The wait before retry number `attempt` (0-based): 1 s doubling up to 16 s,
 * plus up to 20 % jitter on top (so a single wait is < 19.2 s).
 */
export function leaderForLifeBackoff(attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(Math.max(0, Math.floor(attempt)), 10);
  const base = Math.min(LEADER_FOR_LIFE_INITIAL_BACKOFF_MS * 2 ** exp, LEADER_FOR_LIFE_MAX_BACKOFF_MS);
  return jittered(base, LEADER_FOR_LIFE_JITTER, random);
}

/**
 * The backoff step for the wait after `action` (`attempt` is the step the
 * loop would use next). leader.Become keeps doubling up to 16 s whatever
 * happened; after this candidate deleted the owner Pod (and the lock), or
 * while the owner Pod is already gone and only garbage collection of the lock
 * is pending, the lock is about to be free, so the wait restarts from the
 * short end instead of sitting out a full 16 s.
 */
export function backoffStepAfter(action: LockAction, attempt: number): number {
  if (action.kind === 'delete-pod' || action.kind === 'delete-pod-and-lock') return 0;
  if (action.kind === 'wait' && action.reason.startsWith('owner Pod is gone')) return Math.min(attempt, 2);
  return attempt;
}

/** What the candidate knows about the lock and its owner. */
export interface LockOwnerState {
  /** Whether the ConfigMap lock exists. */
  lockExists: boolean;
  /** uid of the lock's Pod ownerReference, if any. */
  lockOwnerUid?: string;
  /** uid of this operator's Pod. */
  myPodUid: string;
  /** The owner Pod; undefined when it was not found (deleted, GC pending). */
  ownerPod?: { phase?: string; reason?: string; nodeName?: string };
  /** The owner Pod's node Ready condition is True (false if the node is gone); undefined when unknown. */
  ownerNodeReady?: boolean;
}

export type LockAction =
  | { kind: 'create' }
  | { kind: 'leader' }
  | { kind: 'delete-pod'; reason: string }
  | { kind: 'delete-pod-and-lock'; reason: string }
  | { kind: 'wait'; reason: string };

/** The pure "lock owner state → action" decision. */
export function decideLockOwner(s: LockOwnerState): LockAction {
  if (!s.lockExists) return { kind: 'create' };
  if (s.lockOwnerUid !== undefined && s.lockOwnerUid === s.myPodUid) return { kind: 'leader' };
  if (s.lockOwnerUid === undefined) {
    return { kind: 'wait', reason: 'lock has no Pod owner; it will not be garbage collected by itself' };
  }
  const pod = s.ownerPod;
  if (!pod) return { kind: 'wait', reason: 'owner Pod is gone; waiting for the lock to be garbage collected' };
  if (pod.phase === 'Failed' && (pod.reason === 'Evicted' || pod.reason === 'Preempting')) {
    return { kind: 'delete-pod', reason: `owner Pod failed with reason ${pod.reason}` };
  }
  if (pod.nodeName && s.ownerNodeReady === false) {
    return { kind: 'delete-pod-and-lock', reason: `owner Pod's node ${pod.nodeName} is NotReady` };
  }
  return { kind: 'wait', reason: 'lock is held by a running Pod' };
}

/** Pure: a core/v1 Pod's URL path. */
function podPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
}

/** Pure: a namespace's core/v1 ConfigMaps, or one of them. */
function configMapPath(namespace: string, name?: string): string {
  const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}

/** True when the Node's Ready condition is True. */
export function isNodeReady(node: V1Node): boolean {
  return isConditionTrue(node.status?.conditions, 'Ready');
}

export interface LeaderForLifeOptions {
  kubeConfig: KubeConfig;
  /** Name of the ConfigMap lock (the election id), created in POD_NAMESPACE. */
  lockName: string;
  /** This operator's Pod (POD_NAME from the downward API); unset out of cluster. */
  podName?: string;
  /** Its namespace (POD_NAMESPACE), where the lock lives. */
  podNamespace?: string;
  /** Out of cluster (no POD_NAME/POD_NAMESPACE): run as leader without election instead of failing. */
  skipOutOfCluster?: boolean;
  /** Optional registry for `leader_election_master_status{name}`. */
  registry?: Registry;
  logger?: Logger;
  clock?: Clock;
  random?: () => number;
  /** Timeout of each API call. Default 10 s. */
  requestTimeoutMs?: number;
}

export class LeaderForLifeOutOfClusterError extends Error {
  override name = 'LeaderForLifeOutOfClusterError';
}

export class LeaderForLife implements LeaderElector {
  readonly lockName: string;
  private readonly core: ApiClient;
  private readonly podName: string | undefined;
  private readonly podNamespace: string | undefined;
  private readonly skipOutOfCluster: boolean;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly requestTimeoutMs: number;
  private readonly gauge: Gauge<'name'> | undefined;
  private stopCtl: AbortController | undefined;
  private leading = false;

  constructor(opts: LeaderForLifeOptions) {
    if (!opts.lockName) throw new Error('LeaderForLife: lockName (the election id) is required');
    this.lockName = opts.lockName;
    this.core = clientFor(opts.kubeConfig);
    this.podName = opts.podName;
    this.podNamespace = opts.podNamespace;
    this.skipOutOfCluster = opts.skipOutOfCluster ?? false;
    this.log = opts.logger ?? createLogger().child({ logger: 'leaderforlife' });
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.gauge = opts.registry ? leaderGauge(opts.registry) : undefined;
    this.gauge?.set({ name: this.lockName }, 0);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Always healthy: a leader for life cannot lose the lock while its Pod exists. */
  healthCheck(): void {
    return undefined;
  }

  /** Stops campaigning, or ends leading (the leader signal aborts); run() resolves. */
  stop(): void {
    this.stopCtl?.abort(new Error('leader election stopped'));
  }

  /**
   * A no-op by design: a leader-for-life lock is never released. It is freed
   * when this Pod is deleted and the garbage collector removes the ConfigMap.
   */
  release(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Becomes leader (retrying with backoff), calls onStartedLeading, and then
   * leads until stop(); leadership is never lost, so onStoppedLeading is never
   * called. Rejects out of cluster unless skipOutOfCluster is set, and when
   * this operator's own Pod does not exist.
   */
  async run(callbacks: LeaderCallbacks): Promise<void> {
    if (this.stopCtl) throw new Error('LeaderForLife: run() is already in progress');
    const stopCtl = new AbortController();
    this.stopCtl = stopCtl;
    try {
      const acquired = await this.become(stopCtl.signal);
      if (!acquired) return;
      this.leading = true;
      this.gauge?.set({ name: this.lockName }, 1);
      const leaderCtl = new AbortController();
      try {
        callbacks.onStartedLeading(leaderCtl.signal);
      } catch (err) {
        this.log.error('onStartedLeading threw', { error: errorMessage(err) });
      }
      await new Promise<void>((resolve) => {
        if (stopCtl.signal.aborted) resolve();
        else stopCtl.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      this.leading = false;
      this.gauge?.set({ name: this.lockName }, 0);
      leaderCtl.abort(new Error('leader election stopped'));
    } finally {
      if (this.stopCtl === stopCtl) this.stopCtl = undefined;
    }
  }

  private call<T>(what: string, fn: (callSignal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    return callWithDeadline(what, this.requestTimeoutMs, fn, { clock: this.clock, signal });
  }

  private async become(stop: AbortSignal): Promise<boolean> {
    const podName = this.podName;
    const namespace = this.podNamespace;
    if (!podName || !namespace) {
      if (this.skipOutOfCluster) {
        this.log.warn('not running in a cluster (POD_NAME/POD_NAMESPACE unset): leader election skipped', {
          lock: this.lockName,
        });
        return true;
      }
      throw new LeaderForLifeOutOfClusterError(
        'leader-for-life election needs POD_NAME and POD_NAMESPACE (set them from the downward API); ' +
          'running out of cluster requires the skip option to disable leader election',
      );
    }

    this.log.info('trying to become the leader', { lock: `${namespace}/${this.lockName}`, pod: podName });
    let attempt = 0;
    const backoff = async (): Promise<boolean> =>
      sleep(this.clock, leaderForLifeBackoff(attempt++, this.random), stop);

    let myPod: V1Pod | undefined;
    while (!myPod) {
      if (stop.aborted) return false;
      try {
        myPod = await this.call('get own pod', (signal) => this.core.get<V1Pod>(podPath(namespace, podName), { signal }), stop);
      } catch (err) {
        if (statusCode(err) === 404) {
          throw new Error(`leader-for-life election: this operator's Pod ${namespace}/${podName} does not exist`);
        }
        this.log.warn('failed to get own pod; retrying', { error: errorMessage(err) });
        if (!(await backoff())) return false;
      }
    }
    const myUid = myPod.metadata?.uid;
    if (!myUid) throw new Error(`leader-for-life election: Pod ${namespace}/${podName} has no uid`);
    attempt = 0;

    for (;;) {
      if (stop.aborted) return false;
      try {
        const lock = await this.readOrUndefined(
          () => this.call('get lock', (signal) => this.core.get<V1ConfigMap>(configMapPath(namespace, this.lockName), { signal }), stop),
        );
        const state = await this.ownerState(lock, myUid, namespace, stop);
        const action = decideLockOwner(state);
        switch (action.kind) {
          case 'leader':
            this.log.info('found existing lock owned by this Pod; became the leader', { lock: this.lockName });
            return true;
          case 'create':
            try {
              await this.call(
                'create lock',
                (signal) =>
                  this.core.create<V1ConfigMap>(
                    configMapPath(namespace),
                    {
                      apiVersion: 'v1',
                      kind: 'ConfigMap',
                      metadata: { name: this.lockName, namespace, ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: podName, uid: myUid }] },
                    },
                    { signal },
                  ),
                stop,
              );
              this.log.info('became the leader', { lock: this.lockName });
              return true;
            } catch (err) {
              if (statusCode(err) !== 409) throw err;
              this.log.info('lock was created by another candidate', { lock: this.lockName });
            }
            break;
          case 'delete-pod':
          case 'delete-pod-and-lock': {
            const owner = lock?.metadata?.ownerReferences?.find((r) => r.kind === 'Pod');
            this.log.warn('removing the lock owner so the lock is freed', {
              lock: this.lockName,
              ownerPod: owner?.name,
              reason: action.reason,
            });
            if (owner) {
              await this.deleteIgnoringNotFound('delete owner pod', (signal) =>
                this.core.delete(podPath(namespace, owner.name), { body: { preconditions: { uid: owner.uid } }, signal }),
                stop,
              );
            }
            if (action.kind === 'delete-pod-and-lock' && lock?.metadata?.uid) {
              const uid = lock.metadata.uid;
              await this.deleteIgnoringNotFound('delete lock', (signal) =>
                this.core.delete(configMapPath(namespace, this.lockName), { body: { preconditions: { uid } }, signal }),
                stop,
              );
            }
            break;
          }
          case 'wait':
            this.log.info('not the leader; waiting', { lock: this.lockName, reason: action.reason });
            break;
        }
        attempt = backoffStepAfter(action, attempt);
      } catch (err) {
        if (stop.aborted) return false;
        this.log.warn('leader-for-life attempt failed; retrying', { lock: this.lockName, error: errorMessage(err) });
      }
      if (!(await backoff())) return false;
    }
  }

  private async ownerState(
    lock: V1ConfigMap | undefined,
    myUid: string,
    namespace: string,
    stop: AbortSignal,
  ): Promise<LockOwnerState> {
    if (!lock) return { lockExists: false, myPodUid: myUid };
    const owner = lock.metadata?.ownerReferences?.find((r) => r.kind === 'Pod');
    const state: LockOwnerState = { lockExists: true, lockOwnerUid: owner?.uid, myPodUid: myUid };
    if (!owner || owner.uid === myUid) return state;
    const pod = await this.readOrUndefined(() =>
      this.call('get owner pod', (signal) => this.core.get<V1Pod>(podPath(namespace, owner.name), { signal }), stop),
    );
    if (!pod || pod.metadata?.uid !== owner.uid) return state; // gone, or a new Pod with the same name
    state.ownerPod = { phase: pod.status?.phase, reason: pod.status?.reason, nodeName: pod.spec?.nodeName };
    const nodeName = pod.spec?.nodeName;
    if (nodeName) {
      try {
        const node = await this.call('get node', (signal) => this.core.get<V1Node>(`/api/v1/nodes/${encodeURIComponent(nodeName)}`, { signal }), stop);
        state.ownerNodeReady = isNodeReady(node);
      } catch (err) {
        if (statusCode(err) === 404) state.ownerNodeReady = false;
        else this.log.debug('could not read the owner Pod node', { node: nodeName, error: errorMessage(err) });
      }
    }
    return state;
  }

  private async readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  private async deleteIgnoringNotFound(
    what: string,
    fn: (callSignal: AbortSignal) => Promise<unknown>,
    stop: AbortSignal,
  ): Promise<void> {
    try {
      await this.call(what, fn, stop);
    } catch (err) {
      const code = statusCode(err);
      if (code === 404 || code === 409) return; // already gone, or replaced (uid precondition)
      throw err;
    }
  }
}
