// The one next step on a Memcached's servers, from what is observed: the
// published list, the StatefulSet, its pods, the template and the operation
// in progress (status.lastOperation, so an operator restart resumes it).
// Pure. One server at a time, and nothing while any server is not Ready:
// a step that moves keys needs every server that holds them.
import type { V1Pod, V1PodTemplateSpec, V1StatefulSet } from '@kubernetes/client-node';
import { findCondition } from '@memcached-operator/runtime';
import type { ServerOperationStatus } from '../../api/types.js';
import { isServing } from '../pods.js';
import { changeFor, crowdedUnderRequired, type ServerChange } from './changes.js';

export interface ServerWorld {
  /** Replicas the placement asks for. */
  target: number;
  /** The published list's length; undefined before the first publication. */
  published: number | undefined;
  statefulSet: V1StatefulSet | undefined;
  /** The StatefulSet's pods by ordinal (holes are undefined). */
  pods: (V1Pod | undefined)[];
  /** Pods of an earlier version's Deployment, still serving. */
  legacyPods: V1Pod[];
  template: V1PodTemplateSpec;
  operation: ServerOperationStatus | undefined;
  now: Date;
  /** The placement relaxes Required anti-affinity to add servers beyond the nodes (pods with it are replaced). */
  relaxingRequired?: boolean;
}

export type ServerStep =
  /**
   * Nothing to do, or wait: for servers to start (the StatefulSet's readiness
   * brings the next reconcile), or for them to settle (look again after retryMs).
   */
  | { kind: 'idle'; waiting?: string; retryMs?: number }
  /** Publish a list of `count` servers (a new cache, or after a scale or migration's copy). */
  | { kind: 'publish'; count: number }
  /** Copy the legacy pods' keys to the servers that own them, then publish `count`. */
  | { kind: 'migrate'; count: number }
  | { kind: 'scaleUp'; from: number; to: number }
  | { kind: 'scaleDown'; from: number; to: number }
  /** Bring server `ordinal` to the template by `change`. */
  | { kind: 'change'; ordinal: number; change: ServerChange }
  /** Finish the operation on `ordinal`: its pod runs the template now (bring parked keys back, report); `more` servers follow in the same rollout. */
  | { kind: 'finish'; ordinal: number; more: boolean }
  /** A rollout between servers with none left to change (the template went back): it ends. */
  | { kind: 'conclude' };

/** The StatefulSet's replicas: while scaling down, the servers being emptied stay until the smaller list is published. */
export function statefulSetReplicas(target: number, published: number | undefined): number {
  return Math.max(target, published ?? 0);
}

/**
 * Seconds a server must have been Ready before the operator touches the next
 * one: a server that turns Ready and fails moments later must not have
 * taken keys parked on it. The operator keeps this count itself (from each
 * pod's Ready transition, as a Deployment's minReadySeconds does), not the
 * StatefulSet: the StatefulSet's would delay its availableReplicas, and so
 * the rollout's completion, by as much on every new cache.
 */
export const MIN_READY_SECONDS = 10;

/** The StatefulSet has seen its spec, and the first `count` servers exist and are Ready. */
function allServing(world: ServerWorld, count: number): boolean {
  const sts = world.statefulSet;
  if (!sts || (sts.status?.observedGeneration ?? 0) < (sts.metadata?.generation ?? 0)) return false;
  for (let i = 0; i < count; i++) {
    const pod = world.pods[i];
    if (!pod || !isServing(pod)) return false;
  }
  return true;
}

/** The scheduler found no node for the pod. */
function unschedulable(pod: V1Pod | undefined): boolean {
  const scheduled = findCondition(pod?.status?.conditions, 'PodScheduled');
  return scheduled?.status === 'False' && scheduled.reason === 'Unschedulable';
}

/** When the pod last turned Ready (ms), or undefined when it does not say. */
function readySince(pod: V1Pod | undefined): number | undefined {
  const at = pod?.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime;
  const ms = at === undefined ? NaN : new Date(at).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Milliseconds until each of the first `count` servers has been Ready for
 * MIN_READY_SECONDS; 0 once they all have. A Ready time ahead of the
 * operator's clock (skew) waits at most MIN_READY_SECONDS.
 */
export function settleWaitMs(world: ServerWorld, count: number): number {
  const settle = MIN_READY_SECONDS * 1000;
  let wait = 0;
  for (let i = 0; i < count; i++) {
    const since = readySince(world.pods[i]);
    if (since !== undefined) wait = Math.max(wait, Math.min(settle, since + settle - world.now.getTime()));
  }
  return wait;
}

function pendingOrdinal(world: ServerWorld): number | undefined {
  const op = world.operation;
  if (op?.phase !== 'Running' || !op.server) return undefined;
  const at = world.pods.findIndex((p) => p?.metadata?.name === op.server);
  return at >= 0 ? at : undefined;
}

export function nextStep(world: ServerWorld): ServerStep {
  const { target, published } = world;
  const count = statefulSetReplicas(target, published);
  if (published === undefined && world.legacyPods.length === 0) return { kind: 'publish', count: target };
  if (!allServing(world, count)) {
    // A server that cannot be scheduled (its node gone, SingleReplica) must
    // not hold up the scale-down that the smaller cluster asks for: it goes
    // on, copying what it can reach.
    const stuck = world.pods.slice(0, count).some(unschedulable);
    if (stuck && published !== undefined && target < published) return { kind: 'scaleDown', from: published, to: target };
    return { kind: 'idle', waiting: 'servers starting' };
  }
  const step = actionFor(world, count);
  if (step.kind === 'idle') return step;
  // Only a step that moves or restarts something waits for the servers to
  // settle: a cache with nothing to do is done as soon as its servers are Ready.
  const wait = settleWaitMs(world, count);
  return wait > 0 ? { kind: 'idle', waiting: 'servers settling', retryMs: wait } : step;
}

/** The step for servers that all serve: a migration, the pending operation, a scale, a server's change, or nothing. */
function actionFor(world: ServerWorld, count: number): ServerStep {
  const { target, published } = world;
  if (published === undefined) return { kind: 'migrate', count: target };
  const revision = world.statefulSet?.status?.updateRevision;
  const servers = world.pods.slice(0, count);
  const changes = servers.map((pod) => changeFor(pod!, world.template, revision, world.relaxingRequired));
  for (const i of crowdedUnderRequired(servers, world.template)) if (changes[i] === undefined || changes[i] === 'relabel') changes[i] = 'replace';
  // A server's operation finishes first: its keys may be parked on its peers,
  // and a scale in between would copy them as the peers' own.
  const pending = pendingOrdinal(world);
  if (pending !== undefined) {
    const change = changes[pending];
    if (change !== undefined && change !== 'relabel') return { kind: 'change', ordinal: pending, change };
    const more = changes.some((c, i) => i !== pending && c !== undefined && c !== 'relabel');
    return { kind: 'finish', ordinal: pending, more };
  }
  if (target > published) return { kind: 'scaleUp', from: published, to: target };
  if (target < published) return { kind: 'scaleDown', from: published, to: target };
  const next = changes.findIndex((c) => c !== undefined);
  if (next >= 0) return { kind: 'change', ordinal: next, change: changes[next]! };
  if (world.operation?.phase === 'Running') return { kind: 'conclude' };
  return { kind: 'idle' };
}
