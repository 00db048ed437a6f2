// The Memcached reconciler: reads the world from informer caches, computes the
// desired children with pure builders, writes only what differs, and reports
// status (written only when it changed) and Events (only on transitions).
// Idempotent: any reconcile may be interrupted and simply run again.
import type * as k8s from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec } from '../api/types.js';
import { validateMemcached } from '../api/validator.js';
import {
  apiMessage,
  isRejectedObject,
  realClock,
  statusCode,
  TerminalError,
  type Clock,
  type EventRecorder,
  type Reconciler,
  type ReconcileContext,
  type Request,
  type Result,
} from '@memcached-operator/runtime';
import { clusterTopology, countZones, schedulableNodes } from '../topology/detect.js';
import { placementFor, type SizedPlacement } from '../topology/sizing.js';
import { stagedPlacement, type CurrentPlacement } from '../topology/transition.js';
import type { AntiAffinity, ClusterView } from '../topology/types.js';
import { buildDeployment, OFFICIAL_IMAGE_UID, requiredPodsMayRun } from './children/deployment.js';
import { needsApply, withDesiredHash } from './diff.js';
import { withoutLegacyFinalizer } from './children/metadata.js';
import { selectorLabels } from './children/metadata.js';
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
import { buildPodDisruptionBudget } from './children/pdb.js';
import { podTrouble, recheckAfterMs } from './pods.js';
import { isServing, matchesSelector } from './pods.js';
import { SecureServing } from './tls/secure-serving.js';
import { buildHeadlessService, buildService } from './children/services.js';
import { CONDITION_AVAILABLE, CONDITION_DEGRADED, computeStatus, statusEqual } from './status.js';
import { CONDITION_EVICTING, CONDITION_SATURATED, withUsageConditions, type UsageState } from './monitoring/usage.js';
import type { ClusterWriter } from './writer.js';

/** Read access to an informer cache. */
export interface CacheReader<T> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): T[];
}

/** Condition reporting a topology that had to be assumed rather than read. */
export const CONDITION_TOPOLOGY_DETECTED = 'TopologyDetected';

/** A cache of an optional API's objects (see the runtime's OptionalInformer). */
export interface OptionalCacheReader<T> extends CacheReader<T> {
  /** True while the API is served and its cache is filled. */
  isPresent(): boolean;
}

/** Monitoring (issue #12): where the prometheus-operator objects are cached, and how Prometheus reaches the exporter. */
export interface MonitoringDeps {
  podMonitors: OptionalCacheReader<MonitoringObject>;
  prometheusRules: OptionalCacheReader<MonitoringObject>;
  /** host:port of the operator's multi-target exporter as Prometheus reaches it; unset: only sidecars are scraped. */
  exporterAddress?: string;
}

export interface MemcachedReconcilerDeps {
  memcacheds: CacheReader<Memcached>;
  deployments: CacheReader<k8s.V1Deployment>;
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
  clock?: Clock;
  /** TLS and auth Secrets (issue #13); without it, referenced Secrets are not checked. */
  secureServing?: SecureServing;
}

/** The apiserver refused a child built from a spec the validator accepted (400, 422). */
class RejectedChildError extends Error {
  override name = 'RejectedChildError';
}

function antiAffinityOf(d: k8s.V1Deployment): AntiAffinity {
  const anti = d.spec?.template?.spec?.affinity?.podAntiAffinity;
  if (anti?.requiredDuringSchedulingIgnoredDuringExecution?.length) return 'Required';
  if (anti?.preferredDuringSchedulingIgnoredDuringExecution?.length) return 'Preferred';
  return 'None';
}

function currentPlacement(d: k8s.V1Deployment | undefined): CurrentPlacement | undefined {
  if (!d) return undefined;
  return {
    replicas: d.spec?.replicas ?? 0,
    readyReplicas: d.status?.readyReplicas ?? 0,
    antiAffinity: antiAffinityOf(d),
    requiredPodsMayRun: requiredPodsMayRun(d),
  };
}

function isOwnedBy(obj: k8s.KubernetesObject | undefined, mc: Memcached): boolean {
  return !!obj?.metadata?.ownerReferences?.some((ref) => ref.controller && ref.uid === mc.metadata.uid);
}

/** A write refused because its API is no longer served (404) or its CRD is terminating (403 that says so). */
function apiGoingAway(err: unknown): boolean {
  const code = statusCode(err);
  return code === 404 || (code === 403 && /custom resource definition is terminating/.test(apiMessage(err)));
}

/** Waits for every promise; rejects with the first failure once all have settled. */
async function allSettledOrThrow(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function conditionStatus(mc: Memcached, type: string): string | undefined {
  return mc.status?.conditions?.find((c) => c.type === type)?.status;
}

export class MemcachedReconciler implements Reconciler {
  private readonly clock: Clock;

  constructor(private readonly deps: MemcachedReconcilerDeps) {
    this.clock = deps.clock ?? realClock;
  }

  private now(): Date {
    return new Date(this.clock.now());
  }

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result | void> {
    let mc = this.deps.memcacheds.get(req.namespace, req.name);
    if (!mc) return; // Deleted: garbage collection removes the children; main.ts forgets its credentials on the delete event.

    // No finalizer (docs/design-decisions.md): the children go by owner
    // references and nothing outside the cluster needs cleaning up. Objects
    // from earlier versions still carry one; it is removed once, alongside
    // the children (independent of them), and every path below awaits it.
    const legacyRemoved = withoutLegacyFinalizer(mc.metadata.finalizers);
    if (mc.metadata.deletionTimestamp) {
      // Being deleted with the legacy finalizer on: release it, or the deletion never completes.
      if (legacyRemoved) {
        await this.deps.writer.setFinalizers(mc, legacyRemoved, ctx.signal);
        ctx.log.info('legacy finalizer removed; deletion proceeds');
      }
      return;
    }
    const first = mc;
    const withoutLegacy: Promise<Memcached> = legacyRemoved ? this.deps.writer.setFinalizers(first, legacyRemoved, ctx.signal) : Promise.resolve(first);
    withoutLegacy.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile

    const validation = validateMemcached(mc);
    if (!validation.valid) {
      // Children are left exactly as they are: an invalid edit must not take
      // a working cache down.
      ctx.log.info('invalid spec; children left untouched', { reason: validation.message });
      if (conditionStatus(mc, CONDITION_DEGRADED) !== 'True') {
        this.deps.events.event(mc, 'Warning', 'InvalidSpec', 'Validate', validation.message);
      }
      mc = await withoutLegacy;
      const live = this.deps.deployments.get(req.namespace, req.name);
      await this.writeStatus(mc, computeStatus({ mc, deployment: isOwnedBy(live, mc) ? live : undefined, invalidMessage: validation.message, now: this.now() }), ctx);
      return;
    }
    const spec = validation.spec;

    // Sizing from a half-filled node cache (or before the Infrastructure API
    // was probed) would resize a running cache on every operator restart.
    if (this.deps.cluster.hasSynced?.() === false) {
      ctx.log.debug('cluster topology not known yet; requeued');
      await withoutLegacy;
      return { requeueAfterMs: 250 };
    }

    // Secrets memcached cannot start from must not reach the pods: report and write no child.
    const security = this.deps.secureServing?.check(mc, spec, this.now());
    if (security?.problem) {
      ctx.log.info('referenced Secret unusable; children left untouched', { reason: security.problem.reason, message: security.problem.message });
      mc = await withoutLegacy;
      const selector = selectorLabels(mc);
      const live = this.deps.deployments.get(req.namespace, req.name);
      const readyNow = this.deps.pods.list(req.namespace).filter((p) => matchesSelector(p, selector) && isServing(p));
      this.deps.secureServing!.recordTransitions(mc, security.conditions);
      await this.writeStatus(
        mc,
        computeStatus({
          mc,
          deployment: isOwnedBy(live, mc) ? live : undefined,
          readyPods: readyNow.map((p) => p.metadata!.name!),
          secretProblem: security.problem,
          extraConditions: security.conditions,
          ...(security.tls ? { tls: security.tls } : {}),
          now: this.now(),
        }),
        ctx,
      );
      return;
    }

    const { placement, schedulableNodes: eligibleNodes } = this.placement(spec, ctx);
    const liveDeployment = this.deps.deployments.get(req.namespace, req.name);
    const applied = stagedPlacement(currentPlacement(liveDeployment), placement);

    // The official image names its user ("memcache"), which the kubelet
    // cannot verify as non-root, so plain Kubernetes needs its numeric uid.
    // OpenShift's restricted-v2 SCC assigns a uid itself and rejects others.
    const runAsUser = this.deps.cluster.isOpenShift() ? undefined : OFFICIAL_IMAGE_UID;
    const deployment = withDesiredHash(
      withExporterSidecar(
        buildDeployment(mc, spec, applied, {
          defaultImage: this.deps.defaultImage,
          ...(runAsUser !== undefined ? { runAsUser } : {}),
          ...(liveDeployment ? { live: liveDeployment } : {}),
          schedulableNodes: eligibleNodes,
          ...(security ? { podAnnotations: security.podAnnotations } : {}),
        }),
        spec,
      ),
    );
    const service = withDesiredHash(buildService(mc, spec));
    const headless = withDesiredHash(buildHeadlessService(mc, spec));
    const pdb = buildPodDisruptionBudget(mc, applied);
    const livePdb = this.deps.pdbs.get(req.namespace, req.name);
    // The children do not depend on one another, so they are written
    // concurrently: one API round trip per reconcile instead of four (the
    // benchmark found reconciles waiting on sequential writes at N=1000).
    // Every write is attempted; the first failure fails the reconcile.
    // Status must describe the Deployment as it is after this reconcile's
    // write, not the cache's older copy: right after a scale-up the cache
    // still says "2 of 2 ready", which would report Available for a
    // generation whose new replicas do not exist yet.
    let currentDeployment = liveDeployment;
    const writes = allSettledOrThrow([
      withoutLegacy.then((updated) => {
        mc = updated;
      }),
      this.ensure(deployment, liveDeployment, ctx).then((d) => {
        currentDeployment = d;
      }),
      this.ensure(service, this.deps.services.get(req.namespace, service.metadata.name!), ctx),
      this.ensure(headless, this.deps.services.get(req.namespace, headless.metadata.name!), ctx),
      (async () => {
        if (pdb) {
          await this.ensure(withDesiredHash(pdb), livePdb, ctx);
        } else if (livePdb && isOwnedBy(livePdb, mc)) {
          await this.deps.writer.delete(livePdb, ctx.signal);
          ctx.log.info('deleted PodDisruptionBudget; the placement no longer wants one', { profile: applied.profile });
        }
      })(),
      this.ensureMonitoring(mc, spec, ctx),
    ]);
    try {
      await writes;
    } catch (err) {
      if (!(err instanceof RejectedChildError)) throw err;
      // The spec, not the network: report it (Degraded, and an Event on the
      // transition) and do not retry until the Memcached changes.
      const live = this.deps.deployments.get(req.namespace, req.name);
      await this.writeStatus(mc, computeStatus({ mc, deployment: isOwnedBy(live, mc) ? live : undefined, rejectedMessage: err.message, now: this.now() }), ctx);
      throw new TerminalError(err.message);
    }

    this.recordTransitions(mc, liveDeployment, deployment, applied);
    // The first creation records no Event (one write fewer per object); the
    // Progressing condition written in this same pass says what was created.
    const created = liveDeployment ? undefined : { deployment: deployment.metadata.name!, replicas: deployment.spec?.replicas ?? 0, profile: applied.profile };

    const selector = selectorLabels(mc);
    const pods = this.deps.pods.list(req.namespace).filter((p) => matchesSelector(p, selector));
    const readyPods = pods.filter(isServing).map((p) => p.metadata!.name!);
    const rotationRecheck = security ? await this.deps.secureServing!.rotate(mc, spec, pods.filter(isServing), security, this.now()) : undefined;
    if (security) this.deps.secureServing!.recordTransitions(mc, security.conditions);
    const now = this.now();
    const status = computeStatus({
      mc,
      deployment: isOwnedBy(currentDeployment, mc) ? currentDeployment : undefined,
      readyPods,
      placement: applied,
      topology: {
        controlPlane: applied.effectiveTopology.controlPlane,
        infrastructure: applied.effectiveTopology.infrastructure,
        source: applied.source,
        schedulableNodes: eligibleNodes,
      },
      podTrouble: podTrouble(pods, now),
      ...(created ? { created } : {}),
      ...(security ? { extraConditions: security.conditions, ...(security.tls ? { tls: security.tls } : {}) } : {}),
      now,
    });
    status.conditions = withUsageConditions(status.conditions, mc.status?.conditions, this.deps.usage?.stateOf(mc), now);
    await this.writeStatus(mc, status, ctx);
    // A pod that runs but is not Ready turns into a failing probe with no
    // event to say so; look again then.
    const rechecks = [recheckAfterMs(pods, now), rotationRecheck, security?.recheckInMs].filter((ms): ms is number => ms !== undefined);
    // setTimeout holds at most 2^31-1 ms; a far-off expiry is looked at again by then.
    return rechecks.length === 0 ? undefined : { requeueAfterMs: Math.min(...rechecks, 2 ** 31 - 1) };
  }

  /** The placement for this object on the cluster as it is now, and the nodes it may use. */
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
   * The PodMonitor and PrometheusRule, for each kind whose API is served:
   * applied when monitoring is on, deleted (if ours) when it is off. Nothing
   * happens for a kind whose API is not served; its appearance re-enqueues
   * every Memcached (main.ts).
   */
  private async ensureMonitoring(mc: Memcached, spec: MemcachedSpec, ctx: ReconcileContext): Promise<void> {
    const monitoring = this.deps.monitoring;
    if (!monitoring) return;
    const namespace = mc.metadata.namespace!;
    const children: [OptionalCacheReader<MonitoringObject>, MonitoringObject | undefined, string, string][] = [
      [monitoring.podMonitors, buildPodMonitor(mc, spec, monitoring.exporterAddress), podMonitorName(mc), POD_MONITOR_KIND],
      [monitoring.prometheusRules, buildPrometheusRule(mc, spec), prometheusRuleName(mc), PROMETHEUS_RULE_KIND],
    ];
    await allSettledOrThrow(
      children.map(async ([cache, desired, name, kind]) => {
        if (!cache.isPresent()) return;
        const live = cache.get(namespace, name);
        try {
          if (desired) {
            await this.ensure(withDesiredHash(desired), live, ctx);
          } else if (live && isOwnedBy(live, mc)) {
            // A listed object may lack apiVersion and kind; the delete needs them.
            await this.deps.writer.delete({ ...live, apiVersion: MONITORING_API_VERSION, kind }, ctx.signal);
            ctx.log.info('deleted; monitoring is off', { kind, object: name });
          }
        } catch (err) {
          // The CRD is being removed: nothing to write, and no error. The
          // informer's next probe sees the API gone; if it comes back, every
          // Memcached is reconciled again.
          if (!apiGoingAway(err)) throw err;
          ctx.log.debug('monitoring API going away; skipped', { kind, error: apiMessage(err) });
        }
      }),
    );
  }

  /** Applies desired if it differs from live; returns the object as it now is. */
  private async ensure<T extends k8s.KubernetesObject>(desired: T, live: T | undefined, ctx: ReconcileContext): Promise<T | undefined> {
    if (!needsApply(desired, live)) return live;
    let written: T;
    try {
      written = await this.deps.writer.apply(desired, ctx.signal);
    } catch (err) {
      if (isRejectedObject(err)) throw new RejectedChildError(`the apiserver rejected ${desired.kind} ${desired.metadata?.name}: ${apiMessage(err)}`);
      throw err;
    }
    ctx.log.info(live ? 'updated' : 'created', { kind: desired.kind, object: desired.metadata?.name });
    return written;
  }

  private recordTransitions(mc: Memcached, before: k8s.V1Deployment | undefined, after: k8s.V1Deployment, placement: SizedPlacement): void {
    const replicas = after.spec?.replicas ?? 0;
    // No Event for the first creation: the Progressing condition carries it (see reconcile()).
    if (before && (before.spec?.replicas ?? 0) !== replicas) {
      this.deps.events.event(mc, 'Normal', 'Scaled', 'Scale', `Scaled from ${before.spec?.replicas ?? 0} to ${replicas} replicas (${placement.profile})`);
    }
    const previousProfile = mc.status?.topology?.profile;
    if (previousProfile !== undefined && previousProfile !== placement.profile) {
      this.deps.events.event(mc, 'Normal', 'TopologyChanged', 'Resize', `Placement profile changed from ${previousProfile} to ${placement.profile}`);
    }
    for (const notice of placement.notices) {
      if (conditionStatus(mc, notice.type) !== notice.status) {
        this.deps.events.event(mc, 'Warning', notice.reason, 'Place', notice.message);
      }
    }
  }

  private async writeStatus(mc: Memcached, status: ReturnType<typeof computeStatus>, ctx: ReconcileContext): Promise<void> {
    if (statusEqual(mc.status, status)) return;
    const before = mc.status?.conditions?.find((c) => c.type === CONDITION_DEGRADED);
    const degraded = status.conditions?.find((c) => c.type === CONDITION_DEGRADED);
    // One Event per transition: into Degraded, or from one reason to another.
    const changed = before?.status !== 'True' || before.reason !== degraded?.reason;
    if (degraded?.status === 'True' && changed && degraded.reason !== 'InvalidSpec') {
      this.deps.events.event(mc, 'Warning', degraded.reason, 'Reconcile', degraded.message);
    }
    // Saturated and Evicting: one Event each time one turns True or back to False.
    for (const type of [CONDITION_SATURATED, CONDITION_EVICTING]) {
      const next = status.conditions?.find((c) => c.type === type);
      const was = conditionStatus(mc, type);
      if (next && next.status !== was && (next.status === 'True' || was === 'True')) {
        this.deps.events.event(mc, next.status === 'True' ? 'Warning' : 'Normal', next.reason, 'Observe', next.message);
      }
    }
    const available = status.conditions?.find((c) => c.type === CONDITION_AVAILABLE);
    if (available?.status === 'True' && conditionStatus(mc, CONDITION_AVAILABLE) !== 'True') {
      ctx.log.info('available', { readyReplicas: status.readyReplicas });
    }
    await this.deps.writer.patchStatus(mc, status, ctx.signal);
  }
}
