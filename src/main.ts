#!/usr/bin/env node
// Entry point: flags and environment in, a running manager out. Everything
// that can be decided without I/O lives in options.ts and the pure modules;
// this file only wires the pieces together.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { API_VERSION, KIND, PLURAL, type Memcached } from './api/types.js';
import {
  ApiEventRecorder,
  Controller,
  createLogger,
  errorMessage,
  installSignalHandlers,
  LeaderElectionConfigError,
  LeaderForLife,
  LeaderForLifeOutOfClusterError,
  LeaseElector,
  Manager,
  newIdentity,
  OptionalInformer,
  parseBindAddress,
  registerProcessMetrics,
  projectionChanged,
  ResilientInformer,
  reuseConnections,
  stripManagedFields,
  statusCode,
  timingsFor,
  type LeaderElector,
  type Logger,
  type ResourceDescriptor,
} from '@memcached-operator/runtime';
import { Exporter } from './exporter/server.js';
import { MANAGED_BY } from './memcached/children/metadata.js';
import {
  discoveryTargets,
  MONITORING_API_VERSION,
  POD_MONITOR_KIND,
  PROMETHEUS_RULE_KIND,
  scrapeRefusal,
  type MonitoringObject,
} from './memcached/monitoring/prometheus.js';
import { validateMemcached } from './api/validator.js';
import { UsagePoller } from './memcached/monitoring/usage.js';
import { MemcachedReconciler } from './memcached/reconciler.js';
import { securedFetchStats } from './memcached/tls/secure-serving.js';
import {
  CHILD_STATUS_COALESCE_MS,
  childAddMatters,
  childProjection,
  deploymentUrgent,
  deploymentAddMatters,
  deploymentProjection,
  memcachedUpdateMatters,
  podAddMatters,
  podLostReadiness,
  podProjection,
  projectPod,
} from './memcached/watchfilters.js';
import { secretDigestInformerFactory, secretDigestLister } from './memcached/tls/digest-cache.js';
import { memcachedsReferencing, type SecretDigest } from './memcached/tls/secret-digest.js';
import { SecureServing } from './memcached/tls/secure-serving.js';
import { CertificateRotator } from './memcached/tls/rotation.js';
import { ApiClusterWriter } from './memcached/writer.js';
import { OptionsError, parseOptions, timingFlag, usage, type Options } from './options.js';
import { clusterTopology } from './topology/detect.js';
import { TopologyWatcher } from './topology/watcher.js';
import { VERSION } from './version.js';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const CONTROLLER_NAME = 'memcached';

class StartupError extends Error {
  override name = 'StartupError';
}

function inCluster(env: NodeJS.ProcessEnv): boolean {
  return !!env.KUBERNETES_SERVICE_HOST && existsSync(`${SERVICE_ACCOUNT_DIR}/token`);
}

/** --kubeconfig, else in-cluster config, else $KUBECONFIG / ~/.kube/config, as controller-runtime does. */
function loadKubeConfig(opts: Options, env: NodeJS.ProcessEnv): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (opts.kubeconfig) {
    if (!existsSync(opts.kubeconfig)) throw new StartupError(`--kubeconfig ${opts.kubeconfig}: no such file`);
    kc.loadFromFile(opts.kubeconfig);
  } else if (inCluster(env)) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) {
    throw new StartupError('no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a cluster');
  }
  // One connection pool for every API call and watch (client-node 2 builds one per request).
  return reuseConnections(kc);
}

function leaderElectionNamespace(opts: Options, env: NodeJS.ProcessEnv): string {
  if (opts.leaderElectionNamespace) return opts.leaderElectionNamespace;
  if (inCluster(env)) return readFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8').trim();
  throw new StartupError('--leader-election-namespace is required when running outside a cluster (there is no in-cluster namespace to default to)');
}

const resource = (apiVersion: string, kind: string, plural: string): ResourceDescriptor => ({ apiVersion, kind, plural, namespaced: true });

/** Waits, with a clear log line, until the Memcached CRD is served. Returns false if shutdown came first. */
async function waitForCrd(kc: k8s.KubeConfig, logger: Logger, stopped: () => boolean): Promise<boolean> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  let reported = '';
  for (let attempt = 0; !stopped(); attempt++) {
    try {
      await custom.listClusterCustomObject({ group: 'cache.example.com', version: 'v1alpha1', plural: PLURAL, limit: 1 });
      if (reported) logger.info('the Memcached API is available');
      return true;
    } catch (err) {
      const code = statusCode(err);
      const message =
        code === 404
          ? 'the Memcached CRD (memcacheds.cache.example.com) is not installed; install it with `make install` (or kubectl apply -f config/crd/bases/). Waiting for it'
          : code === 403 || code === 401
            ? 'RBAC forbids listing memcacheds.cache.example.com for this identity; check the operator\'s ClusterRole. Retrying'
            : `cannot reach the apiserver (${errorMessage(err)}); retrying`;
      if (message !== reported) logger.error(message);
      reported = message;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** attempt, 10_000)));
    }
  }
  return false;
}

export async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(argv, env);
  } catch (err) {
    if (err instanceof OptionsError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  if (opts.version) {
    process.stdout.write(`memcached-operator ${VERSION}\n`);
    return 0;
  }

  const logger = createLogger(opts.logLevel);
  let kc: k8s.KubeConfig;
  try {
    kc = loadKubeConfig(opts, env);
  } catch (err) {
    logger.error(errorMessage(err));
    return 2;
  }
  const identity = newIdentity(hostname());
  logger.info('starting memcached-operator', {
    version: VERSION,
    identity,
    apiserver: kc.getCurrentCluster()?.server,
    watchNamespaces: opts.watchNamespaces.length > 0 ? opts.watchNamespaces : 'all',
    leaderElect: opts.leaderElect,
  });

  const registry = new Registry();
  registerProcessMetrics(registry);

  // Informers: the Memcacheds, their children (only ours, by label), and
  // the cluster's shape. Caches run on every replica so a new leader starts warm.
  const namespaces = opts.watchNamespaces;
  const owned = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
  // managedFields are stripped on ingest (nothing reads them; they are often
  // most of an object), and Pods are cut down to what the reconciler reads.
  const informerOptions = { kubeConfig: kc, logger, namespaces, resyncPeriodMs: opts.resyncPeriodMs, transform: stripManagedFields };
  const memcacheds = new ResilientInformer<Memcached>({ ...informerOptions, resource: resource(API_VERSION, KIND, PLURAL) });
  const childOptions = { ...informerOptions, labelSelector: owned, resyncPeriodMs: 0 };
  const deployments = new ResilientInformer<k8s.V1Deployment>({ ...childOptions, resource: resource('apps/v1', 'Deployment', 'deployments') });
  const services = new ResilientInformer<k8s.V1Service>({ ...childOptions, resource: resource('v1', 'Service', 'services') });
  const pdbs = new ResilientInformer<k8s.V1PodDisruptionBudget>({
    ...childOptions,
    resource: resource('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  });
  const pods = new ResilientInformer<k8s.V1Pod>({ ...childOptions, transform: projectPod, resource: resource('v1', 'Pod', 'pods') });
  // Secrets are the user's, unlabelled: all of them in the watched
  // namespaces, each kept only as a digest (no key material; tls/secret-digest.ts).
  const secrets = new ResilientInformer<SecretDigest>({
    ...informerOptions,
    resyncPeriodMs: 0,
    resource: resource('v1', 'Secret', 'secrets'),
    listFn: secretDigestLister(kc),
    clientInformerFactory: secretDigestInformerFactory(kc),
  });
  const topology = new TopologyWatcher({ kubeConfig: kc, logger });
  // prometheus-operator's kinds, watched only while their API is served.
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const monitoringInformer = (kind: string, plural: string): OptionalInformer<MonitoringObject> =>
    new OptionalInformer<MonitoringObject>({
      ...childOptions,
      resource: resource(MONITORING_API_VERSION, kind, plural),
      probe: () => custom.listClusterCustomObject({ group: 'monitoring.coreos.com', version: 'v1', plural, limit: 1 }),
      probeIntervalMs: opts.optionalApiProbeIntervalMs,
    });
  const podMonitors = monitoringInformer(POD_MONITOR_KIND, 'podmonitors');
  const prometheusRules = monitoringInformer(PROMETHEUS_RULE_KIND, 'prometheusrules');

  let elector: LeaderElector | undefined;
  if (opts.leaderElect) {
    try {
      elector = await createElector(opts, env, kc, registry, logger, identity, topology);
    } catch (err) {
      if (err instanceof StartupError || err instanceof LeaderElectionConfigError || err instanceof LeaderForLifeOutOfClusterError) {
        logger.error(err.message);
        return 2;
      }
      throw err;
    }
  }

  let exitCode = 0;
  let stopping = false;
  // Declared before the manager so its leadership callback can use it.
  // eslint-disable-next-line prefer-const
  let stop: (reason: string) => Promise<void>;
  const manager = new Manager({
    kubeConfig: kc,
    logger,
    registry,
    healthProbeBindAddress: opts.healthProbeBindAddress,
    metricsBindAddress: opts.metricsBindAddress,
    metricsSecure: opts.metricsSecure,
    ...(opts.metricsCertPath ? { metricsCertPath: opts.metricsCertPath } : {}),
    gracefulShutdownTimeoutMs: opts.gracefulShutdownTimeoutMs,
    ...(elector ? { leaderElection: elector } : {}),
    onLeadershipLost: (reason) => {
      // Exit non-zero so the pod restarts as a fresh candidate; nothing is
      // written after this point (in-flight reconciles were aborted).
      logger.error('exiting: leadership lost', { reason });
      exitCode = 1;
      void stop(`leadership lost: ${reason}`);
    },
  });

  const events = new ApiEventRecorder(kc, { controller: 'cache.example.com/memcached-operator', instance: identity, logger });
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const secureServing = new SecureServing({
    secrets,
    readSecret: async (namespace, name) => {
      try {
        return await core.readNamespacedSecret({ namespace, name });
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
    },
    events,
    rotator: new CertificateRotator(),
  });
  // A deleted Memcached's scrape credentials are dropped when its delete
  // event arrives (there is no finalizer to do it; its children go by owner references).
  memcacheds.addEventHandlers({
    onDelete: (mc) => {
      if (mc.metadata?.uid) secureServing.forget(mc.metadata.uid);
    },
  });
  // The stats poll and the exporter connect as the pods' Secrets require (TLS, client certificate, authfile user).
  const securedFetch = securedFetchStats({ pods, memcacheds, secureServing });
  // Out of cluster the pod network is usually unreachable: the poll is opt-in there.
  const usagePollMs = opts.usagePollIntervalMs ?? (inCluster(env) ? 60_000 : 0);
  let enqueue: (req: { namespace: string; name: string }) => void = () => undefined;
  const usagePoller =
    usagePollMs > 0
      ? new UsagePoller({
          memcacheds,
          pods,
          fetch: securedFetch,
          onChange: (req) => enqueue(req),
          intervalMs: usagePollMs,
          logger: logger.child({ component: 'usage' }),
        })
      : undefined;
  const reconciler = new MemcachedReconciler({
    memcacheds,
    deployments,
    services,
    pdbs,
    pods,
    cluster: topology,
    writer: new ApiClusterWriter(kc, identity),
    events,
    defaultImage: opts.defaultImage,
    secureServing,
    monitoring: { podMonitors, prometheusRules, ...(opts.exporterAddress ? { exporterAddress: opts.exporterAddress } : {}) },
    ...(usagePoller ? { usage: usagePoller } : {}),
  });
  const controller = new Controller({
    name: CONTROLLER_NAME,
    reconciler,
    logger,
    registry,
    maxConcurrentReconciles: opts.maxConcurrentReconciles,
  })
    // Events that change nothing the reconciler reads are dropped (see
    // memcached/watchfilters.ts): the echo of our own status write, child
    // status churn. The Memcacheds' periodic resync still passes.
    .for(memcacheds, { name: 'Memcached', predicates: [memcachedUpdateMatters()] })
    // Pod and Deployment status moves in bursts (three pods turn Ready
    // within moments): coalesce each burst into one reconcile and one status write.
    // A lost replica and a finished rollout skip the wait (deploymentUrgent).
    // The add events of children the operator has just created say nothing new (watchfilters.ts).
    .owns(deployments, KIND, API_VERSION, {
      name: 'Deployment',
      predicates: [projectionChanged(deploymentProjection), { create: deploymentAddMatters }],
      coalesceMs: CHILD_STATUS_COALESCE_MS,
      urgent: deploymentUrgent,
    })
    .owns(services, KIND, API_VERSION, { name: 'Service', predicates: [projectionChanged(childProjection), { create: childAddMatters }] })
    .owns(pdbs, KIND, API_VERSION, { name: 'PodDisruptionBudget', predicates: [projectionChanged(childProjection), { create: childAddMatters }] })
    .owns(podMonitors, KIND, API_VERSION, { name: 'PodMonitor' })
    .owns(prometheusRules, KIND, API_VERSION, { name: 'PrometheusRule' })
    // Pods belong to ReplicaSets; their instance label names the Memcached.
    .watches(
      pods,
      (pod) => {
        const name = pod.metadata?.labels?.['app.kubernetes.io/instance'];
        return name && pod.metadata?.namespace ? [{ namespace: pod.metadata.namespace, name }] : [];
      },
      { name: 'Pod', predicates: [projectionChanged(podProjection), { create: podAddMatters }], coalesceMs: CHILD_STATUS_COALESCE_MS, urgent: podLostReadiness },
    )
    // A Secret a Memcached references: a rotated certificate, changed users, or a fix.
    .watches(
      secrets,
      (secret) => {
        const namespace = secret.metadata.namespace;
        return memcachedsReferencing(memcacheds.list(namespace), secret.metadata.name).map((mc) => ({ namespace, name: mc.metadata.name! }));
      },
      { name: 'Secret' },
    );
  const enqueueAll = (): void => {
    for (const mc of memcacheds.list()) controller.enqueue({ namespace: mc.metadata.namespace!, name: mc.metadata.name! });
  };
  topology.onChange(enqueueAll);
  // An API that appears gets every Memcached's objects; one that goes away needs nothing written.
  podMonitors.onChange((present) => present && enqueueAll());
  prometheusRules.onChange((present) => present && enqueueAll());

  for (const cache of [memcacheds, deployments, services, pdbs, pods, secrets]) {
    manager.addCache({ name: cache.resource.kind, start: () => cache.start(), stop: () => cache.stop(), hasSynced: () => cache.hasSynced() });
  }
  manager.addCache({
    name: 'topology',
    // Not awaited: an unreachable apiserver must not block startup; /readyz reports it.
    start: () => void topology.start().catch((err: unknown) => logger.error('topology watcher failed to start', { error: errorMessage(err) })),
    stop: () => topology.stop(),
    hasSynced: () => topology.hasSynced(),
  });
  for (const cache of [podMonitors, prometheusRules]) {
    manager.addCache({ name: cache.resource.kind, start: () => cache.start(), stop: () => cache.stop(), hasSynced: () => cache.hasSynced() });
  }
  manager.addLeaderRunnable(controller);
  if (usagePoller) {
    enqueue = (req) => controller.enqueue(req);
    manager.addLeaderRunnable(usagePoller);
  }

  // The multi-target exporter runs on every replica (Prometheus may reach
  // any of them through the Service); it scrapes only memcached ports of
  // pods in this replica's cache of managed pods.
  const exporterBind = parseBindAddress(opts.exporterBindAddress);
  const exporter = exporterBind
    ? new Exporter({
        bind: exporterBind,
        timeoutMs: 1000,
        maxConcurrentScrapes: 32,
        refuse: (target) => scrapeRefusal(pods.list(), target.host, target.port),
        fetch: securedFetch,
        discover: (namespace, name) => {
          const mc = memcacheds.get(namespace, name);
          const valid = mc ? validateMemcached(mc) : undefined;
          return mc && valid?.valid ? discoveryTargets(mc, valid.spec, pods.list(namespace)) : undefined;
        },
        logger: logger.child({ component: 'exporter' }),
      })
    : undefined;

  // One path to shutdown for signals and lost leadership; `stopped` resolves when it is complete.
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  stop = (reason: string): Promise<void> => {
    stopping = true;
    const done = manager.shutdown(reason).then(() => exporter?.close());
    void done.then(resolveStopped);
    return done;
  };
  installSignalHandlers({ shutdown: stop, logger });

  if (!(await waitForCrd(kc, logger, () => stopping))) return exitCode;
  const addresses = await manager.start();
  if (exporter) {
    try {
      await exporter.start();
    } catch (err) {
      // Metrics are not worth the caches: reconcile on, say why loudly.
      logger.error('the memcached exporter cannot listen; Prometheus will see every memcached as down', { error: errorMessage(err) });
    }
  }
  logger.info('manager started', {
    health: addresses.healthAddress ? `${addresses.healthAddress.address}:${addresses.healthAddress.port}` : 'disabled',
    metrics: addresses.metricsAddress ? `${addresses.metricsAddress.address}:${addresses.metricsAddress.port}` : 'disabled',
    metricsScheme: opts.metricsSecure ? 'https' : 'http',
  });
  await stopped;
  return exitCode;
}

async function createElector(
  opts: Options,
  env: NodeJS.ProcessEnv,
  kc: k8s.KubeConfig,
  registry: Registry,
  logger: Logger,
  identity: string,
  topology: TopologyWatcher,
): Promise<LeaderElector> {
  if (opts.leaderElectionMode === 'leader-for-life') {
    return new LeaderForLife({
      kubeConfig: kc,
      lockName: opts.leaderElectionId,
      ...(opts.podName ? { podName: opts.podName } : {}),
      ...(opts.podNamespace ? { podNamespace: opts.podNamespace } : {}),
      skipOutOfCluster: opts.leaderElectionSkipOutOfCluster,
      registry,
      logger: logger.child({ component: 'leader-for-life' }),
    });
  }
  const namespace = leaderElectionNamespace(opts, env);
  // Like OpenShift's library-go: on a single-node cluster, longer timings cut
  // API load (nobody to fail over to). Explicit flags always win.
  await Promise.race([topology.start(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
  const detected = clusterTopology({ infrastructure: topology.infrastructure(), nodes: topology.nodes() });
  const shape = detected.topology.controlPlane === 'SingleReplica' ? 'SingleReplica' : 'HighlyAvailable';
  const explicit = { leaseDurationMs: opts.leaseDurationMs, renewDeadlineMs: opts.renewDeadlineMs, retryPeriodMs: opts.retryPeriodMs };
  const timings = timingsFor(shape, explicit, timingFlag);
  logger.info('leader election', { mode: 'lease', namespace, id: opts.leaderElectionId, topology: shape, ...timings });
  return new LeaseElector({
    kubeConfig: kc,
    namespace,
    name: opts.leaderElectionId,
    registry,
    identity,
    timings,
    logger: logger.child({ component: 'leader-election' }),
  });
}

run(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
