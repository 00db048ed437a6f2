// Access to the local cluster (test/cluster/cluster.sh) for integration and
// end-to-end suites. Suites call ensureCluster(profile); a cluster already
// running with that profile is reused, so suites stay fast.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { inspect } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';

/** The repository root, found from this file whether it runs from test/ or .build/test/. */
export const repoRoot = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'test', 'cluster', 'cluster.sh'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
})();

/** The cluster's state directory: CLUSTER_STATE_DIR (as cluster.sh reads it), else .cluster/. */
export const clusterStateDir = path.resolve(repoRoot, process.env.CLUSTER_STATE_DIR ?? '.cluster');
export const kubeconfigPath = path.join(clusterStateDir, 'kubeconfig');
/** The apiserver's audit log: every write, at Metadata level (see test/cluster/audit-policy.yaml). */
export const auditLogPath = path.join(clusterStateDir, 'kwok', 'clusters', 'memcached-operator', 'logs', 'audit.log');
const clusterScript = path.join(repoRoot, 'test', 'cluster', 'cluster.sh');

export type Profile = 'sno' | 'compact' | 'ha' | 'dual' | 'arbiter' | 'external' | 'vanilla';

/** Starts (or reuses) the local cluster with the given profile and returns its KubeConfig. */
export function ensureCluster(profile: Profile): k8s.KubeConfig {
  execFileSync(clusterScript, ['up', profile], { stdio: ['ignore', 'ignore', 'inherit'] });
  return loadKubeConfig();
}

export function loadKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return kc;
}

/** Directory holding the pinned kubectl, kube-apiserver, etcd and kwok binaries. */
export function toolsBin(): string {
  return execFileSync(path.join(repoRoot, 'test', 'cluster', 'build-tools.sh'), ['--dir'], { encoding: 'utf8' }).trim();
}

/** Runs the pinned kubectl against the local cluster and returns stdout. */
export function kubectl(args: string[], input?: string): string {
  return execFileSync(path.join(toolsBin(), 'kubectl'), ['--kubeconfig', kubeconfigPath, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/**
 * Polls `probe` until it returns a value other than undefined, or fails with
 * the last observation once the deadline passes. Used where a watch would
 * only add noise; the deadline is generous because CI machines are shared.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 60_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : last === undefined ? '' : `: ${inspect(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Creates a namespace with a unique name and the given labels; returns its name. */
export async function createNamespace(kc: k8s.KubeConfig, prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const ns = await core.createNamespace({ body: { metadata: { generateName: `${prefix}-`, labels } } });
  return ns.metadata!.name!;
}

export async function deleteNamespace(kc: k8s.KubeConfig, name: string): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.deleteNamespace({ name }).catch(() => undefined);
}
