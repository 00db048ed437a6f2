// Helpers for the e2e specs that need real containers (make test-e2e on the
// kind bed, E2E_MODE=in-cluster): the operator as make deploy runs it, shaped
// per spec (replicas, flags), a memcached client pod, a 200 ms Ready sampler
// and the results file for the closing note. Reads go through the API client
// (cheap to poll); what a user would do goes through kubectl or make.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { eventually, repoRoot } from '../../support/cluster.js';
import { Cluster, describePods, isPodReady } from '../../integration/topology/support.js';
import { MANAGER_DEPLOYMENT, OPERATOR_NAMESPACE, clusterKubeconfig, inCluster, k, kRun, kubectlBin, make, run, type Run } from '../support.js';

export const MANAGER_SELECTOR = 'control-plane=controller-manager';
export const LOCK = 'memcached-operator-lock';
/** The manager's lease timings (make deploy sets no flags: client-go's defaults). */
export const LEASE_DURATION_MS = 15_000;
export const RETRY_PERIOD_MS = 2_000;

/** The memcached image of these specs: the kind bed's local one (make test-e2e exports it). */
export function memcachedImage(): string {
  const img = process.env.MEMCACHED_IMG;
  if (!img) throw new Error('MEMCACHED_IMG is not set: run these specs through make test-e2e (it reads the kind bed\'s images.env)');
  return img;
}

/** The cluster of these specs; throws unless the run is in-cluster (real pods). */
export function kindCluster(): Cluster {
  if (!inCluster) throw new Error('these specs need real containers: run them with make test-e2e (E2E_MODE=in-cluster on the kind bed)');
  memcachedImage();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(clusterKubeconfig());
  return new Cluster(kc);
}

/** Manager pods that are not being deleted. */
export async function managerPods(cluster: Cluster): Promise<k8s.V1Pod[]> {
  const list = await cluster.core.listNamespacedPod({ namespace: OPERATOR_NAMESPACE, labelSelector: MANAGER_SELECTOR });
  return list.items.filter((p) => !p.metadata?.deletionTimestamp);
}

export interface ManagerShape {
  replicas?: number;
  /** Flags after make deploy's own. */
  extraArgs?: string[];
}

/**
 * make deploy (server-side apply, which also takes back any earlier change of
 * replicas or args), then the given shape, then waits until exactly that many
 * manager pods of the current template are Ready.
 */
export async function deployOperator(cluster: Cluster, shape: ManagerShape = {}): Promise<k8s.V1Pod[]> {
  const r = make('deploy');
  expect(r.status, r.stderr).to.equal(0);
  const replicas = shape.replicas ?? 1;
  const current = await cluster.apps.readNamespacedDeployment({ namespace: OPERATOR_NAMESPACE, name: MANAGER_DEPLOYMENT });
  const args = [...(current.spec!.template.spec!.containers[0].args ?? []), ...(shape.extraArgs ?? [])];
  if (replicas !== 1 || shape.extraArgs?.length) {
    k([
      'patch', 'deployment', MANAGER_DEPLOYMENT, '-n', OPERATOR_NAMESPACE, '--type', 'strategic', '-p',
      JSON.stringify({ spec: { replicas, template: { spec: { containers: [{ name: 'manager', args }] } } } }),
    ]);
  }
  k(['rollout', 'status', `deployment/${MANAGER_DEPLOYMENT}`, '-n', OPERATOR_NAMESPACE, '--timeout=180s']);
  return eventually(
    `${replicas} Ready manager pod(s) with args ${args.join(' ')}`,
    async () => {
      const pods = await managerPods(cluster);
      const fresh = pods.filter((p) => JSON.stringify(p.spec?.containers[0].args) === JSON.stringify(args));
      if (fresh.length === replicas && pods.length === replicas && pods.every(isPodReady)) return pods;
      throw new Error(describePods(pods));
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
}

/** The pod named by the Lease's holderIdentity (`<hostname>_<uuid>`; the hostname is the pod's name). */
export async function leaseHolderPod(cluster: Cluster): Promise<string | undefined> {
  const coord = cluster.kc.makeApiClient(k8s.CoordinationV1Api);
  const lease = await coord.readNamespacedLease({ namespace: OPERATOR_NAMESPACE, name: LOCK }).catch(() => undefined);
  const holder = lease?.spec?.holderIdentity;
  return holder ? holder.slice(0, holder.lastIndexOf('_')) : undefined;
}

/** A restricted-PSS pod that runs the memcached image as a client (bash, getent), for kubectl exec. */
export async function startClientPod(cluster: Cluster, namespace: string, name = 'memcached-client'): Promise<string> {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'app.kubernetes.io/name': 'e2e-memcached-client' } },
    spec: {
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'client',
          image: memcachedImage(),
          imagePullPolicy: 'IfNotPresent',
          command: ['sleep', 'infinity'],
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
  k(['apply', '--server-side', '-n', namespace, '-f', '-'], JSON.stringify(pod));
  await eventually(
    `client pod ${namespace}/${name} Ready`,
    async () => {
      const p = await cluster.core.readNamespacedPod({ namespace, name });
      if (isPodReady(p)) return true;
      throw new Error(describePods([p]));
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  return name;
}

// One memcached text-protocol session over bash's /dev/tcp: optionally set
// KEY to VALUE, then get KEY, then quit (memcached closes the connection, so
// cat ends). Prints the replies with CRs removed.
const SESSION = `set -eu
host=$1 port=$2 key=$3 value=$4
exec 3<>"/dev/tcp/$host/$port"
if [ -n "$value" ]; then printf 'set %s 0 0 %d\\r\\n%s\\r\\n' "$key" "\${#value}" "$value" >&3; fi
printf 'get %s\\r\\nquit\\r\\n' "$key" >&3
timeout 10 cat <&3 | tr -d '\\r'`;

export interface SessionResult {
  stored: boolean;
  /** The value get returned, undefined on a miss. */
  value: string | undefined;
  raw: string;
}

/** Sets (when value is given) and gets key on host:port from inside the client pod. */
export function memcachedSession(namespace: string, client: string, host: string, key: string, value = '', port = 11211): SessionResult {
  const r = kRun(['exec', '-n', namespace, client, '--', 'timeout', '20', 'bash', '-c', SESSION, 'session', host, String(port), key, value]);
  if (r.status !== 0) throw new Error(`memcached session with ${host}:${port} failed (${r.status}): ${r.stderr}${r.stdout}`);
  const lines = r.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`VALUE ${key} `));
  return { stored: lines.includes('STORED'), value: at >= 0 ? lines[at + 1] : undefined, raw: r.stdout };
}

/** The IPv4 addresses a name resolves to inside the client pod (getent ahostsv4: every A record). */
export function resolveInPod(namespace: string, client: string, name: string): string[] {
  const r = kRun(['exec', '-n', namespace, client, '--', 'getent', 'ahostsv4', name]);
  if (r.status !== 0) throw new Error(`getent ahostsv4 ${name} failed (${r.status}): ${r.stderr}`);
  return [...new Set(r.stdout.split('\n').map((l) => l.split(/\s+/)[0]).filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a)))].sort();
}

export interface ReadySample {
  at: number;
  ready: number;
  pods: number;
}

/**
 * Counts the Ready, non-terminating pods of one Memcached every 200 ms until
 * stopped. A failed list is a gap and fails check(): the record must be whole.
 */
export class ReadySampler {
  readonly samples: ReadySample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly cluster: Cluster, private readonly namespace: string, private readonly name: string, private readonly intervalMs = 200) {}

  start(): void {
    const tick = (): void => {
      this.inFlight = this.cluster
        .pods(this.namespace, this.name)
        .then((pods) => void this.samples.push({ at: Date.now(), ready: pods.filter(isPodReady).length, pods: pods.length }))
        .catch((err: unknown) => void (this.failure ??= err));
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
  }

  async stop(): Promise<ReadySample[]> {
    if (this.timer) clearInterval(this.timer);
    await this.inFlight;
    return this.samples;
  }

  check(): void {
    if (this.failure) throw new Error(`a Ready sample failed: ${this.failure instanceof Error ? this.failure.message : inspect(this.failure)}`);
  }

  minReady(): number {
    return Math.min(...this.samples.map((s) => s.ready));
  }

  /** The largest gap between consecutive samples, to show the 200 ms cadence held. */
  maxGapMs(): number {
    let gap = 0;
    for (let i = 1; i < this.samples.length; i++) gap = Math.max(gap, this.samples[i].at - this.samples[i - 1].at);
    return gap;
  }
}

/** Where the kind specs write their measurements (gitignored), for the closing note. */
export const resultsFile = path.join(repoRoot, 'test', 'e2e', 'results', 'kind.json');

/** Merges one measurement into the results file and prints it. */
export function recordResult(key: string, value: unknown): void {
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>;
  } catch {
    // first result of the run
  }
  all[key] = { ...(value as object), recordedAt: new Date().toISOString() };
  mkdirSync(path.dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, JSON.stringify(all, null, 2) + '\n');
  console.log(`      [result] ${key}: ${JSON.stringify(value)}`);
}

/** Events about one object in a namespace (core/v1 view, which shows events.k8s.io ones too). */
export async function eventsAbout(cluster: Cluster, namespace: string, kind: string, name: string): Promise<k8s.CoreV1Event[]> {
  const list = await cluster.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` });
  return list.items;
}

/** Applies a Memcached from a plain object with kubectl (as a user would). */
export function applyMemcached(namespace: string, name: string, spec: Record<string, unknown>): void {
  k(['apply', '--server-side', '-n', namespace, '-f', '-'], JSON.stringify({ apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name }, spec }));
}

/**
 * Fills memcached on one connection: `bash -c FILL_SCRIPT fill HOST COUNT SIZE`
 * sends COUNT noreply sets of SIZE bytes, then quit (the value is generated in
 * bash: the client's root filesystem is read-only).
 */
export const FILL_SCRIPT = `set -eu
host=$1 count=$2 size=$3
value=$(head -c "$size" /dev/zero | tr '\\0' 'v')
exec 3<>"/dev/tcp/$host/11211"
{
  for i in $(seq 1 "$count"); do printf 'set fill%s 0 0 %s noreply\\r\\n%s\\r\\n' "$i" "$size" "$value"; done
  printf 'quit\\r\\n'
} >&3 &
timeout 300 cat <&3 >/dev/null || true`;

/** A load that runs in a pod until stopped. */
export interface BackgroundExec {
  /** Ends the load and returns what it printed. */
  stop(): Promise<Run>;
  /** Resolves once the load has printed a line matching pattern (for example "held" once its connections are open). */
  printed(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** What the load has printed on stdout so far (the last line may still be partial). */
  stdout(): string;
}

// Prints its pid, then runs the script under timeout (the guard): timeout puts
// the script in its own process group and passes a TERM on to all of it.
const BACKGROUND = 'echo "pid $$"; exec timeout "$0" bash -c "$@"';

/**
 * Runs a bash script in a pod until stop(). kubectl exec does not end the
 * remote process when its stdin closes or when kubectl itself is killed, so
 * stop() sends TERM to the script's process group through another exec; the
 * `timeout` guard ends it anyway if the test dies first.
 */
export function execInBackground(namespace: string, pod: string, script: string, args: string[], maxSeconds = 600): BackgroundExec {
  const child = spawn(kubectlBin(), ['--kubeconfig', clusterKubeconfig(), 'exec', '-n', namespace, pod, '--', 'sh', '-c', BACKGROUND, String(maxSeconds), script, 'load', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const closed = new Promise<Run>((resolve) => {
    child.once('error', (err) => resolve({ status: -1, stdout, stderr: stderr + String(err) }));
    child.once('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
  const printed = async (pattern: RegExp, timeoutMs = 120_000): Promise<void> => {
    await eventually(`${pattern} in the output of the load in ${namespace}/${pod}`, () => {
      if (pattern.test(stdout)) return true;
      if (child.exitCode !== null) throw new Error(`the load exited (${child.exitCode}): ${stderr}${stdout}`);
      throw new Error(`not yet: ${stdout.slice(-200)}${stderr.slice(-200)}`);
    }, { timeoutMs, intervalMs: 250 });
  };
  return {
    printed,
    stdout: () => stdout,
    async stop() {
      if (child.exitCode === null) {
        await printed(/^pid \d+$/m, 30_000);
        const pid = /^pid (\d+)$/m.exec(stdout)![1];
        const killed = kRun(['exec', '-n', namespace, pod, '--', 'bash', '-c', 'kill -TERM "$1"', 'kill', pid]);
        if (killed.status !== 0 && child.exitCode === null) throw new Error(`cannot stop the load in ${namespace}/${pod} (pid ${pid}): ${killed.stderr}`);
      }
      const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const r = await closed;
      clearTimeout(guard);
      return r;
    },
  };
}

/** Runs a command on a kind node (a container of the bed's docker), as 3-leader-election does to kill a process outright. */
export function onNode(node: string, command: string[]): string {
  const r = run('docker', ['exec', node, ...command]);
  if (r.status !== 0) throw new Error(`docker exec ${node} ${command.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * Runs a command in a pod's network namespace, from its node: the pod itself
 * stays restricted (no capabilities), while the node holds iptables and
 * nsenter. The namespace is the pod sandbox's, so it outlives container
 * restarts (a rule added here stays until removed). The node's crictl is a
 * stand-in, so the sandbox is found with ctr, by the pod's uid.
 */
export function inPodNetwork(pod: k8s.V1Pod, command: string[]): string {
  const node = pod.spec?.nodeName;
  const uid = pod.metadata?.uid;
  if (!node || !uid) throw new Error(`pod ${pod.metadata?.name} is not on a node yet`);
  const sandboxes = new Set(onNode(node, ['ctr', '-n', 'k8s.io', 'containers', 'ls', '-q', `labels."io.kubernetes.pod.uid"==${uid},labels."io.cri-containerd.kind"==sandbox`]).split('\n').filter(Boolean));
  const running = onNode(node, ['ctr', '-n', 'k8s.io', 'tasks', 'ls'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([id, , status]) => sandboxes.has(id) && status === 'RUNNING');
  if (running.length !== 1) throw new Error(`pod ${pod.metadata?.name} has ${running.length} running sandboxes on ${node}`);
  return onNode(node, ['nsenter', '-t', running[0][1], '-n', ...command]);
}
