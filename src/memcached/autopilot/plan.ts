// The auto pilot's part of a reconcile, pure: before the children are
// built, the replicas and memory in effect (the spec the StatefulSet is built
// from); after, the decision for now and status.autoscaling that records it.
//
// A decision is recorded first and acted on by the next reconcile, which
// builds the StatefulSet from status.autoscaling: status is the record, so a
// failed write, an operator restart or a new leader never takes a step twice,
// and never forgets one taken.
import type { AutoscalingStatus, Memcached, MemcachedSpec, ServerOperationStatus } from '../../api/types.js';
import { applyDefaults } from '../../api/validator.js';
import type { SizedPlacement } from '../../topology/sizing.js';
import { decide, nextDecisionStatus, type Decision } from './policy.js';
import { autoscalingSettings, effectiveScale, type AutoscalingSettings, type EffectiveScale } from './settings.js';
import type { CacheSignals } from './signals.js';

/** What a reconcile of an autoscaled cache works from. */
export type AutoscalingPlan =
  | { ok: true; settings: AutoscalingSettings; effective: EffectiveScale; notes: string[]; spec: MemcachedSpec }
  /** Settings that cannot be used (stored before a CRD upgrade): the spec's size and memory stay in charge. */
  | { ok: false; message: string };

/**
 * Pure: the settings and the values in effect for this cache, or undefined
 * when autoscaling is off. `placement` is the one the spec alone gives: its
 * replicas are the starting point when spec.size is unset, its topology
 * narrows the replica bounds.
 */
export function autoscalingPlan(mc: Memcached, spec: MemcachedSpec, placement: SizedPlacement): AutoscalingPlan | undefined {
  if (applyDefaults(spec).autoscaling?.enabled !== true) return undefined;
  const parsed = autoscalingSettings(spec, placement.effectiveTopology.infrastructure);
  if (!parsed.ok) return parsed;
  const effective = effectiveScale(spec, placement.replicas, parsed.settings, mc.status?.autoscaling);
  return {
    ok: true,
    settings: parsed.settings,
    effective,
    notes: parsed.notes,
    spec: { ...spec, size: effective.replicas, memoryLimitMB: effective.memoryLimitMB },
  };
}

export interface AutoscalingInput {
  previous: AutoscalingStatus | undefined;
  plan: Extract<AutoscalingPlan, { ok: true }>;
  /** The cache's recent signals, oldest first (AutopilotMemory). */
  history: readonly CacheSignals[];
  /** Servers are changing (an operation running, a step still to take). */
  busy: boolean;
  readyReplicas: number;
  lastOperation: ServerOperationStatus | undefined;
  now: Date;
}

/** Slack between a decision's time and its operation's start (clocks of two writes by the same replica). */
const START_SLACK_MS = 1000;

/**
 * Pure: when the last change ended. A decision records its own time; once
 * the server operation it started (one that began at or after it) finishes,
 * the operation's end. Any later operation (a user's image change too) moves
 * it again: signals taken while servers restart or keys move say little.
 */
export function lastScaleEnd(lastScaleTime: string | undefined, operation: ServerOperationStatus | undefined): string | undefined {
  if (lastScaleTime === undefined || operation?.finishedAt === undefined) return lastScaleTime;
  const decided = Date.parse(lastScaleTime);
  const started = Date.parse(operation.startedAt);
  const finished = Date.parse(operation.finishedAt);
  return started >= decided - START_SLACK_MS && finished > decided ? operation.finishedAt : lastScaleTime;
}

const isReplicaStep = (d: Decision): boolean => d.action === 'ScaleOut' || d.action === 'ScaleIn';
const isMemoryStep = (d: Decision): boolean => d.action === 'GrowMemory' || d.action === 'ShrinkMemory';

/** Pure: the decision for now, and status.autoscaling with it. */
export function nextAutoscaling(input: AutoscalingInput): { status: AutoscalingStatus; decision: Decision } {
  const { plan, previous, now } = input;
  const { settings, effective } = plan;
  const ended = lastScaleEnd(previous?.lastScaleTime, input.lastOperation);
  const decision = decide({
    settings,
    replicas: effective.replicas,
    memoryLimitMB: effective.memoryLimitMB,
    history: input.history,
    ...(ended !== undefined ? { lastScaleAt: Date.parse(ended) } : {}),
    busy: input.busy,
    now: now.getTime(),
  });
  const lastScaleTime = decision.action !== 'None' ? now.toISOString() : ended;
  const lastDecision = nextDecisionStatus(previous?.lastDecision, decision, input.history.at(-1), now);
  const status: AutoscalingStatus = {
    currentReplicas: input.readyReplicas,
    desiredReplicas: isReplicaStep(decision) ? decision.to : effective.replicas,
    minReplicas: settings.minReplicas,
    maxReplicas: settings.maxReplicas,
    memoryLimitMB: isMemoryStep(decision) ? decision.to : effective.memoryLimitMB,
    ...(effective.specSize !== undefined ? { specSize: effective.specSize } : {}),
    specMemoryLimitMB: effective.specMemoryLimitMB,
    ...(lastScaleTime !== undefined ? { lastScaleTime } : {}),
    ...(lastDecision ? { lastDecision } : {}),
  };
  return { status, decision };
}
