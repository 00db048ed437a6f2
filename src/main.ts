#!/usr/bin/env node
// Entry point: flags and environment in, a running manager out. Startup
// only: the Memcached controller is wired in memcached/controller.ts, leader
// election in leaderelection.ts; decisions live in options.ts and the pure modules.
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import {
  ApiClient,
  createLogger,
  errorMessage,
  installSignalHandlers,
  kubeConfigHandle,
  loadConnection,
  loadLibraryKubeConfig,
  Manager,
  newIdentity,
  registerProcessMetrics,
  reuseConnections,
  type LeaderElector,
} from '@memcached-operator/runtime';
import { createElector, inCluster, isElectionConfigError } from './leaderelection.js';
import { setupMemcachedController, waitForMemcachedApi } from './memcached/controller.js';
import { OptionsError, parseOptions, usage, type Options } from './options.js';
import { TopologyWatcher } from './topology/watcher.js';
import { VERSION } from './version.js';

/**
 * --kubeconfig, else in-cluster config, else $KUBECONFIG / ~/.kube/config,
 * as controller-runtime does; read by the runtime's own client, so the
 * client library is loaded only for auth it does not speak (exec, OIDC) or
 * for an apiserver without WatchList.
 */
async function loadKubeConfig(opts: Options, env: NodeJS.ProcessEnv): Promise<{ kc: KubeConfig; server: string }> {
  const load = { ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}), env };
  const connection = await loadConnection(load);
  // One connection pool for every API call and watch of a library KubeConfig too (client-node 2 builds one per request).
  const kc = kubeConfigHandle(new ApiClient(connection), async () => reuseConnections(await loadLibraryKubeConfig(load)));
  return { kc, server: connection.server };
}

/** The options, or the exit code when there is nothing to run (--help, --version, a bad flag). */
function parse(argv: string[], env: NodeJS.ProcessEnv): Options | number {
  try {
    const opts = parseOptions(argv, env);
    if (opts.help) process.stdout.write(usage() + '\n');
    else if (opts.version) process.stdout.write(`memcached-operator ${VERSION}\n`);
    return opts.help || opts.version ? 0 : opts;
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return 2;
  }
}

export async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const opts = parse(argv, env);
  if (typeof opts === 'number') return opts;
  const logger = createLogger(opts.logLevel);
  let kc: KubeConfig;
  let server: string;
  try {
    ({ kc, server } = await loadKubeConfig(opts, env));
  } catch (err) {
    logger.error(errorMessage(err));
    return 2;
  }
  const identity = newIdentity(hostname());
  const watchNamespaces = opts.watchNamespaces.length > 0 ? opts.watchNamespaces : 'all';
  logger.info('starting memcached-operator', { version: VERSION, identity, apiserver: server, watchNamespaces, leaderElect: opts.leaderElect });
  const registry = new Registry();
  registerProcessMetrics(registry);
  // The cluster's shape: sizing reads it, and so do the lease timings.
  const topology = new TopologyWatcher({ kubeConfig: kc, logger });
  let elector: LeaderElector | undefined;
  try {
    elector = opts.leaderElect ? await createElector(opts, env, { kubeConfig: kc, registry, logger, identity, topology }) : undefined;
  } catch (err) {
    if (!isElectionConfigError(err)) throw err;
    logger.error(err.message);
    return 2;
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
  const { exporter } = setupMemcachedController(manager, { kubeConfig: kc, logger, registry, identity, topology, options: opts, inCluster: inCluster(env) });

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

  if (!(await waitForMemcachedApi(kc, logger, () => stopping))) return exitCode;
  const addresses = await manager.start();
  // Metrics are not worth the caches: reconcile on, say why loudly.
  await exporter?.start().catch((err: unknown) => logger.error('the memcached exporter cannot listen; Prometheus will see every memcached as down', { error: errorMessage(err) }));
  const address = (a: { address: string; port: number } | undefined): string => (a ? `${a.address}:${a.port}` : 'disabled');
  logger.info('manager started', { health: address(addresses.healthAddress), metrics: address(addresses.metricsAddress), metricsScheme: opts.metricsSecure ? 'https' : 'http' });
  await stopped;
  return exitCode;
}

run(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
