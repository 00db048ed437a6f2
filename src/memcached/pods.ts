// What the operator asks of its memcached pods, in one place: whether a pod
// serves (Ready and not on its way out), whether a selector picks it, which
// managed pod has an address, and why pods are not Ready, in words a user can
// act on. Pure: reads only the pods' status, which the kubelet and the
// scheduler write. The Deployment's own counts ("3/3 updated, 0 available")
// say that something is wrong; podTrouble says what.
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { findCondition, isConditionTrue } from '@memcached-operator/runtime';
import { MANAGED_BY, MANAGED_BY_LABEL, RESTART_FROM_ANNOTATION } from './children/metadata.js';

/** Ready and not being deleted: a pod that serves clients. */
export function isServing(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && isReady(pod);
}

/** Whether every label of an equality selector is on the pod. */
export function matchesSelector(pod: V1Pod, selector: Record<string, string>): boolean {
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The managed pod whose IP is host, from the operator's cache of managed pods. */
export function managedPodAt(pods: readonly V1Pod[], host: string): V1Pod | undefined {
  return pods.find(
    (p) =>
      p.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY &&
      (p.status?.podIP === host || (p.status?.podIPs ?? []).some((ip) => ip.ip === host)),
  );
}

export const POD_TROUBLE = {
  Unschedulable: 'PodsUnschedulable',
  ImagePull: 'ImagePullFailed',
  CrashLoop: 'CrashLooping',
  OOMKilled: 'OOMKilled',
  ConfigError: 'ContainerConfigError',
  NotReady: 'ProbeFailing',
} as const;

export type PodTroubleReason = (typeof POD_TROUBLE)[keyof typeof POD_TROUBLE];

export interface PodTrouble {
  reason: PodTroubleReason;
  /** Names the pods, counts them and quotes what Kubernetes said about the first. */
  message: string;
}

/** A running container that is not Ready this long has a failing readiness probe, not a slow start. */
export const NOT_READY_GRACE_MS = 60_000;
/**
 * A pod unschedulable this long is stuck, not waiting out a planned
 * transition (a surge pod while the old one still holds its node).
 */
export const UNSCHEDULABLE_GRACE_MS = 30_000;

function elapsedMs(since: Date | string | undefined, now: Date): number | undefined {
  return since === undefined ? undefined : now.getTime() - new Date(since).getTime();
}

/** Most actionable first: a pod that cannot be placed hides every later problem. */
const PRIORITY: PodTroubleReason[] = [
  POD_TROUBLE.Unschedulable,
  POD_TROUBLE.ImagePull,
  POD_TROUBLE.ConfigError,
  POD_TROUBLE.OOMKilled,
  POD_TROUBLE.CrashLoop,
  POD_TROUBLE.NotReady,
];

const IMAGE_PULL_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

function isReady(pod: V1Pod): boolean {
  return isConditionTrue(pod.status?.conditions, 'Ready');
}

function lastTermination(c: V1ContainerStatus): string {
  const t = c.lastState?.terminated;
  if (!t) return '';
  const how = t.reason === 'OOMKilled' ? 'OOMKilled (the container memory limit is too low)' : `${t.reason ?? 'terminated'} with exit code ${t.exitCode}`;
  return `last terminated ${how}`;
}

/**
 * Whether the container's last run ended in a clean exit. memcached exits 0
 * only when told to stop (SIGTERM), and in a pod that is not being deleted
 * the one that tells it is the kubelet, when the liveness probe fails. Such a
 * pod restarts every few probe periods, so it never stays running-but-not-
 * Ready for NOT_READY_GRACE_MS and, without this, reads as a crash loop with
 * "exit code 0", which says nothing about the probe.
 */
function stoppedByKubelet(pod: V1Pod, c: V1ContainerStatus): boolean {
  return c.restartCount > 0 && c.lastState?.terminated?.exitCode === 0 && !restartedByOperator(pod, c);
}

/** The container's last clean exit was the operator's warm restart (RESTART_FROM_ANNOTATION), or a new image's. */
function restartedByOperator(pod: V1Pod, c: V1ContainerStatus): boolean {
  const from = pod.metadata?.annotations?.[RESTART_FROM_ANNOTATION];
  return from !== undefined && c.restartCount <= Number(from) + 1;
}

/** The trouble of one pod that is not Ready, or undefined while it is simply starting. */
function troubleOf(pod: V1Pod, now: Date): { reason: PodTroubleReason; detail: string } | undefined {
  const scheduled = findCondition(pod.status?.conditions, 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    const waited = elapsedMs(scheduled.lastTransitionTime, now);
    if (waited !== undefined && waited < UNSCHEDULABLE_GRACE_MS) return undefined;
    return { reason: POD_TROUBLE.Unschedulable, detail: scheduled.message ?? 'no node fits the pod' };
  }
  for (const c of pod.status?.containerStatuses ?? []) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason)) {
      return { reason: POD_TROUBLE.ImagePull, detail: `${waiting.reason} for ${c.image}: ${waiting.message ?? 'the image cannot be pulled'}` };
    }
    if (waiting?.reason && CONFIG_REASONS.has(waiting.reason)) {
      return { reason: POD_TROUBLE.ConfigError, detail: `${waiting.reason}: ${waiting.message ?? 'the container cannot be created'}` };
    }
    if (waiting?.reason === 'CrashLoopBackOff' || (c.restartCount > 0 && c.lastState?.terminated)) {
      const oom = c.lastState?.terminated?.reason === 'OOMKilled';
      const detail = [`container ${c.name} restarted ${c.restartCount} times`, lastTermination(c)].filter(Boolean).join(', ');
      if (oom) return { reason: POD_TROUBLE.OOMKilled, detail };
      if (!c.ready && stoppedByKubelet(pod, c)) {
        return { reason: POD_TROUBLE.NotReady, detail: `${detail}: the kubelet restarts it because its liveness probe fails` };
      }
      if (waiting?.reason === 'CrashLoopBackOff') return { reason: POD_TROUBLE.CrashLoop, detail };
    }
    const startedAt = c.state?.running?.startedAt;
    if (startedAt && !c.ready && elapsedMs(startedAt, now)! >= NOT_READY_GRACE_MS) {
      return { reason: POD_TROUBLE.NotReady, detail: `container ${c.name} has run since ${new Date(startedAt).toISOString()} but is not Ready: its readiness probe fails` };
    }
  }
  return undefined;
}

/**
 * The most actionable trouble among the pods that are not Ready (terminating
 * pods are ignored: they are on their way out), or undefined when every pod
 * is Ready or merely starting.
 */
export function podTrouble(pods: readonly V1Pod[], now: Date): PodTrouble | undefined {
  const found = new Map<PodTroubleReason, { pods: string[]; detail: string }>();
  for (const pod of [...pods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))) {
    if (pod.metadata?.deletionTimestamp || isReady(pod)) continue;
    const t = troubleOf(pod, now);
    if (!t) continue;
    const entry = found.get(t.reason) ?? { pods: [], detail: t.detail };
    entry.pods.push(pod.metadata?.name ?? '?');
    found.set(t.reason, entry);
  }
  const reason = PRIORITY.find((r) => found.has(r));
  if (!reason) return undefined;
  const { pods: names, detail } = found.get(reason)!;
  const who = names.length === 1 ? `pod ${names[0]}` : `${names.length} pods (${names.join(', ')})`;
  return { reason, message: `${who}: ${detail}` };
}

/**
 * When to look again: a pod that is unschedulable, or runs but is not Ready,
 * may cross its grace period without any pod event to say so.
 */
export function recheckAfterMs(pods: readonly V1Pod[], now: Date): number | undefined {
  const left: number[] = [];
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp || isReady(pod)) continue;
    const scheduled = findCondition(pod.status?.conditions, 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      const waited = elapsedMs(scheduled.lastTransitionTime, now);
      if (waited !== undefined) left.push(UNSCHEDULABLE_GRACE_MS - waited);
    }
    for (const c of pod.status?.containerStatuses ?? []) {
      const startedAt = c.state?.running?.startedAt;
      if (startedAt && !c.ready) left.push(NOT_READY_GRACE_MS - elapsedMs(startedAt, now)!);
    }
  }
  const pending = left.filter((ms) => ms > 0);
  return pending.length === 0 ? undefined : Math.min(...pending) + 1000;
}
