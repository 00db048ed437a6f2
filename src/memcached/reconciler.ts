// The Memcached reconciler: reads what the informer caches hold for one
// Memcached once, computes the desired children with pure builders, writes
// only what differs, and leaves through one report step that writes status
// (only when it changed) and Events (only on transitions). What a failed
// write means is errorpolicy.ts's decision. Idempotent: any reconcile may be
// interrupted and simply run again.
import type * as k8s from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec, MemcachedStatus } from '../api/types.js';
import { validateMemcached } from '../api/validator.js';
import { findCondition, realClock, TerminalError, type Clock, type EventRecorder, type Reconciler, type ReconcileContext, type Request, type Result } from '@memcached-operator/runtime';
import { clusterTopology, countZones, schedulableNodes } from '../topology/detect.js';
import { placementFor, type SizedPlacement } from '../topology/sizing.js';
import { stagedPlacement, type CurrentPlacement } from '../topology/transition.js';
import type { AntiAffinity, ClusterView } from '../topology/types.js';
import { buildStatefulSet, OFFICIAL_IMAGE_UID, requiredPodsMayRun } from './children/statefulset.js';
import { crName, selectorLabels, serversServiceName, withoutLegacyFinalizer } from './children/metadata.js';
import { buildPodDisruptionBudget } from './children/pdb.js';
import { buildHeadlessService, buildServersService, buildService, headlessServiceName } from './children/services.js';
import { needsApply, withDesiredHash } from './diff.js';
import { classifyWriteError, verdictOn, type WriteFailure } from './errorpolicy.js';
import {
  buildPodMonitor,
  buildPrometheusRule,
  MONITORING_API_VERSION,
  POD_MONITOR_KIND,
  podMonitorName,
  PROMETHEUS_RULE_KIND,
  prometheusRuleName,
  withExporterSidecar,
  type MonitoringObject,
} from './monitoring/prometheus.js';
import { withUsageConditions, type UsageState } from './monitoring/usage.js';
import { autopilotEvents, RecordedSteps, withAnomalyCondition, withAutoscalingStatus, type AutopilotMetrics, type AutopilotReader } from './autoscaling.js';
import { autoscalingPlan } from './autopilot/plan.js';
import { anomalySettings } from './autopilot/settings.js';
import { baselineToStore } from './autopilot/baselinestore.js';
import { baselineConfigMapName, buildBaselineConfigMap, storedBaselineText } from './children/baseline.js';
import {
  isOwnedBy,
  placementEvents,
  requeueFor,
  statusEvents,
  statusInputFor,
  type EventSpec,
  type Observed,
  type OptionalChild,
  type Outcome,
  type Plan,
} from './outcome.js';
import { isServing, matchesSelector } from './pods.js';
import { CONDITION_AVAILABLE, computeStatus, statusEqual } from './status.js';
import { withPodSpecHash } from './servers/changes.js';
import { statefulSetReplicas } from './servers/planner.js';
import { publishedServers, serversConfigMapName } from './servers/serverlist.js';
import { ServerSteps } from './servers/steps.js';
import type { SecureServing, SecurityCheck } from './tls/secure-serving.js';
import type { ClusterWriter } from './writer.js';

/** Read access to an informer cache. */
export interface CacheReader<T> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): T[];
}

/** Condition reporting a topology that had to be assumed rather than read. */
export const CONDITION_TOPOLOGY_DETECTED = 'TopologyDetected';

/** How soon a recorded auto pilot step is taken (autopilot/plan.ts): at once, by the next pass. */
const STEP_REQUEUE_MS = 1;

/** How soon to look again while the cluster topology is not known yet. */
const TOPOLOGY_WAIT_MS = 250;

/** A cache of an optional API's objects (see the runtime's OptionalInformer). */
export interface OptionalCacheReader<T> extends CacheReader<T> {
  /** True while the API is served and its cache is filled. */
  isPresent(): boolean;
}

/** Monitoring: where the prometheus-operator objects are cached, and how Prometheus reaches the exporter. */
export interface MonitoringDeps {
  podMonitors: OptionalCacheReader<MonitoringObject>;
  prometheusRules: OptionalCacheReader<MonitoringObject>;
  /** host:port of the operator's multi-target exporter as Prometheus reaches it; unset: only sidecars are scraped. */
  exporterAddress?: string;
  /** Where the alerts' runbook_url points (alerts.ts); unset: the default. */
  runbookBaseUrl?: string;
}

export interface MemcachedReconcilerDeps {
  memcacheds: CacheReader<Memcached>;
  statefulSets: CacheReader<k8s.V1StatefulSet>;
  /** Deployments: an earlier version ran memcached in one; it is moved to the StatefulSet once (servers/). */
  deployments: CacheReader<k8s.V1Deployment>;
  configMaps: CacheReader<k8s.V1ConfigMap>;
  services: CacheReader<k8s.V1Service>;
  pdbs: CacheReader<k8s.V1PodDisruptionBudget>;
  pods: CacheReader<k8s.V1Pod>;
  cluster: ClusterView;
  writer: ClusterWriter;
  events: EventRecorder;
  defaultImage: string;
  monitoring?: MonitoringDeps;
  /** The stats poll (usage.ts): Saturated and Evicting; absent when the poll is off. */
  usage?: { stateOf(mc: Memcached): UsageState | undefined };
  /** What the auto pilot learned from the same poll (autopilot/memory.ts); absent when the poll is off. */
  autopilot?: AutopilotReader;
  autopilotMetrics?: AutopilotMetrics;
  clock?: Clock;
  /** TLS and auth Secrets; without it, referenced Secrets are not checked. */
  secureServing?: SecureServing;
}

/** One child to bring to its desired state: applied when desired, deleted (if ours) when not. */
interface ChildChange {
  apiVersion: string;
  kind: string;
  name: string;
  desired: k8s.KubernetesObject | undefined;
  live: k8s.KubernetesObject | undefined;
  /** The kind's API may be removed while the operator runs (errorpolicy.ts). */
  optionalApi: boolean;
}

function antiAffinityOf(d: k8s.V1StatefulSet | k8s.V1Deployment): AntiAffinity {
  const anti = d.spec?.template?.spec?.affinity?.podAntiAffinity;
  if (anti?.requiredDuringSchedulingIgnoredDuringExecution?.length) return 'Required';
  if (anti?.preferredDuringSchedulingIgnoredDuringExecution?.length) return 'Preferred';
  return 'None';
}

function currentPlacement(d: k8s.V1StatefulSet | undefined, pods: readonly k8s.V1Pod[]): CurrentPlacement | undefined {
  if (!d) return undefined;
  return {
    replicas: d.spec?.replicas ?? 0,
    readyReplicas: d.status?.readyReplicas ?? 0,
    antiAffinity: antiAffinityOf(d),
    requiredPodsMayRun: requiredPodsMayRun(d, pods),
  };
}

function ownedOrUndefined<T extends k8s.KubernetesObject>(obj: T | undefined, mc: Memcached): T | undefined {
  return obj && isOwnedBy(obj, mc) ? obj : undefined;
}

export class MemcachedReconciler implements Reconciler {
  private readonly clock: Clock;
  private readonly serverSteps: ServerSteps;
  private readonly recordedSteps = new RecordedSteps();

  constructor(private readonly deps: MemcachedReconcilerDeps) {
    this.clock = deps.clock ?? realClock;
    this.serverSteps = new ServerSteps(deps.writer, deps.events, deps.secureServing);
  }

  private now(): Date {
    return new Date(this.clock.now());
  }

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result | void> {
    const cached = this.deps.memcacheds.get(req.namespace, req.name);
    if (!cached) {
      // Deleted: garbage collection removes the children; the controller setup forgets its credentials.
      this.deps.autopilotMetrics?.forget(req);
      return;
    }
    const mc = await this.releaseLegacyFinalizer(cached, ctx);
    if (!mc) return;
    const observed = this.observe(this.recordedSteps.latest(mc));
    const outcome = await this.act(observed, ctx);
    return this.report(observed, outcome, ctx);
  }

  /**
   * No finalizer (docs/design-decisions.md): the children go by owner
   * references and nothing outside the cluster needs cleaning up. Objects
   * from earlier versions still carry one; it is removed once. Returns the
   * object as it now is, or undefined when it is being deleted (released
   * here, or the deletion would never complete).
   */
  private async releaseLegacyFinalizer(mc: Memcached, ctx: ReconcileContext): Promise<Memcached | undefined> {
    const remaining = withoutLegacyFinalizer(mc.metadata.finalizers);
    const current = remaining ? await this.deps.writer.setFinalizers(mc, remaining, ctx.signal) : mc;
    if (!mc.metadata.deletionTimestamp) return current;
    if (remaining) ctx.log.info('legacy finalizer removed; deletion proceeds');
    return undefined;
  }

  /** Everything the caches hold for this Memcached, read once. */
  private observe(mc: Memcached): Observed {
    const namespace = mc.metadata.namespace ?? '';
    const name = crName(mc);
    const selector = selectorLabels(mc);
    const optional = (cache: OptionalCacheReader<MonitoringObject> | undefined, child: string): OptionalChild | undefined =>
      cache?.isPresent() ? { live: cache.get(namespace, child) } : undefined;
    return {
      mc,
      statefulSet: this.deps.statefulSets.get(namespace, name),
      legacyDeployment: ownedOrUndefined(this.deps.deployments.get(namespace, name), mc),
      serversConfigMap: this.deps.configMaps.get(namespace, serversConfigMapName(mc)),
      baselineConfigMap: this.deps.configMaps.get(namespace, baselineConfigMapName(mc)),
      service: this.deps.services.get(namespace, name),
      headless: this.deps.services.get(namespace, headlessServiceName(mc)),
      servers: this.deps.services.get(namespace, serversServiceName(mc)),
      pdb: this.deps.pdbs.get(namespace, name),
      pods: this.deps.pods.list(namespace).filter((p) => matchesSelector(p, selector)),
      podMonitor: optional(this.deps.monitoring?.podMonitors, podMonitorName(mc)),
      prometheusRule: optional(this.deps.monitoring?.prometheusRules, prometheusRuleName(mc)),
    };
  }

  /** Validates, plans and writes the children; says what happened. Only a failed status write or an abort throws. */
  private async act(observed: Observed, ctx: ReconcileContext): Promise<Outcome> {
    const { mc } = observed;
    const validation = validateMemcached(mc);
    if (!validation.valid) {
      // Children are left exactly as they are: an invalid edit must not take a working cache down.
      ctx.log.info('invalid spec; children left untouched', { reason: validation.message });
      return { kind: 'invalid', message: validation.message };
    }
    const spec = validation.spec;
    // Sizing from a half-filled node cache (or before the Infrastructure API
    // was probed) would resize a running cache on every operator restart.
    if (this.deps.cluster.hasSynced?.() === false) {
      ctx.log.debug('cluster topology not known yet; requeued');
      return { kind: 'waiting', requeueAfterMs: TOPOLOGY_WAIT_MS };
    }
    // Secrets memcached cannot start from must not reach the pods: report and write no child.
    const security = this.deps.secureServing?.check(mc, spec, this.now());
    if (security?.problem) {
      ctx.log.info('referenced Secret unusable; children left untouched', { reason: security.problem.reason, message: security.problem.message });
      return { kind: 'secretProblem', security: { ...security, problem: security.problem } };
    }
    const plan = this.plan(observed, spec, security, ctx);
    const { statefulSet, failures } = await this.writeChildren(observed, plan, ctx);
    const verdict = verdictOn(failures, ctx.failures);
    if (verdict) return { kind: 'failed', plan, statefulSet, verdict };
    const rotationRecheckMs = security ? await this.deps.secureServing!.rotate(mc, spec, observed.pods.filter(isServing), security, this.now()) : undefined;
    const servers = await this.serverSteps.take(observed, plan, statefulSet, this.now(), ctx);
    return {
      kind: 'applied',
      plan,
      statefulSet,
      servers: servers.report,
      ...(servers.recheckMs !== undefined ? { serversRecheckMs: servers.recheckMs } : {}),
      ...(rotationRecheckMs !== undefined ? { rotationRecheckMs } : {}),
    };
  }

  /** The placement for this object on the cluster as it is now, staged from the live StatefulSet, and the StatefulSet it asks for. */
  private plan(observed: Observed, userSpec: MemcachedSpec, security: SecurityCheck | undefined, ctx: ReconcileContext): Plan {
    let spec = userSpec;
    const sized = this.placement(spec, ctx);
    // With autoscaling on, the replicas and memory in effect (status.autoscaling) stand in for spec.size and memoryLimitMB.
    const autoscaling = autoscalingPlan(observed.mc, spec, sized.placement);
    if (autoscaling?.ok) spec = autoscaling.spec;
    const { placement: target, schedulableNodes: eligibleNodes } = autoscaling?.ok ? this.placement(spec, ctx) : sized;
    const placement = stagedPlacement(currentPlacement(observed.statefulSet, observed.pods), target);
    // The official image names its user ("memcache"), which the kubelet
    // cannot verify as non-root, so plain Kubernetes needs its numeric uid.
    // OpenShift's restricted-v2 SCC assigns a uid itself and rejects others.
    const runAsUser = this.deps.cluster.isOpenShift() ? undefined : OFFICIAL_IMAGE_UID;
    const built = buildStatefulSet(observed.mc, spec, placement, {
      defaultImage: this.deps.defaultImage,
      ...(runAsUser !== undefined ? { runAsUser } : {}),
      replicas: statefulSetReplicas(placement.replicas, publishedServers(observed.serversConfigMap)?.length),
      ...(security ? { podAnnotations: security.podAnnotations } : {}),
    });
    const withSidecar = withExporterSidecar(built, spec);
    const statefulSet = withDesiredHash({ ...withSidecar, spec: { ...withSidecar.spec!, template: withPodSpecHash(withSidecar.spec!.template) } });
    return { spec, placement, schedulableNodes: eligibleNodes, statefulSet, ...(security ? { security } : {}), ...(autoscaling ? { autoscaling } : {}) };
  }

  /** The placement for this spec on the cluster as it is now, and the nodes it may use. */
  private placement(spec: MemcachedSpec, ctx: ReconcileContext): { placement: SizedPlacement; schedulableNodes: number } {
    const nodes = this.deps.cluster.nodes();
    const detected = clusterTopology({ infrastructure: this.deps.cluster.infrastructure(), nodes });
    const warnings = [...this.deps.cluster.warnings(), ...detected.warnings];
    // Count the nodes this object's own tolerations and nodeSelector allow.
    const eligible = schedulableNodes(nodes, spec.tolerations ?? [], spec.nodeSelector ?? {});
    const placement = placementFor(spec, detected.topology, eligible.length, countZones(eligible));
    if (warnings.length > 0) {
      ctx.log.debug('topology assumed', { warnings });
      placement.notices = [
        ...placement.notices,
        { type: CONDITION_TOPOLOGY_DETECTED, status: 'False', reason: 'TopologyAssumed', message: warnings.join('; ') },
      ];
    }
    return { placement, schedulableNodes: eligible.length };
  }

  /**
   * Every child with its desired and live state. prometheus-operator's kinds
   * only while their API is served; their appearance re-enqueues every
   * Memcached (controller.ts).
   */
  private childChanges(observed: Observed, plan: Plan): ChildChange[] {
    const { mc } = observed;
    const { spec } = plan;
    const hashed = <T extends k8s.KubernetesObject>(obj: T | undefined) => (obj ? withDesiredHash(obj) : undefined);
    const core = (apiVersion: string, kind: string, name: string, desired: k8s.KubernetesObject | undefined, live: k8s.KubernetesObject | undefined): ChildChange =>
      ({ apiVersion, kind, name, desired, live, optionalApi: false });
    const changes = [
      core('apps/v1', 'StatefulSet', crName(mc), plan.statefulSet, observed.statefulSet),
      core('v1', 'Service', crName(mc), hashed(buildService(mc, spec)), observed.service),
      core('v1', 'Service', headlessServiceName(mc), hashed(buildHeadlessService(mc, spec)), observed.headless),
      core('v1', 'Service', serversServiceName(mc), hashed(buildServersService(mc, spec)), observed.servers),
      core('policy/v1', 'PodDisruptionBudget', crName(mc), hashed(buildPodDisruptionBudget(mc, plan.placement)), observed.pdb),
    ];
    const baseline = this.desiredBaseline(observed, spec);
    if (baseline) changes.push(core('v1', 'ConfigMap', baselineConfigMapName(mc), hashed(baseline), observed.baselineConfigMap));
    const monitoring = this.deps.monitoring;
    const optional = (kind: string, name: string, present: OptionalChild | undefined, desired: () => MonitoringObject | undefined): ChildChange[] =>
      present ? [{ apiVersion: MONITORING_API_VERSION, kind, name, desired: hashed(desired()), live: present.live, optionalApi: true }] : [];
    return [
      ...changes,
      ...optional(POD_MONITOR_KIND, podMonitorName(mc), observed.podMonitor, () => buildPodMonitor(mc, spec, monitoring?.exporterAddress)),
      ...optional(PROMETHEUS_RULE_KIND, prometheusRuleName(mc), observed.prometheusRule, () => buildPrometheusRule(mc, spec, monitoring?.runbookBaseUrl)),
    ];
  }

  /**
   * The <name>-baseline ConfigMap while anomaly detection is on (stored
   * again only now and then: baselinestore.ts); undefined: leave it as it
   * is. Turning detection off leaves it to go with the Memcached: the
   * operator is not granted deleting ConfigMaps.
   */
  private desiredBaseline(observed: Observed, spec: MemcachedSpec): k8s.V1ConfigMap | undefined {
    const detection = anomalySettings(spec);
    if (!detection?.ok) return undefined;
    const stored = storedBaselineText(observed.baselineConfigMap);
    const text = baselineToStore(stored, this.deps.autopilot?.anomaly(observed.mc)?.baseline, detection.settings.learningPeriodMs);
    return text === undefined ? undefined : buildBaselineConfigMap(observed.mc, text);
  }

  /**
   * Writes every child that differs, concurrently: they do not depend on one
   * another, and one round trip per reconcile instead of one per child is
   * what the benchmark at N=1000 asked for. Every write is attempted; the
   * failures come back in a fixed order, for the error policy. The
   * Deployment comes back as it is after this write, not the cache's older
   * copy: right after a scale-up the cache still says "2 of 2 ready", which
   * would report Available for replicas that do not exist yet.
   */
  private async writeChildren(observed: Observed, plan: Plan, ctx: ReconcileContext): Promise<{ statefulSet: k8s.V1StatefulSet | undefined; failures: WriteFailure[] }> {
    const changes = this.childChanges(observed, plan);
    const results = await Promise.allSettled(changes.map((change) => this.write(change, observed.mc, ctx)));
    const failures: WriteFailure[] = [];
    let statefulSet = observed.statefulSet;
    results.forEach((result, i) => {
      const { kind, name, optionalApi } = changes[i];
      if (result.status === 'rejected') {
        ctx.log.debug('write failed', { kind, object: name, class: classifyWriteError(result.reason, optionalApi) });
        failures.push({ kind, name, optionalApi, error: result.reason });
      } else if (kind === 'StatefulSet') {
        statefulSet = result.value;
      }
    });
    return { statefulSet, failures };
  }

  /** Applies the desired object if it differs from the live one, or deletes the live one if ours and unwanted; returns the object as it now is. */
  private async write(change: ChildChange, mc: Memcached, ctx: ReconcileContext): Promise<k8s.KubernetesObject | undefined> {
    const { desired, live, kind, name } = change;
    if (desired) {
      if (!needsApply(desired, live)) return live;
      const written = await this.deps.writer.apply(desired, ctx.signal);
      ctx.log.info(live ? 'updated' : 'created', { kind, object: name });
      return written;
    }
    if (live && isOwnedBy(live, mc)) {
      // A listed object may lack apiVersion and kind; the delete needs them.
      await this.deps.writer.delete({ ...live, apiVersion: change.apiVersion, kind }, ctx.signal);
      ctx.log.info('deleted; the spec or placement no longer wants it', { kind, object: name });
    }
    return undefined;
  }

  /**
   * The one report step: status for the outcome, its Events, and the write
   * (skipped when nothing changed). Then the error policy's verdict: a
   * failure is thrown after it is reported, so the controller retries it
   * with backoff, or (terminal) waits for the Memcached to change.
   */
  private async report(observed: Observed, outcome: Outcome, ctx: ReconcileContext): Promise<Result | void> {
    if (outcome.kind === 'waiting') return { requeueAfterMs: outcome.requeueAfterMs };
    // Below the threshold a failing write is retried quietly (errorpolicy.ts).
    if (outcome.kind === 'failed' && outcome.verdict.then === 'retry' && outcome.verdict.reason === undefined) throw outcome.verdict.error;
    const { mc } = observed;
    const now = this.now();
    const status = computeStatus(statusInputFor(observed, outcome, now));
    status.conditions = withUsageConditions(status.conditions, mc.status?.conditions, this.deps.usage?.stateOf(mc), now);
    const autopilot = withAutoscalingStatus(status, observed, outcome, this.deps.autopilot, now);
    status.conditions = withAnomalyCondition(status.conditions, mc, outcome, this.deps.autopilot, now);
    this.record(mc, [
      ...(outcome.kind === 'applied' ? placementEvents(mc, observed.statefulSet, outcome.plan) : []),
      ...statusEvents(mc.status?.conditions, status.conditions),
      ...autopilotEvents(autopilot),
    ]);
    this.deps.autopilotMetrics?.observe(mc, status, autopilot, this.deps.autopilot?.anomaly(mc)?.verdict);
    const security = outcome.kind === 'secretProblem' ? outcome.security : outcome.kind === 'invalid' ? undefined : outcome.plan.security;
    if (security) this.deps.secureServing?.recordTransitions(mc, security.conditions);
    await this.writeStatus(mc, status, ctx);
    if (autopilot && autopilot.decision.action !== 'None' && status.autoscaling) this.recordedSteps.remember(mc, status.autoscaling);
    if (outcome.kind === 'failed') throw outcome.verdict.then === 'terminal' ? new TerminalError(outcome.verdict.message) : outcome.verdict.error;
    // A step is recorded first and taken by the next pass, which builds from status.autoscaling (autopilot/plan.ts).
    if (autopilot && autopilot.decision.action !== 'None') return { requeueAfterMs: STEP_REQUEUE_MS };
    return requeueFor(observed, outcome, now);
  }

  private record(mc: Memcached, events: EventSpec[]): void {
    for (const e of events) this.deps.events.event(mc, e.type, e.reason, e.action, e.message);
  }

  private async writeStatus(mc: Memcached, status: MemcachedStatus, ctx: ReconcileContext): Promise<void> {
    if (statusEqual(mc.status, status)) return;
    if (findCondition(status.conditions, CONDITION_AVAILABLE)?.status === 'True' && findCondition(mc.status?.conditions, CONDITION_AVAILABLE)?.status !== 'True') {
      ctx.log.info('available', { readyReplicas: status.readyReplicas });
    }
    await this.deps.writer.patchStatus(mc, status, ctx.signal);
  }
}
