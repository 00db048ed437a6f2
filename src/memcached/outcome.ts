// One reconcile of a Memcached in three steps: what the caches hold for it
// (Observed, read once at the start), what the reconcile did (Outcome), and
// the status that reports it (statusInputFor, pure). The reconciler's single
// report step turns every outcome into status and Events the same way.
import type { V1ConfigMap, V1Deployment, V1Pod, V1PodDisruptionBudget, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import { findCondition, type EventType, type Result } from '@memcached-operator/runtime';
import type { Condition, Memcached, MemcachedSpec } from '../api/types.js';
import type { SizedPlacement } from '../topology/sizing.js';
import type { Verdict } from './errorpolicy.js';
import type { MonitoringObject } from './monitoring/prometheus.js';
import { CONDITION_EVICTING, CONDITION_SATURATED } from './monitoring/usage.js';
import { CONDITION_ANOMALOUS } from './autopilot/baseline.js';
import type { AutoscalingPlan } from './autopilot/plan.js';
import { isServing, podTrouble, recheckAfterMs } from './pods.js';
import { CONDITION_DEGRADED, statefulSetDataPath, REASON, type ServersReport, type StatusInput } from './status.js';
import type { SecurityCheck } from './tls/secure-serving.js';

/** An object of an optional API, when that API is served. */
export interface OptionalChild {
  live?: MonitoringObject;
}

/** What the caches hold for one Memcached, read once at the start of a reconcile. */
export interface Observed {
  mc: Memcached;
  statefulSet?: V1StatefulSet;
  /** The Deployment of an earlier version, until its keys are moved to the StatefulSet (servers/). */
  legacyDeployment?: V1Deployment;
  /** The published server list. */
  serversConfigMap?: V1ConfigMap;
  /** The anomaly baseline's store (children/baseline.ts). */
  baselineConfigMap?: V1ConfigMap;
  service?: V1Service;
  headless?: V1Service;
  servers?: V1Service;
  pdb?: V1PodDisruptionBudget;
  /** The Memcached's pods, by its selector labels. */
  pods: V1Pod[];
  /** Absent when the monitoring.coreos.com kind is not served (or monitoring is not wired). */
  podMonitor?: OptionalChild;
  prometheusRule?: OptionalChild;
}

/** What a valid spec asks for on the cluster as it is. */
export interface Plan {
  spec: MemcachedSpec;
  placement: SizedPlacement;
  schedulableNodes: number;
  security?: SecurityCheck;
  /** The desired StatefulSet (for the Events on scaling and the created note). */
  statefulSet: V1StatefulSet;
  /** With autoscaling on: its settings and the values in effect (spec above already carries them). */
  autoscaling?: AutoscalingPlan;
}

export type Outcome =
  /** The spec fails validation: children left untouched. */
  | { kind: 'invalid'; message: string }
  /** The cluster topology is not known yet: nothing written, look again soon. */
  | { kind: 'waiting'; requeueAfterMs: number }
  /** A referenced Secret memcached cannot run from: children left untouched. */
  | { kind: 'secretProblem'; security: SecurityCheck & { problem: NonNullable<SecurityCheck['problem']> } }
  /** Every child written (or already as wanted); statefulSet is as it now is. */
  | { kind: 'applied'; plan: Plan; statefulSet: V1StatefulSet | undefined; rotationRecheckMs?: number; servers?: ServersReport; serversRecheckMs?: number }
  /** Some write failed; the verdict says what to report and whether to retry. */
  | { kind: 'failed'; plan: Plan; statefulSet: V1StatefulSet | undefined; verdict: Verdict };

export function isOwnedBy(obj: { metadata?: { ownerReferences?: { controller?: boolean; uid: string }[] } } | undefined, mc: Memcached): boolean {
  return !!obj?.metadata?.ownerReferences?.some((ref) => ref.controller && ref.uid === mc.metadata.uid);
}

/** The StatefulSet to report on: after this reconcile's write where there was one, and only if it is ours. */
function reportedStatefulSet(observed: Observed, outcome: Outcome): V1StatefulSet | undefined {
  const d = outcome.kind === 'applied' || outcome.kind === 'failed' ? outcome.statefulSet : observed.statefulSet;
  return isOwnedBy(d, observed.mc) ? d : undefined;
}

function topologyOf(plan: Plan): NonNullable<StatusInput['topology']> {
  const t = plan.placement.effectiveTopology;
  return { controlPlane: t.controlPlane, infrastructure: t.infrastructure, source: plan.placement.source, schedulableNodes: plan.schedulableNodes };
}

/** Pure: the status input for an outcome (the report step adds the usage conditions). */
export function statusInputFor(observed: Observed, outcome: Exclude<Outcome, { kind: 'waiting' }>, now: Date): StatusInput {
  const statefulSet = reportedStatefulSet(observed, outcome);
  const readyPods = observed.pods.filter(isServing).map((p) => p.metadata!.name!);
  const base: StatusInput = { mc: observed.mc, readyPods, now, ...(statefulSet ? { statefulSet } : {}) };
  // What the pods serve, from the StatefulSet's template: nothing serves without one.
  const dataPath = statefulSetDataPath(statefulSet);
  if (dataPath) base.dataPath = dataPath;
  switch (outcome.kind) {
    case 'invalid':
      return { ...base, invalidMessage: outcome.message };
    case 'secretProblem': {
      const { security } = outcome;
      return { ...base, secretProblem: security.problem, extraConditions: security.conditions, ...(security.tls ? { tls: security.tls } : {}) };
    }
    case 'applied':
    case 'failed': {
      const { plan } = outcome;
      const security = plan.security;
      const input: StatusInput = { ...base, placement: plan.placement, topology: topologyOf(plan), podTrouble: podTrouble(observed.pods, now) };
      if (security) input.extraConditions = security.conditions;
      if (security?.tls) input.tls = security.tls;
      if (outcome.kind === 'applied' && outcome.servers) input.servers = outcome.servers;
      if (outcome.kind === 'applied' && !observed.statefulSet) {
        // The first creation records no Event (one write fewer per object); Progressing says what was created.
        input.created = { statefulSet: plan.statefulSet.metadata!.name!, replicas: plan.statefulSet.spec?.replicas ?? 0, profile: plan.placement.profile };
      }
      if (outcome.kind === 'failed') {
        const { verdict } = outcome;
        if (verdict.then === 'terminal') input.rejectedMessage = verdict.message;
        else if (verdict.message !== undefined) input.writeFailingMessage = verdict.message;
      }
      return input;
    }
  }
}

/** An Event to record on the Memcached. */
export interface EventSpec {
  type: EventType;
  reason: string;
  action: string;
  message: string;
}

/**
 * Pure: the Events a status change deserves. Degraded: one Warning on the way
 * in and on each change of reason. Saturated and Evicting: one each time one
 * turns True (Warning) or back (Normal).
 */
export function statusEvents(previous: readonly Condition[] | undefined, next: readonly Condition[] | undefined): EventSpec[] {
  const events: EventSpec[] = [];
  const before = findCondition(previous, CONDITION_DEGRADED);
  const degraded = findCondition(next, CONDITION_DEGRADED);
  if (degraded?.status === 'True' && (before?.status !== 'True' || before.reason !== degraded.reason)) {
    events.push({ type: 'Warning', reason: degraded.reason, action: degraded.reason === REASON.InvalidSpec ? 'Validate' : 'Reconcile', message: degraded.message });
  }
  for (const type of [CONDITION_SATURATED, CONDITION_EVICTING, CONDITION_ANOMALOUS]) {
    const now = findCondition(next, type);
    const was = findCondition(previous, type)?.status;
    if (now && now.status !== was && (now.status === 'True' || was === 'True')) {
      events.push({ type: now.status === 'True' ? 'Warning' : 'Normal', reason: now.reason, action: 'Observe', message: now.message });
    }
  }
  return events;
}

/** Pure: the Events of an applied placement: a replica change, a new profile, each notice that is new. */
export function placementEvents(mc: Memcached, before: V1StatefulSet | undefined, plan: Plan): EventSpec[] {
  const events: EventSpec[] = [];
  const { placement } = plan;
  const replicas = plan.statefulSet.spec?.replicas ?? 0;
  // No Event for the first creation: the Progressing condition carries it (statusInputFor).
  if (before && (before.spec?.replicas ?? 0) !== replicas) {
    events.push({ type: 'Normal', reason: 'Scaled', action: 'Scale', message: `Scaled from ${before.spec?.replicas ?? 0} to ${replicas} replicas (${placement.profile})` });
  }
  const previousProfile = mc.status?.topology?.profile;
  if (previousProfile !== undefined && previousProfile !== placement.profile) {
    events.push({ type: 'Normal', reason: 'TopologyChanged', action: 'Resize', message: `Placement profile changed from ${previousProfile} to ${placement.profile}` });
  }
  for (const notice of placement.notices) {
    if (findCondition(mc.status?.conditions, notice.type)?.status !== notice.status) {
      events.push({ type: 'Warning', reason: notice.reason, action: 'Place', message: notice.message });
    }
  }
  return events;
}

/**
 * Pure: when to look again after an applied reconcile: a pod that runs but
 * is not Ready turns into a failing probe with no event to say so, a
 * rotation in progress, a certificate's expiry state changing.
 */
export function requeueFor(observed: Observed, outcome: Outcome, now: Date): Result | undefined {
  if (outcome.kind !== 'applied') return undefined;
  const rechecks = [recheckAfterMs(observed.pods, now), outcome.rotationRecheckMs, outcome.serversRecheckMs, outcome.plan.security?.recheckInMs].filter((ms): ms is number => ms !== undefined);
  // setTimeout holds at most 2^31-1 ms; a far-off expiry is looked at again by then.
  return rechecks.length === 0 ? undefined : { requeueAfterMs: Math.min(...rechecks, 2 ** 31 - 1) };
}
