// The operator's leader election, as its flags ask for it: a Lease (timings
// that follow the cluster's topology unless given) or leader-for-life, and
// where a process runs (in a cluster or not), which both depend on.
import { existsSync, readFileSync } from 'node:fs';
import type * as k8s from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import {
  LeaderElectionConfigError,
  LeaderForLife,
  LeaderForLifeOutOfClusterError,
  LeaseElector,
  timingsFor,
  type LeaderElector,
  type Logger,
} from '@memcached-operator/runtime';
import { timingFlag, type Options } from './options.js';
import { clusterTopology } from './topology/detect.js';
import type { TopologyWatcher } from './topology/watcher.js';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long the lease timings wait for the cluster's shape before assuming a highly available one. */
const TOPOLOGY_WAIT_MS = 10_000;

export function inCluster(env: NodeJS.ProcessEnv): boolean {
  return !!env.KUBERNETES_SERVICE_HOST && existsSync(`${SERVICE_ACCOUNT_DIR}/token`);
}

/** A bad leader election setting: the process exits 2 with its message. */
export function isElectionConfigError(err: unknown): err is Error {
  return err instanceof LeaderElectionConfigError || err instanceof LeaderForLifeOutOfClusterError;
}

function leaseNamespace(opts: Options, env: NodeJS.ProcessEnv): string {
  if (opts.leaderElectionNamespace) return opts.leaderElectionNamespace;
  if (inCluster(env)) return readFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8').trim();
  throw new LeaderElectionConfigError('--leader-election-namespace is required when running outside a cluster (there is no in-cluster namespace to default to)');
}

export interface ElectorDeps {
  kubeConfig: k8s.KubeConfig;
  registry: Registry;
  logger: Logger;
  identity: string;
  topology: TopologyWatcher;
}

/** The elector the flags ask for. Throws isElectionConfigError errors for bad settings. */
export async function createElector(opts: Options, env: NodeJS.ProcessEnv, deps: ElectorDeps): Promise<LeaderElector> {
  const { kubeConfig, registry, logger } = deps;
  if (opts.leaderElectionMode === 'leader-for-life') {
    return new LeaderForLife({
      kubeConfig,
      lockName: opts.leaderElectionId,
      ...(opts.podName ? { podName: opts.podName } : {}),
      ...(opts.podNamespace ? { podNamespace: opts.podNamespace } : {}),
      skipOutOfCluster: opts.leaderElectionSkipOutOfCluster,
      registry,
      logger: logger.child({ component: 'leader-for-life' }),
    });
  }
  const namespace = leaseNamespace(opts, env);
  // Like OpenShift's library-go: on a single-node cluster, longer timings cut
  // API load (nobody to fail over to). Explicit flags always win.
  await Promise.race([deps.topology.start(), new Promise((resolve) => setTimeout(resolve, TOPOLOGY_WAIT_MS))]);
  const detected = clusterTopology({ infrastructure: deps.topology.infrastructure(), nodes: deps.topology.nodes() });
  const shape = detected.topology.controlPlane === 'SingleReplica' ? 'SingleReplica' : 'HighlyAvailable';
  const explicit = { leaseDurationMs: opts.leaseDurationMs, renewDeadlineMs: opts.renewDeadlineMs, retryPeriodMs: opts.retryPeriodMs };
  const timings = timingsFor(shape, explicit, timingFlag);
  logger.info('leader election', { mode: 'lease', namespace, id: opts.leaderElectionId, topology: shape, ...timings });
  return new LeaseElector({
    kubeConfig,
    namespace,
    name: opts.leaderElectionId,
    registry,
    identity: deps.identity,
    timings,
    logger: logger.child({ component: 'leader-election' }),
  });
}
