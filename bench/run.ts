// The benchmark run: convergence against a floor measured in the same run,
// idle cost, API cost, footprint, churn and failover. Benchmarks assert
// nothing about time; they record.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../src/api/types.js';
import { CRD_RELATIVE_PATH } from '../src/api/validator.js';
import { track } from './children.js';
import { getOperatorMain, launchOperator } from './operator.js';
import { getMetrics } from '../test/support/operator.js';
import {
  apiserverRequests,
  applyCrd,
  auditMark,
  auditWrites,
  diffCounts,
  footprintOf,
  loadKubeConfig,
  machine,
  mintUser,
  extendServiceCidr,
  raiseNodeCapacity,
  repoRoot,
  startCluster,
  tally,
  type Footprint,
  type RequestCounts,
} from './env.js';
import { measureFailover } from '../test/support/failover.js';

type FaultKind = 'sigkill' | 'sigterm' | 'partition';
import { percentile, ratio, round, spread, type Spread } from '../test/support/stats.js';
import { AvailabilityWatch, ReflectionTracker } from './watchers.js';

export interface BenchOptions {
  sizes: number[];
  smoke: boolean;
  /** Another operator to run convergence, idle and footprint against, as a shell command. */
  operatorCmd?: string;
  /** Its name in results.peers. */
  operatorName: string;
  /** Run the Go peer (bench/peer-go, built by its build.sh) side by side. */
  goPeer: boolean;
  /** The Go peer's MaxConcurrentReconciles. */
  peerConcurrency: number;
  /** Floor concurrencies to sweep at each N for the saturating floor (the base floor's is reused). */
  floorSweep: number[];
  out: string;
  /** Base name of the result files: latest or smoke. */
  name: string;
  fresh: boolean;
  concurrency: number;
  idleSeconds: number;
  backgroundSeconds: number;
  churnSeconds: number;
  failoverRuns: number;
  /** Write a V8 CPU profile of the operator at the largest size into this directory. */
  cpuProfDir?: string;
  /** Extra flags for our operator. */
  operatorArgs: string[];
  log: (msg: string) => void;
}

export const OPERATOR_USER = 'bench-operator';
export const FLOOR_USER = 'bench-floor';
export const OTHER_USER = 'bench-other';
export const GO_PEER_USER = 'bench-peer-go';
export const GO_PEER_NAME = 'go-controller-runtime';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const here = path.dirname(fileURLToPath(import.meta.url));

interface Launched {
  pid: number;
  /** Prometheus endpoint of the process, when it has one we know of. */
  metricsUrl?: string;
  stop(): Promise<void>;
  output(): string;
}

interface Contender {
  label: string;
  user: string;
  /** What "converged" means for it. */
  mode: 'memcached' | 'deployment';
  launch(namespace: string, extraEnv?: Record<string, string>): Promise<Launched>;
}

export interface ConvergenceSample {
  n: number;
  complete: boolean;
  available: number;
  seconds: number;
  throughput: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Writes by this client (audit log) from the first create until 5 s after the last object was available. */
  writes: number;
  writesByResource: Record<string, number>;
  /** apiserver_request_total over the same span, every client (kube-controller-manager, scheduler, kwok included). */
  allClientRequests: number;
  timesMs: number[];
}

function objectName(i: number): string {
  return `mc-${String(i).padStart(5, '0')}`;
}

async function createNamespace(kc: k8s.KubeConfig, name: string): Promise<string> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { 'memcached-bench': 'true' } } } });
  return name;
}

/** Creates n Memcacheds "at once" (16 requests in flight); returns when each create was sent. */
async function createObjects(kc: k8s.KubeConfig, namespace: string, n: number, spec: Record<string, unknown>): Promise<Map<string, number>> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const sentAt = new Map<string, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const name = objectName(next++);
      sentAt.set(name, Date.now());
      for (let attempt = 0; ; attempt++) {
        try {
          await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec } });
          break;
        } catch (err) {
          if (err instanceof k8s.ApiException && err.code === 409) break;
          if (attempt >= 5) throw err;
          await sleep(200 * (attempt + 1));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, n) }, worker));
  return sentAt;
}

async function measureConvergence(
  kc: k8s.KubeConfig,
  contender: Contender,
  namespace: string,
  n: number,
  opts: BenchOptions,
): Promise<ConvergenceSample> {
  const watch = new AvailabilityWatch(kc, namespace, contender.mode);
  await watch.start();
  const mark = auditMark();
  const before = apiserverRequests();
  const t0 = Date.now();
  const sentAt = await createObjects(kc, namespace, n, { size: 3 });
  const names = [...sentAt.keys()];
  const timeoutMs = opts.smoke ? 180_000 : 180_000 + 2_000 * n;
  const complete = await watch.waitFor(names, timeoutMs, (done) => opts.log(`  ${contender.label} N=${n}: ${done}/${n} available after ${Math.round((Date.now() - t0) / 1000)} s`));
  watch.stop();
  const settleMs = opts.smoke ? 1_500 : 5_000;
  const available = names.filter((x) => watch.availableAt.has(x));
  const tEnd = available.length > 0 ? Math.max(...available.map((x) => watch.availableAt.get(x)!)) : Date.now();
  await sleep(settleMs);
  const after = apiserverRequests();
  const writes = auditWrites(mark, { user: contender.user, fromMs: t0 - 1000, toMs: tEnd + settleMs });
  // Per object: from creation (creationTimestamp has second precision, so
  // the later of it and the moment the create was sent) to the watch event
  // that showed it available.
  const timesMs = available
    .map((x) => watch.availableAt.get(x)! - Math.max(sentAt.get(x)!, watch.createdAt.get(x) ?? 0))
    .sort((a, b) => a - b);
  const seconds = (complete ? tEnd - t0 : Date.now() - t0) / 1000;
  return {
    n,
    complete,
    available: available.length,
    seconds: round(seconds, 2)!,
    throughput: complete ? round(n / seconds, 2) : null,
    p50Ms: round(percentile(timesMs, 50)),
    p90Ms: round(percentile(timesMs, 90)),
    p99Ms: round(percentile(timesMs, 99)),
    maxMs: round(timesMs[timesMs.length - 1]),
    writes: writes.length,
    writesByResource: tally(writes),
    allClientRequests: diffCounts(after, before).total,
    timesMs: timesMs.map((t) => Math.round(t)),
  };
}

// ----------------------------------------------------------- contenders --

function operatorContender(kubeconfig: string, opts: BenchOptions): Contender {
  return {
    label: 'operator',
    user: OPERATOR_USER,
    mode: 'memcached',
    launch: async (namespace, extraEnv = {}) => {
      const op = await launchOperator({
        kubeconfig,
        args: [`--max-concurrent-reconciles=${opts.concurrency}`, ...opts.operatorArgs],
        env: { WATCH_NAMESPACE: namespace, ...extraEnv },
      });
      return {
        pid: op.child.pid!,
        metricsUrl: op.metricsUrl,
        output: () => op.output(),
        stop: async () => void (await op.stop('SIGTERM')),
      };
    },
  };
}

function childHandle(child: ChildProcess, group: boolean): Launched {
  track(child, group);
  let text = '';
  child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals): void => {
    try {
      if (group) process.kill(-child.pid!, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };
  return {
    pid: child.pid!,
    output: () => text,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!done) {
        signal('SIGKILL');
        await exited;
      }
    },
  };
}

function floorContender(kubeconfig: string, concurrency: number): Contender {
  return {
    label: `floor×${concurrency}`,
    user: FLOOR_USER,
    mode: 'memcached',
    launch: async (namespace) => {
      const child = spawn(process.execPath, [path.join(here, 'floor.js'), '--kubeconfig', kubeconfig, '--namespace', namespace, '--concurrency', String(concurrency)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const handle = childHandle(child, false);
      const deadline = Date.now() + 60_000;
      while (!handle.output().includes('"ready":true')) {
        if (child.exitCode !== null) throw new Error(`the floor exited with ${child.exitCode}:\n${handle.output()}`);
        if (Date.now() > deadline) throw new Error(`the floor did not get ready in 60 s:\n${handle.output()}`);
        await sleep(50);
      }
      return handle;
    },
  };
}

/** How the harness runs another operator. */
export interface PeerSpec {
  name: string;
  /** Shell command; {kubeconfig}, {namespace} and {metricsPort} are replaced. */
  command: string;
  user: string;
  /** What "converged" means for it (see AvailabilityWatch). */
  mode: 'memcached' | 'deployment';
  /** Output that says its caches are synced; without one the harness waits 5 s. */
  readyPattern?: RegExp;
}

/** A TCP port free now on 127.0.0.1, for a peer's /metrics. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function peerContender(spec: PeerSpec, kubeconfig: string): Contender {
  return {
    label: spec.name,
    user: spec.user,
    mode: spec.mode,
    launch: async (namespace) => {
      const metricsPort = spec.command.includes('{metricsPort}') ? await freePort() : undefined;
      const command = spec.command
        .replaceAll('{kubeconfig}', kubeconfig)
        .replaceAll('{namespace}', namespace)
        .replaceAll('{metricsPort}', String(metricsPort));
      const child = spawn('sh', ['-c', command], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, KUBECONFIG: kubeconfig, WATCH_NAMESPACE: namespace },
      });
      const handle = childHandle(child, true);
      if (spec.readyPattern) {
        const deadline = Date.now() + 60_000;
        while (!spec.readyPattern.test(handle.output())) {
          if (child.exitCode !== null) throw new Error(`${spec.name} exited with ${child.exitCode}:\n${handle.output()}`);
          if (Date.now() > deadline) throw new Error(`${spec.name} did not get ready in 60 s:\n${handle.output().slice(-4000)}`);
          await sleep(50);
        }
      } else {
        // No common readiness endpoint: give it a few seconds to start and sync.
        await sleep(5_000);
      }
      if (child.exitCode !== null) throw new Error(`${spec.name} exited with ${child.exitCode}:\n${handle.output()}`);
      return { ...handle, metricsUrl: metricsPort ? `http://127.0.0.1:${metricsPort}/metrics` : undefined };
    },
  };
}

/** bench/peer-go built into the tools cache (its build.sh); the path of the binary. */
export function buildGoPeer(log: (msg: string) => void): { binary: string; seconds: number } {
  const started = Date.now();
  const binary = execFileSync(path.join(repoRoot, 'bench', 'peer-go', 'build.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const seconds = round((Date.now() - started) / 1000, 1)!;
  log(`go peer: ${binary} (${seconds} s to build or find)`);
  return { binary, seconds };
}

export function goPeerSpec(binary: string, concurrency: number): PeerSpec {
  return {
    name: GO_PEER_NAME,
    command: `${binary} --metrics-bind-address=127.0.0.1:{metricsPort} --max-concurrent-reconciles=${concurrency}`,
    user: GO_PEER_USER,
    mode: 'memcached',
    // controller-runtime logs it once the caches have synced.
    readyPattern: /Starting workers/,
  };
}

/** Where the operator's time went, from its own /metrics (cumulative since the process started). */
export interface OperatorStats {
  reconciles: number;
  reconcileErrors: number;
  queueAdds: number;
  /**
   * Keys each watch handed to the queue, by "source/event" (our
   * controller_watch_enqueues_total; before the queue dedups or coalesces
   * them, so they sum to more than queueAdds). Empty for a peer.
   */
  enqueuesBySource: Record<string, number>;
  /** Mean time a key waited in the work queue before a worker took it. */
  meanQueueWaitMs: number | null;
  /** Mean time a worker spent on one reconcile (API round trips included). */
  meanReconcileMs: number | null;
  eventLoopLagP99Ms: number | null;
}

/** controller_watch_enqueues_total summed by "source/event". */
function bySource(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('controller_watch_enqueues_total{')) continue;
    const source = /source="([^"]*)"/.exec(line)?.[1] ?? '?';
    const event = /event="([^"]*)"/.exec(line)?.[1] ?? '?';
    const value = Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
    if (value > 0) out[`${source}/${event}`] = (out[`${source}/${event}`] ?? 0) + value;
  }
  return out;
}

async function scrapeOperator(url: string | undefined): Promise<OperatorStats | null> {
  if (!url) return null;
  const text = await getMetrics(url)
    .then((r) => (r.status === 200 ? r.body : ''))
    .catch(() => '');
  if (!text) return null;
  const sum = (name: string): number => {
    let total = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(name + '{') || line.startsWith(name + ' ')) total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
    }
    return total;
  };
  const mean = (base: string): number | null => {
    const count = sum(`${base}_count`);
    return count > 0 ? round((sum(`${base}_sum`) / count) * 1000, 1) : null;
  };
  return {
    reconciles: sum('controller_runtime_reconcile_total'),
    reconcileErrors: sum('controller_runtime_reconcile_errors_total'),
    queueAdds: sum('workqueue_adds_total'),
    enqueuesBySource: bySource(text),
    meanQueueWaitMs: mean('workqueue_queue_duration_seconds'),
    meanReconcileMs: mean('controller_runtime_reconcile_time_seconds'),
    eventLoopLagP99Ms: text.includes('nodejs_eventloop_lag_p99_seconds') ? round(sum('nodejs_eventloop_lag_p99_seconds') * 1000, 1) : null,
  };
}

// -------------------------------------------------------------- phases --

interface IdleResult {
  n: number;
  windowSeconds: number;
  writes: number;
  writesByResource: Record<string, number>;
  requestsPerMinute: number | null;
  requestsPerMinuteAllClients: number;
  requestsPerMinuteWithoutOperator: number;
  byVerbResource: Record<string, number>;
}

async function rateWindow(seconds: number): Promise<{ counts: RequestCounts; perMinute: number }> {
  const before = apiserverRequests();
  await sleep(seconds * 1000);
  const counts = diffCounts(apiserverRequests(), before);
  // The scrape itself is one request; leave it out.
  return { counts, perMinute: round(((counts.total - 1) * 60) / seconds, 1)! };
}

/** Idle cost of a converged contender; stops it at the end to measure the same cluster without it. */
async function measureIdle(contender: Contender, running: Launched, n: number, opts: BenchOptions): Promise<IdleResult> {
  await sleep(opts.smoke ? 1_000 : 5_000);
  const mark = auditMark();
  const start = Date.now();
  const withOp = await rateWindow(opts.idleSeconds);
  const end = Date.now();
  await sleep(1_000);
  const writes = auditWrites(mark, { user: contender.user, fromMs: start, toMs: end });
  await running.stop();
  await sleep(opts.smoke ? 1_000 : 3_000);
  const without = await rateWindow(opts.backgroundSeconds);
  return {
    n,
    windowSeconds: opts.idleSeconds,
    writes: writes.length,
    writesByResource: tally(writes),
    // apiserver_request_total has no client label in 1.36: the operator's
    // share is the rate with it running less the rate without it.
    requestsPerMinute: round(Math.max(0, withOp.perMinute - without.perMinute), 1),
    requestsPerMinuteAllClients: withOp.perMinute,
    requestsPerMinuteWithoutOperator: without.perMinute,
    byVerbResource: withOp.counts.byVerbResource,
  };
}

interface ChurnResult {
  n: number;
  seconds: number;
  perSecond: number;
  changes: number;
  reflected: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  restartWrites: number;
}

async function measureChurn(kc: k8s.KubeConfig, contender: Contender, namespace: string, n: number, opts: BenchOptions): Promise<ChurnResult> {
  // A fresh process on converged objects: first count what a restart writes (target 0).
  const mark = auditMark();
  const start = Date.now();
  const running = await contender.launch(namespace);
  await sleep(opts.smoke ? 3_000 : 10_000);
  const restartWrites = auditWrites(mark, { user: contender.user, fromMs: start }).length;

  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const tracker = new ReflectionTracker(kc, namespace);
  await tracker.start();
  await sleep(500);
  const perSecond = Math.max(1, Math.ceil(n / 10));
  const value = new Map<string, number>();
  let cursor = 0;
  const inflight = new Set<Promise<void>>();
  const churnStart = Date.now();
  for (let tick = 0; tick < opts.churnSeconds; tick++) {
    const due = churnStart + tick * 1000;
    if (Date.now() < due) await sleep(due - Date.now());
    for (let k = 0; k < perSecond; k++) {
      const name = objectName(cursor++ % n);
      const size = (value.get(name) ?? 3) === 3 ? 2 : 3;
      value.set(name, size);
      const sentAt = Date.now();
      const p = custom
        .patchNamespacedCustomObject(
          { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { spec: { size } } },
          k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
        )
        .then(
          (updated: unknown) => {
            const generation = (updated as { metadata?: { generation?: number } }).metadata?.generation;
            if (typeof generation === 'number') tracker.sent(name, generation, sentAt);
          },
          (err: unknown) => opts.log(`churn: patch ${name} failed: ${err instanceof Error ? err.message : String(err)}`),
        );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
  }
  await Promise.all(inflight);
  const drainDeadline = Date.now() + 60_000;
  while (tracker.outstanding() > 0 && Date.now() < drainDeadline) await sleep(200);
  tracker.stop();
  await running.stop();
  const lags = tracker.lagsMs;
  return {
    n,
    seconds: opts.churnSeconds,
    perSecond,
    changes: tracker.changes,
    reflected: lags.length,
    p50Ms: round(percentile(lags, 50)),
    p90Ms: round(percentile(lags, 90)),
    p99Ms: round(percentile(lags, 99)),
    maxMs: round(lags.length ? Math.max(...lags) : undefined),
    restartWrites,
  };
}

type FailoverResult = Spread & { runs: number; samplesMs: number[]; source: string; error?: string };

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 300);
}

// ---------------------------------------------------------------- run --

/**
 * Churn alone, on a namespace of N objects an earlier run converged: for
 * re-measuring one scenario without a full run (its result replaces `churn`).
 */
export async function runChurnOnly(opts: BenchOptions, namespace: string, n: number): Promise<ChurnResult> {
  startCluster('ha', false, opts.log);
  const operatorKubeconfig = mintUser(OPERATOR_USER);
  const kc = loadKubeConfig();
  opts.log(`churn only: ${namespace}, N=${n}, ${opts.churnSeconds} s`);
  const churn = await measureChurn(kc, operatorContender(operatorKubeconfig, opts), namespace, n, opts);
  opts.log(`churn: ${churn.reflected}/${churn.changes} reflected, p50 ${churn.p50Ms} ms, p99 ${churn.p99Ms} ms; restart wrote ${churn.restartWrites}`);
  return churn;
}

/** A peer's results: another operator measured side by side, on the same cluster, in the same run. */
export interface PeerResult {
  name: string;
  command: string;
  mode: 'memcached' | 'deployment';
  convergence: Array<{
    n: number;
    seconds: number;
    writesPerObject: number;
    complete: boolean;
    p50Ms: number | null;
    p90Ms: number | null;
    p99Ms: number | null;
    /** Ratios of its time to the floor's and to the saturating floor's at the same N. */
    floorRatio: number | null;
    saturatedFloorRatio: number | null;
    writesByResource: Record<string, number>;
  }>;
  footprint: Array<{ n: number; rssMB: number; cpuSeconds: number }>;
  idle: IdleResult | null;
  churn: ChurnResult | null;
  /** From its /metrics when it serves controller-runtime's (the Go peer does). */
  stats: Array<{ n: number } & OperatorStats>;
  timesMs: Array<{ n: number; ms: number[] }>;
}

export interface Results {
  schema: 1;
  /** Namespaces of this run are bench-<runId>-<who>-<n> (who: op, floor, peer, other). */
  runId: string;
  date: string;
  commit: string;
  machine: ReturnType<typeof machine>;
  smoke: boolean;
  profile: 'ha';
  operator: { command: string; maxConcurrentReconciles: number };
  convergence: Array<{
    n: number;
    seconds: number;
    floorSeconds: number;
    ratio: number | null;
    /** The fastest floor of the sweep at this N (floorSweep), and its concurrency. */
    saturatedFloorSeconds: number;
    saturatedFloorConcurrency: number;
    saturatedRatio: number | null;
    p50Ms: number | null;
    p90Ms: number | null;
    p99Ms: number | null;
    maxMs: number | null;
    throughput: number | null;
    floorThroughput: number | null;
    floorP50Ms: number | null;
    floorP90Ms: number | null;
    floorP99Ms: number | null;
    complete: boolean;
  }>;
  /** The floor's same writes at each swept concurrency and N. */
  floorSweep: Array<{ concurrency: number; n: number; seconds: number; writesPerObject: number; complete: boolean }>;
  apiCost: Array<{
    n: number;
    writesPerObject: number;
    floorWritesPerObject: number;
    ratio: number | null;
    allClientRequestsPerObject: number;
    floorAllClientRequestsPerObject: number;
    writesByResource: Record<string, number>;
    floorWritesByResource: Record<string, number>;
  }>;
  idle: IdleResult;
  footprint: Array<{ n: number; rssMB: number; cpuSeconds: number }>;
  /** The operator's own metrics after converging each N: queue wait vs reconcile time. */
  operatorStats: Array<{ n: number; reconcilesPerObject: number; queueAddsPerObject: number } & OperatorStats>;
  churn: ChurnResult | null;
  failover: Record<FaultKind, FailoverResult>;
  timeToAvailable: Array<{ n: number; operatorMs: number[]; floorMs: number[] }>;
  peers: PeerResult[];
  /** --operator-cmd runs, as before peers existed (also in peers, under --operator-name). */
  others: Array<{
    command: string;
    convergence: Array<{ n: number; seconds: number; floorSeconds: number; ratio: number | null; p50Ms: number | null; p90Ms: number | null; p99Ms: number | null; complete: boolean; writesPerObject: number }>;
    idle: IdleResult | null;
    footprint: Array<{ n: number; rssMB: number; cpuSeconds: number }>;
  }>;
  /** Seconds spent building (or finding) the Go peer in this run. */
  goPeerBuildSeconds: number | null;
  notes: string[];
  durationSeconds: number;
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    return dirty ? `${sha}+dirty-src` : sha;
  } catch {
    return 'unknown';
  }
}

/** Deletes a namespace and waits until it is gone, so its objects load no later measurement. */
async function deleteNamespace(kc: k8s.KubeConfig, name: string, timeoutMs: number): Promise<boolean> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core.deleteNamespace({ name }).catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      await core.readNamespace({ name });
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return true;
    }
    await sleep(500);
  }
  return false;
}

export async function runBench(opts: BenchOptions): Promise<Results> {
  const started = Date.now();
  const log = opts.log;
  const notes: string[] = [];
  if (!existsSync(getOperatorMain())) throw new Error(`${getOperatorMain()} is missing: run make build first`);
  const goPeer = opts.goPeer ? buildGoPeer(log) : undefined;

  log(`cluster: ${opts.fresh ? 'fresh' : 'reusing'} ha profile in ${process.env.CLUSTER_STATE_DIR ?? '.cluster'}`);
  startCluster('ha', opts.fresh, log);
  const maxN = Math.max(...opts.sizes);
  const totalN = opts.sizes.reduce((a, b) => a + b, 0);
  // Every object keeps one pod on each of the 3 workers; the operator's,
  // the floor's and each peer's objects all stay (the sweep's are deleted).
  const kept = 2 + (opts.operatorCmd ? 1 : 0) + (goPeer ? 1 : 0);
  if (maxN * 3 > 60) raiseNodeCapacity(Math.max(maxN * 4, totalN * kept + maxN) + 500);
  // Each contender's objects need a ClusterIP each.
  if (totalN * (kept + 1) > 150) extendServiceCidr();
  applyCrd(path.join(repoRoot, CRD_RELATIVE_PATH));
  const operatorKubeconfig = mintUser(OPERATOR_USER);
  const floorKubeconfig = mintUser(FLOOR_USER);
  const kc = loadKubeConfig();
  const run = Date.now().toString(36);
  const ns = (who: string, n: number): string => `bench-${run}-${who}-${n}`;

  const operator = operatorContender(operatorKubeconfig, opts);
  const floor = floorContender(floorKubeconfig, opts.concurrency);
  const results: Results = {
    schema: 1,
    runId: run,
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: machine(),
    smoke: opts.smoke,
    profile: 'ha',
    operator: { command: `node ${path.relative(repoRoot, getOperatorMain())} --max-concurrent-reconciles=${opts.concurrency} ${opts.operatorArgs.join(' ')}`.trim(), maxConcurrentReconciles: opts.concurrency },
    convergence: [],
    floorSweep: [],
    apiCost: [],
    idle: undefined as unknown as IdleResult,
    footprint: [],
    operatorStats: [],
    churn: null,
    failover: {} as Record<FaultKind, FailoverResult>,
    timeToAvailable: [],
    peers: [],
    others: [],
    goPeerBuildSeconds: goPeer?.seconds ?? null,
    notes,
    durationSeconds: 0,
  };

  // Footprint of a contender that has just converged N objects (N=0: started on an empty namespace).
  const footprintAfter = (l: Launched, n: number): { n: number } & Footprint => ({ n, ...footprintOf(l.pid) });

  /**
   * Deletes a contender's namespace once it is measured, so that every
   * contender starts on a cluster holding the same objects. Kept, the Go
   * peer's 1000 Memcacheds and 3000 pods (it runs first) and the floor's
   * loaded every later contender: the operator converged 1000 next to 6000
   * extra pods, the peer next to none. A few objects load nothing
   * measurable, so small namespaces stay: the smoke test reads the peer's
   * children and ours from them after the run.
   */
  const clearNamespace = async (name: string, n: number): Promise<void> => {
    if (n < 50) return;
    if (!(await deleteNamespace(kc, name, 600_000))) notes.push(`namespace ${name} was still terminating when the run went on`);
  };

  /** A peer's N=0 footprint: started on an empty namespace, idle a few seconds. */
  const peerAtZero = async (peer: Contender, entry: PeerResult): Promise<void> => {
    const launched = await peer.launch(await createNamespace(kc, ns(`${entry.name === GO_PEER_NAME ? 'peer' : 'other'}`, 0)));
    await sleep(opts.smoke ? 2_000 : 10_000);
    entry.footprint.push(footprintAfter(launched, 0));
    await launched.stop();
  };

  /** A peer at one N: convergence, footprint, its metrics; at the largest N idle and (if it reports observedGeneration) churn. */
  const peerAt = async (peer: Contender, entry: PeerResult, n: number): Promise<void> => {
    const namespace = await createNamespace(kc, ns(entry.name === GO_PEER_NAME ? 'peer' : 'other', n));
    const launched = await peer.launch(namespace);
    log(`${entry.name}: converging N=${n}`);
    const sample = await measureConvergence(kc, peer, namespace, n, opts);
    log(`${entry.name}: N=${n} in ${sample.seconds} s (p50 ${sample.p50Ms} ms, p99 ${sample.p99Ms} ms, ${sample.writes} writes)`);
    if (!sample.complete) notes.push(`${entry.name} N=${n}: only ${sample.available}/${n} Available before the deadline`);
    const stats = await scrapeOperator(launched.metricsUrl);
    if (stats) entry.stats.push({ n, ...stats });
    await sleep(opts.smoke ? 1_000 : 5_000);
    entry.footprint.push(footprintAfter(launched, n));
    entry.convergence.push({
      n,
      seconds: sample.seconds,
      writesPerObject: round(sample.writes / n, 2)!,
      complete: sample.complete,
      p50Ms: sample.p50Ms,
      p90Ms: sample.p90Ms,
      p99Ms: sample.p99Ms,
      floorRatio: null,
      saturatedFloorRatio: null,
      writesByResource: sample.writesByResource,
    });
    entry.timesMs.push({ n, ms: sample.timesMs });
    if (n !== maxN) {
      await launched.stop();
      return clearNamespace(namespace, n);
    }
    entry.idle = await measureIdle(peer, launched, n, opts);
    log(`${entry.name} idle: ${entry.idle.writes} writes, ~${entry.idle.requestsPerMinute} requests/min`);
    if (peer.mode === 'memcached') {
      entry.churn = await measureChurn(kc, peer, namespace, n, opts);
      log(`${entry.name} churn: ${entry.churn.reflected}/${entry.churn.changes} reflected, p50 ${entry.churn.p50Ms} ms, p99 ${entry.churn.p99Ms} ms; restart wrote ${entry.churn.restartWrites}`);
    } else {
      notes.push(`${entry.name}: no churn (it does not report status.observedGeneration, which churn lag is read from)`);
    }
    await clearNamespace(namespace, n);
  };
  const newPeer = (spec: PeerSpec): PeerResult => ({ name: spec.name, command: spec.command, mode: spec.mode, convergence: [], footprint: [], idle: null, churn: null, stats: [], timesMs: [] });

  // Another operator first: it may watch every namespace, so it runs while only its own objects exist.
  if (opts.operatorCmd) {
    const spec: PeerSpec = { name: opts.operatorName, command: opts.operatorCmd, user: OTHER_USER, mode: 'deployment' };
    const other = peerContender(spec, mintUser(OTHER_USER));
    const entry = newPeer(spec);
    results.peers.push(entry);
    await peerAtZero(other, entry);
    for (const n of opts.sizes) await peerAt(other, entry, n);
  }

  // The Go peer watches only its namespace: it runs at each N just before the floor.
  const goSpec = goPeer ? goPeerSpec(goPeer.binary, opts.peerConcurrency) : undefined;
  const go = goSpec ? peerContender(goSpec, mintUser(GO_PEER_USER)) : undefined;
  const goEntry = goSpec ? newPeer(goSpec) : undefined;
  if (go && goEntry) {
    results.peers.push(goEntry);
    await peerAtZero(go, goEntry);
  }

  // N=0 footprint.
  {
    const namespace = await createNamespace(kc, ns('op', 0));
    const launched = await operator.launch(namespace);
    await sleep(opts.smoke ? 2_000 : 10_000);
    results.footprint.push(footprintAfter(launched, 0));
    await launched.stop();
  }

  for (const n of opts.sizes) {
    if (go && goEntry) await peerAt(go, goEntry, n);

    // The floor, then the operator, each on its own fresh namespace.
    const floorNs = await createNamespace(kc, ns('floor', n));
    const floorProc = await floor.launch(floorNs);
    log(`floor: converging N=${n}`);
    const floorSample = await measureConvergence(kc, floor, floorNs, n, opts);
    await floorProc.stop();
    await clearNamespace(floorNs, n);
    log(`floor: N=${n} in ${floorSample.seconds} s (p50 ${floorSample.p50Ms} ms, p99 ${floorSample.p99Ms} ms, ${floorSample.writes} writes)`);
    results.floorSweep.push({ concurrency: opts.concurrency, n, seconds: floorSample.seconds, writesPerObject: round(floorSample.writes / n, 2)!, complete: floorSample.complete });

    // The saturating floor: the same writes at other concurrencies, each in a
    // namespace deleted (and waited for) afterwards.
    for (const c of opts.floorSweep.filter((x) => x !== opts.concurrency)) {
      const sweepNs = await createNamespace(kc, ns(`floor-c${c}`, n));
      const sweepFloor = floorContender(floorKubeconfig, c);
      const proc = await sweepFloor.launch(sweepNs);
      const sample = await measureConvergence(kc, sweepFloor, sweepNs, n, opts);
      await proc.stop();
      log(`floor ×${c}: N=${n} in ${sample.seconds} s (${sample.writes} writes)`);
      if (!sample.complete) notes.push(`floor ×${c} N=${n}: only ${sample.available}/${n} Available before the deadline`);
      results.floorSweep.push({ concurrency: c, n, seconds: sample.seconds, writesPerObject: round(sample.writes / n, 2)!, complete: sample.complete });
      await clearNamespace(sweepNs, n);
    }
    const saturated = results.floorSweep.filter((f) => f.n === n && f.complete).sort((a, b) => a.seconds - b.seconds)[0] ?? results.floorSweep.find((f) => f.n === n)!;

    const opNs = await createNamespace(kc, ns('op', n));
    const profiling = opts.cpuProfDir !== undefined && n === maxN;
    if (profiling) mkdirSync(opts.cpuProfDir!, { recursive: true });
    const launched = await operator.launch(opNs, profiling ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${opts.cpuProfDir}` } : {});
    await sleep(opts.smoke ? 500 : 2_000);
    log(`operator: converging N=${n}`);
    const sample = await measureConvergence(kc, operator, opNs, n, opts);
    log(`operator: N=${n} in ${sample.seconds} s (p50 ${sample.p50Ms} ms, p99 ${sample.p99Ms} ms, ${sample.writes} writes); ratio ${ratio(sample.seconds, floorSample.seconds)}, to the saturating floor ${ratio(sample.seconds, saturated.seconds)}`);
    if (!sample.complete) notes.push(`operator N=${n}: only ${sample.available}/${n} Available before the deadline`);
    if (!floorSample.complete) notes.push(`floor N=${n}: only ${floorSample.available}/${n} Available before the deadline`);
    const stats = await scrapeOperator(launched.metricsUrl);
    if (stats) results.operatorStats.push({ n, reconcilesPerObject: round(stats.reconciles / n, 2)!, queueAddsPerObject: round(stats.queueAdds / n, 2)!, ...stats });
    await sleep(opts.smoke ? 1_000 : 5_000);
    results.footprint.push(footprintAfter(launched, n));
    results.convergence.push({
      n,
      seconds: sample.seconds,
      floorSeconds: floorSample.seconds,
      ratio: ratio(sample.seconds, floorSample.seconds),
      saturatedFloorSeconds: saturated.seconds,
      saturatedFloorConcurrency: saturated.concurrency,
      saturatedRatio: ratio(sample.seconds, saturated.seconds),
      p50Ms: sample.p50Ms,
      p90Ms: sample.p90Ms,
      p99Ms: sample.p99Ms,
      maxMs: sample.maxMs,
      throughput: sample.throughput,
      floorThroughput: floorSample.throughput,
      floorP50Ms: floorSample.p50Ms,
      floorP90Ms: floorSample.p90Ms,
      floorP99Ms: floorSample.p99Ms,
      complete: sample.complete && floorSample.complete,
    });
    results.apiCost.push({
      n,
      writesPerObject: round(sample.writes / n, 2)!,
      floorWritesPerObject: round(floorSample.writes / n, 2)!,
      ratio: ratio(sample.writes, floorSample.writes),
      allClientRequestsPerObject: round(sample.allClientRequests / n, 1)!,
      floorAllClientRequestsPerObject: round(floorSample.allClientRequests / n, 1)!,
      writesByResource: sample.writesByResource,
      floorWritesByResource: floorSample.writesByResource,
    });
    results.timeToAvailable.push({ n, operatorMs: sample.timesMs, floorMs: floorSample.timesMs });
    for (const p of results.peers) {
      const c = p.convergence.find((x) => x.n === n);
      if (c) {
        c.floorRatio = ratio(c.seconds, floorSample.seconds);
        c.saturatedFloorRatio = ratio(c.seconds, saturated.seconds);
      }
    }

    if (n === maxN) {
      log(`idle: ${opts.idleSeconds} s with N=${n} converged, then ${opts.backgroundSeconds} s without the operator`);
      results.idle = await measureIdle(operator, launched, n, opts);
      log(`idle: ${results.idle.writes} writes, ~${results.idle.requestsPerMinute} requests/min by the operator (${results.idle.requestsPerMinuteAllClients} all clients, ${results.idle.requestsPerMinuteWithoutOperator} without it)`);
      log(`churn: ${opts.churnSeconds} s, ${Math.ceil(n / 10)} changes/s`);
      results.churn = await measureChurn(kc, operator, opNs, n, opts);
      log(`churn: ${results.churn.reflected}/${results.churn.changes} reflected, p50 ${results.churn.p50Ms} ms, p99 ${results.churn.p99Ms} ms; restart wrote ${results.churn.restartWrites}`);
    } else {
      await launched.stop();
      await clearNamespace(opNs, n);
    }
  }

  // --operator-cmd, also under its pre-peers key.
  for (const p of results.peers.filter((x) => x.name === opts.operatorName && x.command === opts.operatorCmd)) {
    results.others.push({
      command: p.command,
      convergence: p.convergence.map((c) => ({
        n: c.n,
        seconds: c.seconds,
        floorSeconds: results.convergence.find((x) => x.n === c.n)?.floorSeconds ?? 0,
        ratio: c.floorRatio,
        p50Ms: c.p50Ms,
        p90Ms: c.p90Ms,
        p99Ms: c.p99Ms,
        complete: c.complete,
        writesPerObject: c.writesPerObject,
      })),
      idle: p.idle,
      footprint: p.footprint,
    });
  }

  // The leader-election suite's fault harness (test/support/failover.ts),
  // with the benchmark's private build of the operator.
  for (const kind of ['sigkill', 'sigterm', 'partition'] as FaultKind[]) {
    log(`failover: ${kind} × ${opts.failoverRuns}`);
    try {
      const report = await measureFailover(kind, opts.failoverRuns, { main: getOperatorMain() });
      const samples = report.runs.map((r) => Math.round(r.failoverMs));
      results.failover[kind] = { ...spread(samples), runs: samples.length, samplesMs: samples, source: 'test/support/failover.ts' };
      log(`failover ${kind}: ${samples.join(', ')} ms`);
    } catch (err) {
      log(`failover ${kind} failed: ${firstLine(err)}`);
      notes.push(`failover ${kind}: ${firstLine(err)}`);
      results.failover[kind] = { ...spread([]), runs: 0, samplesMs: [], source: 'test/support/failover.ts', error: firstLine(err) };
    }
  }
  results.durationSeconds = Math.round((Date.now() - started) / 1000);
  return results;
}
