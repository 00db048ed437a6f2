// The auto pilot in the reconcile's report step: status.autoscaling with the
// decision for now, the Anomalous condition from the baseline's verdict, an
// Event per step, and the metrics of both. The decisions themselves are
// autopilot/'s (pure); what the poll learned comes from AutopilotMemory.
import { findCondition, setCondition, type Request } from '@memcached-operator/runtime';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AutoscalingStatus, Condition, Memcached, MemcachedStatus } from '../api/types.js';
import { anomalyCondition, CONDITION_ANOMALOUS, SIGNAL_NAMES, type BaselineState, type Verdict } from './autopilot/baseline.js';
import { nextAutoscaling } from './autopilot/plan.js';
import type { Decision } from './autopilot/policy.js';
import { anomalySettings } from './autopilot/settings.js';
import type { CacheSignals } from './autopilot/signals.js';
import type { EventSpec, Observed, Outcome } from './outcome.js';

/** What the reconciler reads of the auto pilot's memory (autopilot/memory.ts). */
export interface AutopilotReader {
  history(mc: Memcached): readonly CacheSignals[];
  anomaly(mc: Memcached): { baseline: BaselineState; verdict: Verdict } | undefined;
}

export interface AutoscalingReport {
  mc: Memcached;
  decision: Decision;
}

/**
 * Sets status.autoscaling for this reconcile and returns the decision, if
 * one was made. Off: no status.autoscaling. Nothing applied (an invalid
 * spec, a Secret problem): the previous one, unchanged.
 */
export function withAutoscalingStatus(
  status: MemcachedStatus,
  observed: Observed,
  outcome: Exclude<Outcome, { kind: 'waiting' }>,
  autopilot: AutopilotReader | undefined,
  now: Date,
): AutoscalingReport | undefined {
  const { mc } = observed;
  const previous = mc.status?.autoscaling;
  if (outcome.kind !== 'applied' && outcome.kind !== 'failed') {
    if (previous) status.autoscaling = previous;
    return undefined;
  }
  const plan = outcome.plan.autoscaling;
  if (!plan) return undefined;
  if (!plan.ok) {
    status.autoscaling = withInvalidSettings(previous, plan.message, now);
    return undefined;
  }
  const servers = outcome.kind === 'applied' ? outcome.servers : undefined;
  const busy = outcome.kind === 'failed' || servers?.pending !== undefined || servers?.lastOperation?.phase === 'Running';
  const next = nextAutoscaling({
    previous,
    plan,
    history: autopilot?.history(mc) ?? [],
    busy,
    readyReplicas: status.readyReplicas ?? 0,
    lastOperation: servers?.lastOperation ?? mc.status?.lastOperation,
    now,
  });
  status.autoscaling = next.status;
  return { mc, decision: next.decision };
}

/** The last decision says why the settings cannot be used; the values in effect stay as they were. */
function withInvalidSettings(previous: AutoscalingStatus | undefined, message: string, now: Date): AutoscalingStatus {
  if (previous?.lastDecision?.reason === 'InvalidSettings' && previous.lastDecision.message === message) return previous;
  return { ...previous, lastDecision: { time: now.toISOString(), action: 'None', reason: 'InvalidSettings', message: `${message}: spec.size and memoryLimitMB stay in charge` } };
}

/**
 * Pure: conditions with Anomalous set from the last verdict while anomaly
 * detection is on (carried over until the first verdict), and without it
 * when detection is off.
 */
export function withAnomalyCondition(
  conditions: Condition[] | undefined,
  mc: Memcached,
  outcome: Exclude<Outcome, { kind: 'waiting' }>,
  autopilot: AutopilotReader | undefined,
  now: Date,
): Condition[] {
  const list = (conditions ?? []).filter((c) => c.type !== CONDITION_ANOMALOUS);
  const before = findCondition(mc.status?.conditions, CONDITION_ANOMALOUS);
  const detection = outcome.kind === 'invalid' ? undefined : anomalySettings(mc.spec ?? {});
  if (outcome.kind !== 'invalid' && !detection?.ok) return list;
  const verdict = autopilot?.anomaly(mc)?.verdict;
  if (!verdict || outcome.kind === 'invalid') return before ? [...list, before] : list;
  return setCondition(before ? [...list, before] : list, anomalyCondition(verdict), now);
}

/** Pure: the Event of a step (none for doing nothing). */
export function autopilotEvents(report: AutoscalingReport | undefined): EventSpec[] {
  if (!report || report.decision.action === 'None') return [];
  const { decision } = report;
  return [{ type: 'Normal', reason: decision.action, action: 'Autoscale', message: decision.message }];
}

/** The auto pilot's metrics: what it recommends for each cache, its steps, and which signals depart from the baseline. */
export class AutopilotMetrics {
  private readonly replicas: Gauge<'namespace' | 'name'>;
  private readonly memory: Gauge<'namespace' | 'name'>;
  private readonly steps: Counter<'namespace' | 'name' | 'action'>;
  private readonly anomalous: Gauge<'namespace' | 'name' | 'signal'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.replicas = new Gauge({ name: 'memcached_autoscaling_desired_replicas', help: 'Replicas the auto pilot has in effect for the cache', labelNames: ['namespace', 'name'], registers });
    this.memory = new Gauge({ name: 'memcached_autoscaling_memory_limit_megabytes', help: 'Memory per server (memcached -m) the auto pilot has in effect', labelNames: ['namespace', 'name'], registers });
    this.steps = new Counter({ name: 'memcached_autoscaling_steps_total', help: 'Steps the auto pilot took, by action (ScaleOut, ScaleIn, GrowMemory, ShrinkMemory)', labelNames: ['namespace', 'name', 'action'], registers });
    this.anomalous = new Gauge({ name: 'memcached_anomalous', help: '1 while the signal departs from the cache\'s own baseline (the Anomalous condition), else 0', labelNames: ['namespace', 'name', 'signal'], registers });
  }

  /** After a reconcile's status: the values in effect, the step taken, and the departing signals. */
  observe(mc: Memcached, status: MemcachedStatus, report: AutoscalingReport | undefined, verdict: Verdict | undefined): void {
    const labels = { namespace: mc.metadata.namespace ?? '', name: mc.metadata.name ?? '' };
    const a = status.autoscaling;
    if (a?.desiredReplicas !== undefined) this.replicas.set(labels, a.desiredReplicas);
    else this.replicas.remove(labels);
    if (a?.memoryLimitMB !== undefined) this.memory.set(labels, a.memoryLimitMB);
    else this.memory.remove(labels);
    if (report && report.decision.action !== 'None') this.steps.inc({ ...labels, action: report.decision.action });
    const flagged = new Set(verdict?.flagged.map((d) => d.signal) ?? []);
    const detecting = findCondition(status.conditions, CONDITION_ANOMALOUS) !== undefined;
    for (const signal of SIGNAL_NAMES) {
      if (detecting) this.anomalous.set({ ...labels, signal }, flagged.has(signal) ? 1 : 0);
      else this.anomalous.remove({ ...labels, signal });
    }
  }

  /** A deleted Memcached: its series go. */
  forget(req: Request): void {
    const labels = { namespace: req.namespace, name: req.name };
    this.replicas.remove(labels);
    this.memory.remove(labels);
    for (const action of ['ScaleOut', 'ScaleIn', 'GrowMemory', 'ShrinkMemory']) this.steps.remove({ ...labels, action });
    for (const signal of SIGNAL_NAMES) this.anomalous.remove({ ...labels, signal });
  }
}

/** Memcacheds whose last step is remembered (the oldest is forgotten first). */
const MAX_REMEMBERED = 4096;

/**
 * The steps this replica recorded, until the Memcached cache shows them: a
 * pass that runs before the cache has the status it wrote must build from
 * the step, not decide it again.
 */
export class RecordedSteps {
  private readonly steps = new Map<string, AutoscalingStatus>();

  /** The Memcached with the newest status.autoscaling this replica knows of. */
  latest(mc: Memcached): Memcached {
    const recorded = this.steps.get(mc.metadata.uid ?? '');
    const cached = mc.status?.autoscaling;
    if (!recorded?.lastScaleTime || (cached?.lastScaleTime !== undefined && cached.lastScaleTime >= recorded.lastScaleTime)) return mc;
    return { ...mc, status: { ...mc.status, autoscaling: recorded } };
  }

  /** After a status write that recorded a step. */
  remember(mc: Memcached, status: AutoscalingStatus): void {
    const uid = mc.metadata.uid ?? '';
    this.steps.delete(uid);
    this.steps.set(uid, status);
    if (this.steps.size > MAX_REMEMBERED) this.steps.delete(this.steps.keys().next().value!);
  }
}
