// Helpers for the end-to-end suites: which cluster, kubectl and make against
// it, ServiceAccount kubeconfigs, and the operator run on the host.
//
// E2E_MODE=host (the default): the local cluster (test/cluster/cluster.sh,
// profile ha); the manager Deployment's pod is a kwok pod that never runs,
// so the operator runs on the host with a token of the ServiceAccount under
// test, and so has exactly that ServiceAccount's RBAC.
// E2E_MODE=in-cluster: the cluster KUBECONFIG names (kind), where make
// deploy runs the real image (make test-e2e loads it with kind load).
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findCondition } from '@memcached-operator/runtime';
import { ensureCluster, eventually, kubeconfigPath as localKubeconfig, repoRoot, toolsBin } from '../support/cluster.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

export const inCluster = process.env.E2E_MODE === 'in-cluster';
export const IMG = process.env.IMG ?? 'quay.io/example/memcached-operator:v0.1.0';
export const OPERATOR_NAMESPACE = 'memcached-operator-system';
export const OPERATOR_SA = 'memcached-operator-controller-manager';
export const MANAGER_DEPLOYMENT = 'memcached-operator-controller-manager';
export const CRD = 'memcacheds.cache.example.com';

/** Makes sure a cluster is there and returns the kubeconfig path to use. */
export function clusterKubeconfig(): string {
  if (inCluster) {
    const kc = process.env.KUBECONFIG ?? path.join(os.homedir(), '.kube', 'config');
    return kc.split(path.delimiter)[0];
  }
  ensureCluster('ha');
  return localKubeconfig;
}

export function kubectlBin(): string {
  return path.join(toolsBin(), 'kubectl');
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; never throws on a non-zero exit (callers assert). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Run {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? repoRoot,
    env: opts.env ?? process.env,
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** kubectl against the e2e cluster; throws with stderr on failure. */
export function k(args: string[], input?: string): string {
  const r = run(kubectlBin(), ['--kubeconfig', clusterKubeconfig(), ...args], { input });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** kubectl that returns the whole result, for asserting on warnings and failures. */
export function kRun(args: string[], input?: string): Run {
  return run(kubectlBin(), ['--kubeconfig', clusterKubeconfig(), ...args], { input });
}

/** kRun without blocking the event loop, for a long command while watches and samplers keep running. */
export function kRunAsync(args: string[]): Promise<Run> {
  const child = spawn(kubectlBin(), ['--kubeconfig', clusterKubeconfig(), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

/** make TARGET with KUBECONFIG set to the e2e cluster. */
/** make TARGET in this checkout, or in dir (another source tree, e.g. a released version's). */
export function make(target: string, vars: Record<string, string> = {}, dir?: string): Run {
  // The suite's own kubectl, not whichever one is on PATH (the Makefile's default).
  const env = { ...process.env, KUBECONFIG: clusterKubeconfig(), KUBECTL: kubectlBin() };
  const where = dir ? ['-C', dir] : [];
  return run('make', [...where, '--no-print-directory', target, `IMG=${IMG}`, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)], { env });
}

export function kubectlJson<T>(args: string[]): T {
  return JSON.parse(k([...args, '-o', 'json'])) as T;
}

/** The lines of stderr that are warnings (PodSecurity or otherwise). */
export function warnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /warning/i.test(l));
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export async function waitForCondition(kind: string, name: string, namespace: string, type: string, timeoutMs = 120_000): Promise<void> {
  await eventually(
    `${kind} ${namespace}/${name} ${type}=True`,
    () => {
      const obj = kubectlJson<{ status?: { conditions?: Condition[] } }>(['get', kind, name, '-n', namespace]);
      const c = findCondition(obj.status?.conditions, type);
      if (c?.status === 'True') return true;
      throw new Error(`conditions: ${JSON.stringify(obj.status?.conditions ?? [])}`);
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** Writes a kubeconfig that authenticates with a token of ServiceAccount ns/sa. */
export function serviceAccountKubeconfig(namespace: string, sa: string, dir: string): string {
  const token = k(['create', 'token', sa, '-n', namespace, '--duration', '1h']).trim();
  const cfg = JSON.parse(k(['config', 'view', '--raw', '--minify', '--flatten', '-o', 'json'])) as {
    clusters: { name: string; cluster: Record<string, unknown> }[];
  };
  const cluster = cfg.clusters[0];
  const file = path.join(dir, `${namespace}-${sa}.kubeconfig`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: cluster.name, cluster: cluster.cluster }],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: sa, context: { cluster: cluster.name, user: sa, namespace } }],
      'current-context': sa,
    }),
    { mode: 0o600 },
  );
  return file;
}

export interface HostOperator {
  readonly process: ChildProcess;
  readonly healthPort: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Runs dist/main.js on the host as ServiceAccount namespace/sa, the way the
 * manager Deployment runs it (leader election in its own namespace), in a
 * clean environment and directory, through the shared launcher (which waits
 * for /readyz).
 */
export async function runOperatorAs(
  namespace: string,
  sa: string,
  { watchNamespace = '', relatedImage = 'docker.io/library/memcached:1.6.39-alpine' } = {},
): Promise<HostOperator> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-operator-'));
  const kubeconfig = serviceAccountKubeconfig(namespace, sa, dir);
  let proc: OperatorProcess;
  try {
    proc = await startOperator({
      kubeconfig,
      args: ['--leader-elect', `--leader-election-namespace=${namespace}`],
      cleanEnv: true,
      cwd: dir,
      env: {
        HOME: dir,
        POD_NAME: `host-operator-${process.pid}`,
        POD_NAMESPACE: namespace,
        WATCH_NAMESPACE: watchNamespace,
        RELATED_IMAGE_MEMCACHED: relatedImage,
      },
      readyTimeoutMs: 60_000,
      maxOutputBytes: 200_000,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    process: proc.child,
    healthPort: proc.healthPort,
    output: () => proc.output(),
    stop: async () => {
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 15_000);
      await proc.stop();
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Applies the project's sample into namespace and waits for it to be Available. */
export async function sampleBecomesAvailable(namespace: string, operatorOutput: () => string = () => ''): Promise<void> {
  const sample = readFileSync(path.join(repoRoot, 'config', 'samples', 'cache_v1alpha1_memcached.yaml'), 'utf8');
  k(['apply', '--server-side', '-n', namespace, '-f', '-'], sample);
  try {
    await waitForCondition('memcached', 'memcached-sample', namespace, 'Available', 180_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\noperator output (tail):\n${operatorOutput().slice(-6000)}`);
  }
}

/** A namespace under the restricted Pod Security Standard, created with kubectl. */
export function restrictedNamespace(prefix: string): string {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  k(['create', 'namespace', name]);
  k(['label', 'namespace', name, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
  return name;
}

export function deleteNamespaces(...names: string[]): void {
  for (const n of names) kRun(['delete', 'namespace', n, '--ignore-not-found', '--wait=false']);
}

/** Objects of the rendered kustomize output, as kind/name (namespace) lines. */
export function renderedObjects(yamlText: string): { kind: string; name: string; namespace?: string; apiVersion: string }[] {
  const out = execFileSync(kubectlBin(), ['--kubeconfig', clusterKubeconfig(), 'apply', '--dry-run=client', '-o', 'json', '-f', '-'], {
    input: yamlText,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const list = JSON.parse(out) as { items?: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }[] } & {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
  };
  const items = list.items ?? [list];
  return items.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace }));
}
