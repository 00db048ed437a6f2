// The Memcached controller's setup, in the spirit of controller-runtime's
// SetupWithManager: the informers (built from one table), the reconciler and
// what it needs, the controller's watches, and the memcached exporter that
// shares their caches, all registered with the manager. main.ts only starts
// the process; everything about Memcacheds is wired here.
import type * as k8s from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import {
  clientFor,
  ApiEventRecorder,
  Controller,
  errorMessage,
  OptionalInformer,
  parseBindAddress,
  projectionChanged,
  ResilientInformer,
  statusCode,
  stripManagedFields,
  type InformerOptions,
  type Logger,
  type Manager,
  type Request,
  type ResourceDescriptor,
} from '@memcached-operator/runtime';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Memcached } from '../api/types.js';
import { validateMemcached } from '../api/validator.js';
import { Exporter } from '../exporter/server.js';
import type { Options } from '../options.js';
import type { TopologyWatcher } from '../topology/watcher.js';
import { INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from './children/metadata.js';
import {
  discoveryTargets,
  MONITORING_API_VERSION,
  MONITORING_GROUP,
  POD_MONITOR_KIND,
  PROMETHEUS_RULE_KIND,
  scrapeRefusal,
  type MonitoringObject,
} from './monitoring/prometheus.js';
import { UsagePoller } from './monitoring/usage.js';
import { AutopilotMemory } from './autopilot/memory.js';
import { AutopilotMetrics } from './autoscaling.js';
import { baselineConfigMapName, storedBaselineText } from './children/baseline.js';
import { MemcachedReconciler } from './reconciler.js';
import { CertificateRotator } from './tls/rotation.js';
import { digestSecret, memcachedsReferencing, type SecretDigest } from './tls/secret-digest.js';
import { securedFetchStats, SecureServing } from './tls/secure-serving.js';
import {
  CHILD_STATUS_COALESCE_MS,
  childAddMatters,
  childProjection,
  statefulSetAddMatters,
  statefulSetProjection,
  statefulSetUrgent,
  memcachedUpdateMatters,
  podAddMatters,
  podGainedReadinessOnly,
  podLostReadiness,
  podProjection,
  projectPod,
} from './watchfilters.js';
import { ApiClusterWriter } from './writer.js';

export const CONTROLLER_NAME = 'memcached';
const EVENT_SOURCE = 'cache.example.com/memcached-operator';
/** How often the leader polls stats in a cluster when --usage-poll-interval is not given. */
const IN_CLUSTER_USAGE_POLL_MS = 60_000;

export type MemcachedControllerOptions = Pick<
  Options,
  | 'watchNamespaces'
  | 'resyncPeriodMs'
  | 'optionalApiProbeIntervalMs'
  | 'maxConcurrentReconciles'
  | 'defaultImage'
  | 'exporterAddress'
  | 'exporterBindAddress'
  | 'usagePollIntervalMs'
  | 'runbookBaseUrl'
>;

export interface MemcachedControllerDeps {
  kubeConfig: k8s.KubeConfig;
  logger: Logger;
  registry: Registry;
  /** This replica, as written on its children and Events. */
  identity: string;
  /** The cluster's shape; main.ts makes it, since leader election reads it too. */
  topology: TopologyWatcher;
  options: MemcachedControllerOptions;
  /** Out of cluster the pod network is usually unreachable: the stats poll is then opt-in. */
  inCluster: boolean;
}

/** One row of the informer table: what is watched, which objects, and what is kept of each. */
interface Watch<T extends k8s.KubernetesObject> {
  resource: ResourceDescriptor;
  /** Only the operator's own children (by the managed-by label); the user's objects otherwise. */
  owned: boolean;
  /** The periodic resync re-delivers every object: for the reconciled kind only. */
  resync: boolean;
  /** What is kept of each object; managedFields are always dropped (nothing reads them; they are often most of an object). */
  transform?: (obj: T) => T;
}

function watch<T extends k8s.KubernetesObject>(apiVersion: string, kind: string, plural: string, extra: Partial<Watch<T>> = {}): Watch<T> {
  return { resource: { apiVersion, kind, plural, namespaced: true }, owned: true, resync: false, ...extra };
}

/** The informers: the Memcacheds, their children, the Secrets they name. Caches run on every replica so a new leader starts warm. */
const WATCHES = {
  memcacheds: watch<Memcached>(API_VERSION, KIND, PLURAL, { owned: false, resync: true }),
  statefulSets: watch<k8s.V1StatefulSet>('apps/v1', 'StatefulSet', 'statefulsets'),
  // An earlier version's Deployment, until its keys are moved (servers/).
  deployments: watch<k8s.V1Deployment>('apps/v1', 'Deployment', 'deployments'),
  configMaps: watch<k8s.V1ConfigMap>('v1', 'ConfigMap', 'configmaps'),
  services: watch<k8s.V1Service>('v1', 'Service', 'services'),
  pdbs: watch<k8s.V1PodDisruptionBudget>('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  pods: watch<k8s.V1Pod>('v1', 'Pod', 'pods', { transform: projectPod }),
  secrets: watch<SecretDigest>('v1', 'Secret', 'secrets', {
    owned: false,
    // Digests only, no key material: each listed page and each watch event is reduced before it is cached.
    transform: digestSecret,
  }),
};

/** prometheus-operator's kinds, watched only while their API is served. */
const OPTIONAL_WATCHES = {
  podMonitors: watch<MonitoringObject>(MONITORING_API_VERSION, POD_MONITOR_KIND, 'podmonitors'),
  prometheusRules: watch<MonitoringObject>(MONITORING_API_VERSION, PROMETHEUS_RULE_KIND, 'prometheusrules'),
};

type Informers<W, I extends 'resilient' | 'optional'> = {
  [K in keyof W]: W[K] extends Watch<infer T> ? (I extends 'resilient' ? ResilientInformer<T> : OptionalInformer<T>) : never;
};

function informerOptions<T extends k8s.KubernetesObject>(w: Watch<T>, deps: MemcachedControllerDeps): InformerOptions<T> {
  const { kubeConfig, logger, options } = deps;
  return {
    kubeConfig,
    logger,
    resource: w.resource,
    namespaces: options.watchNamespaces,
    resyncPeriodMs: w.resync ? options.resyncPeriodMs : 0,
    transform: w.transform ?? stripManagedFields,
    ...(w.owned ? { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` } : {}),
  };
}

function buildInformers(deps: MemcachedControllerDeps): { informers: Informers<typeof WATCHES, 'resilient'>; optional: Informers<typeof OPTIONAL_WATCHES, 'optional'> } {
  const api = clientFor(deps.kubeConfig);
  const resilient = (w: Watch<k8s.KubernetesObject>) => new ResilientInformer(informerOptions(w, deps));
  const optional = (w: Watch<k8s.KubernetesObject>) =>
    new OptionalInformer({
      ...informerOptions(w, deps),
      probe: () => api.get(`/apis/${MONITORING_GROUP}/v1/${w.resource.plural}`, { query: { limit: 1 } }),
      probeIntervalMs: deps.options.optionalApiProbeIntervalMs,
    });
  const fromTable = <I>(table: Record<string, object>, make: (w: Watch<k8s.KubernetesObject>) => I) =>
    Object.fromEntries(Object.entries(table).map(([name, w]) => [name, make(w as unknown as Watch<k8s.KubernetesObject>)]));
  return {
    informers: fromTable(WATCHES, resilient) as Informers<typeof WATCHES, 'resilient'>,
    optional: fromTable(OPTIONAL_WATCHES, optional) as Informers<typeof OPTIONAL_WATCHES, 'optional'>,
  };
}

type MemcachedInformers = ReturnType<typeof buildInformers>;

function buildSecureServing(kc: k8s.KubeConfig, secrets: ResilientInformer<SecretDigest>, events: ApiEventRecorder): SecureServing {
  const api = clientFor(kc);
  return new SecureServing({
    secrets,
    readSecret: async (namespace, name) => {
      try {
        return await api.get<k8s.V1Secret>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`);
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
    },
    events,
    rotator: new CertificateRotator(),
  });
}

/** The watches: which events of which kind wake which Memcached (see watchfilters.ts for the filters). */
function buildController(reconciler: MemcachedReconciler, { informers, optional }: MemcachedInformers, deps: MemcachedControllerDeps): Controller {
  const { memcacheds, statefulSets, deployments, configMaps, services, pdbs, pods, secrets } = informers;
  const children = { predicates: [projectionChanged(childProjection), { create: childAddMatters }] };
  return (
    new Controller({ name: CONTROLLER_NAME, reconciler, logger: deps.logger, registry: deps.registry, maxConcurrentReconciles: deps.options.maxConcurrentReconciles })
      // Events that change nothing the reconciler reads are dropped: the echo
      // of our own status write, child status churn. The periodic resync still passes.
      .for(memcacheds, { name: 'Memcached', predicates: [memcachedUpdateMatters()] })
      // Pod and StatefulSet status moves in bursts (three pods turn Ready
      // within moments): coalesce each burst into one reconcile and one status
      // write. A lost replica and a finished rollout skip the wait. The add
      // events of children the operator has just created say nothing new.
      .owns(statefulSets, KIND, API_VERSION, {
        name: 'StatefulSet',
        predicates: [projectionChanged(statefulSetProjection), { create: statefulSetAddMatters }],
        coalesceMs: CHILD_STATUS_COALESCE_MS,
        urgent: statefulSetUrgent,
      })
      .owns(services, KIND, API_VERSION, { name: 'Service', ...children })
      .owns(deployments, KIND, API_VERSION, { name: 'Deployment', ...children })
      .owns(configMaps, KIND, API_VERSION, { name: 'ConfigMap', ...children })
      .owns(pdbs, KIND, API_VERSION, { name: 'PodDisruptionBudget', ...children })
      .owns(optional.podMonitors, KIND, API_VERSION, { name: 'PodMonitor' })
      .owns(optional.prometheusRules, KIND, API_VERSION, { name: 'PrometheusRule' })
      // Pods belong to the StatefulSet (or an earlier version's ReplicaSet); their instance label names the Memcached.
      .watches(pods, podRequests, {
        name: 'Pod',
        predicates: [projectionChanged(podProjection), { create: podAddMatters, update: (pod, old) => !podGainedReadinessOnly(pod, old) }],
        coalesceMs: CHILD_STATUS_COALESCE_MS,
        urgent: podLostReadiness,
      })
      // A Secret a Memcached references: a rotated certificate, changed users, or a fix.
      .watches(
        secrets,
        (secret) => memcachedsReferencing(memcacheds.list(secret.metadata.namespace), secret.metadata.name).map((mc) => ({ namespace: secret.metadata.namespace, name: mc.metadata.name! })),
        { name: 'Secret' },
      )
  );
}

function podRequests(pod: k8s.V1Pod): Request[] {
  const name = pod.metadata?.labels?.[INSTANCE_LABEL];
  return name && pod.metadata?.namespace ? [{ namespace: pod.metadata.namespace, name }] : [];
}

/** Every cache the reconciler reads, for the manager to start, stop and report in /readyz. */
function registerCaches(manager: Manager, { informers, optional }: MemcachedInformers, topology: TopologyWatcher, logger: Logger): void {
  const add = (cache: { resource: ResourceDescriptor; start(): void; stop(): Promise<void>; hasSynced(): boolean }) =>
    manager.addCache({ name: cache.resource.kind, start: () => cache.start(), stop: () => cache.stop(), hasSynced: () => cache.hasSynced() });
  Object.values(informers).forEach(add);
  manager.addCache({
    name: 'topology',
    // Not awaited: an unreachable apiserver must not block startup; /readyz reports it.
    start: () => void topology.start().catch((err: unknown) => logger.error('topology watcher failed to start', { error: errorMessage(err) })),
    stop: () => topology.stop(),
    hasSynced: () => topology.hasSynced(),
  });
  Object.values(optional).forEach(add);
}

/**
 * The multi-target exporter runs on every replica (Prometheus may reach any
 * of them through the Service); it scrapes only memcached ports of pods in
 * this replica's cache of managed pods.
 */
function buildExporter(
  options: MemcachedControllerOptions,
  { memcacheds, pods }: { memcacheds: ResilientInformer<Memcached>; pods: ResilientInformer<k8s.V1Pod> },
  fetch: ReturnType<typeof securedFetchStats>,
  logger: Logger,
): Exporter | undefined {
  const bind = parseBindAddress(options.exporterBindAddress);
  if (!bind) return undefined;
  return new Exporter({
    bind,
    timeoutMs: 1000,
    maxConcurrentScrapes: 32,
    refuse: (target) => scrapeRefusal(pods.list(), target.host, target.port),
    fetch,
    discover: (namespace, name) => {
      const mc = memcacheds.get(namespace, name);
      const valid = mc ? validateMemcached(mc) : undefined;
      return mc && valid?.valid ? discoveryTargets(mc, valid.spec, pods.list(namespace)) : undefined;
    },
    logger: logger.child({ component: 'exporter' }),
  });
}

/**
 * Sets up the Memcached controller on the manager: caches, the controller
 * (leader only), the stats poll (leader only, when on). Returns the
 * memcached exporter (unstarted; undefined when disabled), which shares the caches.
 */
export function setupMemcachedController(manager: Manager, deps: MemcachedControllerDeps): { exporter: Exporter | undefined } {
  const { kubeConfig: kc, logger, options, topology } = deps;
  const built = buildInformers(deps);
  const { memcacheds, statefulSets, deployments, configMaps, services, pdbs, pods, secrets } = built.informers;
  const events = new ApiEventRecorder(kc, { controller: EVENT_SOURCE, instance: deps.identity, logger });
  const secureServing = buildSecureServing(kc, secrets, events);
  // A deleted Memcached's scrape credentials are dropped when its delete
  // event arrives (there is no finalizer to do it; its children go by owner references).
  memcacheds.addEventHandlers({ onDelete: (mc) => mc.metadata?.uid && secureServing.forget(mc.metadata.uid) });
  // The stats poll and the exporter connect as the pods' Secrets require (TLS, client certificate, authfile user).
  const securedFetch = securedFetchStats({ pods, memcacheds, secureServing });
  const usagePollMs = options.usagePollIntervalMs ?? (deps.inCluster ? IN_CLUSTER_USAGE_POLL_MS : 0);
  // The poll reports changes to the controller made below; it runs only once the manager leads, after setup.
  // The auto pilot learns from the same poll; the baselines it stored come back from their ConfigMaps.
  const autopilot = usagePollMs > 0
    ? new AutopilotMemory({ storedBaseline: (mc) => storedBaselineText(configMaps.get(mc.metadata.namespace!, baselineConfigMapName(mc))) })
    : undefined;
  const usage = usagePollMs > 0
    ? new UsagePoller({
      memcacheds, pods, fetch: securedFetch, onChange: (req) => controller.enqueue(req), intervalMs: usagePollMs, logger: logger.child({ component: 'usage' }), observer: autopilot,
    })
    : undefined;
  const { podMonitors, prometheusRules } = built.optional;
  const reconciler = new MemcachedReconciler({
    memcacheds, statefulSets, deployments, configMaps, services, pdbs, pods,
    cluster: topology,
    writer: new ApiClusterWriter(kc, deps.identity),
    events,
    defaultImage: options.defaultImage,
    secureServing,
    monitoring: { podMonitors, prometheusRules, runbookBaseUrl: options.runbookBaseUrl, ...(options.exporterAddress ? { exporterAddress: options.exporterAddress } : {}) },
    ...(usage ? { usage } : {}),
    ...(autopilot ? { autopilot } : {}),
    autopilotMetrics: new AutopilotMetrics(deps.registry),
  });
  const controller = buildController(reconciler, built, deps);
  const enqueueAll = (): void => memcacheds.list().forEach((mc) => controller.enqueue({ namespace: mc.metadata.namespace!, name: mc.metadata.name! }));
  topology.onChange(enqueueAll);
  // An API that appears gets every Memcached's objects; one that goes away needs nothing written.
  for (const cache of [podMonitors, prometheusRules]) cache.onChange((present) => present && enqueueAll());
  registerCaches(manager, built, topology, logger);
  manager.addLeaderRunnable(controller);
  if (usage) manager.addLeaderRunnable(usage);
  return { exporter: buildExporter(options, { memcacheds, pods }, securedFetch, logger) };
}

/** Waits, with a clear log line, until the Memcached CRD is served. Returns false if shutdown came first. */
export async function waitForMemcachedApi(kc: k8s.KubeConfig, logger: Logger, stopped: () => boolean): Promise<boolean> {
  const api = clientFor(kc);
  let reported = '';
  for (let attempt = 0; !stopped(); attempt++) {
    try {
      await api.get(`/apis/${GROUP}/${VERSION}/${PLURAL}`, { query: { limit: 1 } });
      if (reported) logger.info('the Memcached API is available');
      return true;
    } catch (err) {
      const code = statusCode(err);
      const message =
        code === 404
          ? `the Memcached CRD (${PLURAL}.${GROUP}) is not installed; install it with \`make install\` (or kubectl apply -f config/crd/bases/). Waiting for it`
          : code === 403 || code === 401
            ? `RBAC forbids listing ${PLURAL}.${GROUP} for this identity; check the operator's ClusterRole. Retrying`
            : `cannot reach the apiserver (${errorMessage(err)}); retrying`;
      if (message !== reported) logger.error(message);
      reported = message;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** attempt, 10_000)));
    }
  }
  return false;
}
