// The benchmark run: convergence against a floor measured in the same run,
// idle cost, API cost, footprint, churn and failover. Benchmarks assert
// nothing about time; they record. runBench() is the list of phases; each
// phase below measures one contender (or the floor sweep) and records it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { CRD_RELATIVE_PATH } from '../src/api/validator.js';
import { measureFailover } from '../test/support/failover.js';
import { ratio, round, spread } from '../test/support/stats.js';
import {
  buildGoPeer,
  floorContender,
  goPeerSpec,
  operatorContender,
  peerContender,
  FLOOR_USER,
  GO_PEER_NAME,
  GO_PEER_USER,
  OPERATOR_USER,
  OTHER_USER,
  type Contender,
  type Launched,
  type PeerSpec,
} from './contenders.js';
import { applyCrd, extendServiceCidr, footprintOf, loadKubeConfig, machine, mintUser, raiseNodeCapacity, repoRoot, startCluster, type Footprint } from './env.js';
import {
  measureChurn,
  measureConvergence,
  measureIdle,
  scrapeOperator,
  type ChurnResult,
  type ConvergenceSample,
  type IdleResult,
  type MeasureOptions,
} from './measure.js';
import { createNamespace, deleteNamespace } from './namespaces.js';
import { getOperatorMain } from './operator.js';
import type { FailoverResult, FaultKind, PeerResult, Results } from './results.js';
import { sleep } from './wait.js';

export type { PeerResult, Results } from './results.js';

export interface BenchOptions extends MeasureOptions {
  sizes: number[];
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
  failoverRuns: number;
  /** Write a V8 CPU profile of the operator at the largest size into this directory. */
  cpuProfDir?: string;
  /** Extra flags for our operator. */
  operatorArgs: string[];
}

/** What every phase of one run shares. */
interface BenchRun {
  opts: BenchOptions;
  log: (msg: string) => void;
  kc: k8s.KubeConfig;
  results: Results;
  /** The largest N: idle and churn are measured there. */
  maxN: number;
  operator: Contender;
  floorKubeconfig: string;
  goPeerBinary?: string;
  /** Namespaces of this run are bench-<runId>-<who>-<n>. */
  namespace(who: string, n: number): string;
}

/** A peer measured at every N, and where its results go. */
interface PeerRun {
  contender: Contender;
  entry: PeerResult;
}

export async function runBench(opts: BenchOptions): Promise<Results> {
  const started = Date.now();
  const run = setUpRun(opts);
  if (opts.operatorCmd) await otherOperatorAtEveryN(run, opts.operatorCmd);
  const goPeer = await goPeerAtZero(run);
  await operatorAtZero(run);
  for (const n of opts.sizes) {
    if (goPeer) await peerAt(run, goPeer, n);
    const floor = await floorAt(run, n);
    const saturated = await floorSweepAt(run, n);
    await operatorAt(run, n, floor, saturated);
  }
  run.results.others = othersFromPeers(run.results, opts);
  await failoverPhase(run);
  run.results.durationSeconds = Math.round((Date.now() - started) / 1000);
  return run.results;
}

// ---------------------------------------------------------------- set-up --

/** The Go peer built, the cluster started and sized for every contender's objects, the CRD and the clients' identities. */
function setUpRun(opts: BenchOptions): BenchRun {
  const log = opts.log;
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
  const runId = Date.now().toString(36);
  return {
    opts,
    log,
    kc: loadKubeConfig(),
    results: emptyResults(opts, runId, goPeer?.seconds ?? null),
    maxN,
    operator: operatorContender(operatorKubeconfig, opts),
    floorKubeconfig,
    goPeerBinary: goPeer?.binary,
    namespace: (who, n) => `bench-${runId}-${who}-${n}`,
  };
}

function emptyResults(opts: BenchOptions, runId: string, goPeerBuildSeconds: number | null): Results {
  const command = `node ${path.relative(repoRoot, getOperatorMain())} --max-concurrent-reconciles=${opts.concurrency} ${opts.operatorArgs.join(' ')}`.trim();
  return {
    schema: 1,
    runId,
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: machine(),
    smoke: opts.smoke,
    profile: 'ha',
    operator: { command, maxConcurrentReconciles: opts.concurrency },
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
    goPeerBuildSeconds,
    notes: [],
    durationSeconds: 0,
  };
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

// ----------------------------------------------------------- namespaces --

/** Footprint of a contender that has just converged N objects (N=0: started on an empty namespace). */
function footprintAfter(l: Launched, n: number): { n: number } & Footprint {
  return { n, ...footprintOf(l.pid) };
}

/**
 * Deletes a contender's namespace once it is measured and stopped, so that
 * every contender starts on a cluster holding the same objects. Kept, the Go
 * peer's 1000 Memcacheds and 3000 pods (it runs first) and the floor's
 * loaded every later contender: the operator converged 1000 next to 6000
 * extra pods, the peer next to none. One object loads nothing measurable,
 * so the N=1 namespaces stay: the smoke test reads the peer's children and
 * ours from them after the run. Finalizers the stopped contender left on
 * its Memcacheds are taken off first (see namespaces.ts).
 */
async function clearNamespace(run: BenchRun, name: string, n: number): Promise<void> {
  if (n === 1) return;
  if (!(await deleteNamespace(run.kc, name, NAMESPACE_DELETE_TIMEOUT_MS, run.log))) run.results.notes.push(`namespace ${name} was still terminating when the run went on`);
}

const NAMESPACE_DELETE_TIMEOUT_MS = 10 * 60_000;

// ---------------------------------------------------------------- peers --

function newPeer(spec: PeerSpec): PeerResult {
  return { name: spec.name, command: spec.command, mode: spec.mode, convergence: [], footprint: [], idle: null, churn: null, stats: [], timesMs: [] };
}

function peerNamespace(run: BenchRun, peer: PeerRun, n: number): string {
  return run.namespace(peer.entry.name === GO_PEER_NAME ? 'peer' : 'other', n);
}

/** Another operator first: it may watch every namespace, so it runs while only its own objects exist. */
async function otherOperatorAtEveryN(run: BenchRun, command: string): Promise<void> {
  const spec: PeerSpec = { name: run.opts.operatorName, command, user: OTHER_USER, mode: 'deployment' };
  const peer: PeerRun = { contender: peerContender(spec, mintUser(OTHER_USER), run.log), entry: newPeer(spec) };
  run.results.peers.push(peer.entry);
  await peerAtZero(run, peer);
  for (const n of run.opts.sizes) await peerAt(run, peer, n);
}

/** The Go peer watches only its namespace: it runs at each N just before the floor. */
async function goPeerAtZero(run: BenchRun): Promise<PeerRun | undefined> {
  if (!run.goPeerBinary) return undefined;
  const spec = goPeerSpec(run.goPeerBinary, run.opts.peerConcurrency);
  const peer: PeerRun = { contender: peerContender(spec, mintUser(GO_PEER_USER), run.log), entry: newPeer(spec) };
  run.results.peers.push(peer.entry);
  await peerAtZero(run, peer);
  return peer;
}

/** A peer's N=0 footprint: started on an empty namespace, idle a few seconds. */
async function peerAtZero(run: BenchRun, peer: PeerRun): Promise<void> {
  const launched = await peer.contender.launch(await createNamespace(run.kc, peerNamespace(run, peer, 0)));
  await sleep(run.opts.smoke ? 2_000 : 10_000);
  peer.entry.footprint.push(footprintAfter(launched, 0));
  await launched.stop();
}

/** A peer at one N: convergence, footprint, its metrics; at the largest N idle and (if it reports observedGeneration) churn. */
async function peerAt(run: BenchRun, peer: PeerRun, n: number): Promise<void> {
  const { opts, log } = run;
  const { contender, entry } = peer;
  const namespace = await createNamespace(run.kc, peerNamespace(run, peer, n));
  const launched = await contender.launch(namespace);
  log(`${entry.name}: converging N=${n}`);
  const sample = await measureConvergence(run.kc, contender, namespace, n, opts);
  log(`${entry.name}: N=${n} in ${sample.seconds} s (p50 ${sample.p50Ms} ms, p99 ${sample.p99Ms} ms, ${sample.writes} writes)`);
  if (!sample.complete) run.results.notes.push(`${entry.name} N=${n}: only ${sample.available}/${n} Available before the deadline`);
  const stats = await scrapeOperator(launched.metricsUrl);
  if (stats) entry.stats.push({ n, ...stats });
  await sleep(opts.smoke ? 1_000 : 5_000);
  entry.footprint.push(footprintAfter(launched, n));
  recordPeerConvergence(entry, n, sample);
  if (n !== run.maxN) {
    await launched.stop();
    return clearNamespace(run, namespace, n);
  }
  await peerIdleAndChurn(run, peer, launched, namespace, n);
  await clearNamespace(run, namespace, n);
}

function recordPeerConvergence(entry: PeerResult, n: number, sample: ConvergenceSample): void {
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
}

/** At the largest N: idle (which stops the peer), then churn on a restarted peer when it reports observedGeneration. */
async function peerIdleAndChurn(run: BenchRun, peer: PeerRun, launched: Launched, namespace: string, n: number): Promise<void> {
  const { contender, entry } = peer;
  entry.idle = await measureIdle(contender, launched, n, run.opts);
  run.log(`${entry.name} idle: ${entry.idle.writes} writes, ~${entry.idle.requestsPerMinute} requests/min`);
  if (contender.mode !== 'memcached') {
    run.results.notes.push(`${entry.name}: no churn (it does not report status.observedGeneration, which churn lag is read from)`);
    return;
  }
  entry.churn = await measureChurn(run.kc, contender, namespace, n, run.opts);
  run.log(`${entry.name} churn: ${entry.churn.reflected}/${entry.churn.changes} reflected, p50 ${entry.churn.p50Ms} ms, p99 ${entry.churn.p99Ms} ms; restart wrote ${entry.churn.restartWrites}`);
}

/** --operator-cmd, also under its pre-peers key. */
function othersFromPeers(results: Results, opts: BenchOptions): Results['others'] {
  return results.peers
    .filter((x) => x.name === opts.operatorName && x.command === opts.operatorCmd)
    .map((p) => ({
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
    }));
}

// ---------------------------------------------------------------- floor --

/** The floor at the operator's concurrency, on its own fresh namespace. */
async function floorAt(run: BenchRun, n: number): Promise<ConvergenceSample> {
  const floor = floorContender(run.floorKubeconfig, run.opts.concurrency, run.log);
  const namespace = await createNamespace(run.kc, run.namespace('floor', n));
  const launched = await floor.launch(namespace);
  run.log(`floor: converging N=${n}`);
  const sample = await measureConvergence(run.kc, floor, namespace, n, run.opts);
  await launched.stop();
  await clearNamespace(run, namespace, n);
  run.log(`floor: N=${n} in ${sample.seconds} s (p50 ${sample.p50Ms} ms, p99 ${sample.p99Ms} ms, ${sample.writes} writes)`);
  if (!sample.complete) run.results.notes.push(`floor N=${n}: only ${sample.available}/${n} Available before the deadline`);
  run.results.floorSweep.push({ concurrency: run.opts.concurrency, n, seconds: sample.seconds, writesPerObject: round(sample.writes / n, 2)!, complete: sample.complete });
  return sample;
}

type FloorSweepEntry = Results['floorSweep'][number];

/**
 * The saturating floor: the same writes at other concurrencies, each in a
 * namespace deleted (and waited for) afterwards. Returns the fastest floor
 * at this N, the base floor's included.
 */
async function floorSweepAt(run: BenchRun, n: number): Promise<FloorSweepEntry> {
  const { opts, results } = run;
  for (const c of opts.floorSweep.filter((x) => x !== opts.concurrency)) {
    const namespace = await createNamespace(run.kc, run.namespace(`floor-c${c}`, n));
    const floor = floorContender(run.floorKubeconfig, c, run.log);
    const launched = await floor.launch(namespace);
    const sample = await measureConvergence(run.kc, floor, namespace, n, opts);
    await launched.stop();
    run.log(`floor ×${c}: N=${n} in ${sample.seconds} s (${sample.writes} writes)`);
    if (!sample.complete) results.notes.push(`floor ×${c} N=${n}: only ${sample.available}/${n} Available before the deadline`);
    results.floorSweep.push({ concurrency: c, n, seconds: sample.seconds, writesPerObject: round(sample.writes / n, 2)!, complete: sample.complete });
    await clearNamespace(run, namespace, n);
  }
  const atN = results.floorSweep.filter((f) => f.n === n);
  return atN.filter((f) => f.complete).sort((a, b) => a.seconds - b.seconds)[0] ?? atN[0];
}

// ------------------------------------------------------------- operator --

/** Our operator's N=0 footprint: started on an empty namespace, idle a few seconds. */
async function operatorAtZero(run: BenchRun): Promise<void> {
  const namespace = await createNamespace(run.kc, run.namespace('op', 0));
  const launched = await run.operator.launch(namespace);
  await sleep(run.opts.smoke ? 2_000 : 10_000);
  run.results.footprint.push(footprintAfter(launched, 0));
  await launched.stop();
}

/** Our operator at one N, against the floor measured just before; at the largest N idle and churn too. */
async function operatorAt(run: BenchRun, n: number, floor: ConvergenceSample, saturated: FloorSweepEntry): Promise<void> {
  const { opts, log, results } = run;
  const namespace = await createNamespace(run.kc, run.namespace('op', n));
  const profiling = opts.cpuProfDir !== undefined && n === run.maxN;
  if (profiling) mkdirSync(opts.cpuProfDir!, { recursive: true });
  const launched = await run.operator.launch(namespace, profiling ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${opts.cpuProfDir}` } : {});
  await sleep(opts.smoke ? 500 : 2_000);
  log(`operator: converging N=${n}`);
  const sample = await measureConvergence(run.kc, run.operator, namespace, n, opts);
  log(`operator: N=${n} in ${sample.seconds} s (p50 ${sample.p50Ms} ms, p99 ${sample.p99Ms} ms, ${sample.writes} writes); ratio ${ratio(sample.seconds, floor.seconds)}, to the saturating floor ${ratio(sample.seconds, saturated.seconds)}`);
  if (!sample.complete) results.notes.push(`operator N=${n}: only ${sample.available}/${n} Available before the deadline`);
  const stats = await scrapeOperator(launched.metricsUrl);
  if (stats) results.operatorStats.push({ n, reconcilesPerObject: round(stats.reconciles / n, 2)!, queueAddsPerObject: round(stats.queueAdds / n, 2)!, ...stats });
  await sleep(opts.smoke ? 1_000 : 5_000);
  results.footprint.push(footprintAfter(launched, n));
  recordOperatorConvergence(results, n, sample, floor, saturated);
  setPeerFloorRatios(results, n, floor, saturated);
  if (n === run.maxN) return operatorIdleAndChurn(run, launched, namespace, n);
  await launched.stop();
  await clearNamespace(run, namespace, n);
}

function recordOperatorConvergence(results: Results, n: number, sample: ConvergenceSample, floor: ConvergenceSample, saturated: FloorSweepEntry): void {
  results.convergence.push({
    n,
    seconds: sample.seconds,
    floorSeconds: floor.seconds,
    ratio: ratio(sample.seconds, floor.seconds),
    saturatedFloorSeconds: saturated.seconds,
    saturatedFloorConcurrency: saturated.concurrency,
    saturatedRatio: ratio(sample.seconds, saturated.seconds),
    p50Ms: sample.p50Ms,
    p90Ms: sample.p90Ms,
    p99Ms: sample.p99Ms,
    maxMs: sample.maxMs,
    throughput: sample.throughput,
    floorThroughput: floor.throughput,
    floorP50Ms: floor.p50Ms,
    floorP90Ms: floor.p90Ms,
    floorP99Ms: floor.p99Ms,
    complete: sample.complete && floor.complete,
  });
  results.apiCost.push({
    n,
    writesPerObject: round(sample.writes / n, 2)!,
    floorWritesPerObject: round(floor.writes / n, 2)!,
    ratio: ratio(sample.writes, floor.writes),
    allClientRequestsPerObject: round(sample.allClientRequests / n, 1)!,
    floorAllClientRequestsPerObject: round(floor.allClientRequests / n, 1)!,
    writesByResource: sample.writesByResource,
    floorWritesByResource: floor.writesByResource,
  });
  results.timeToAvailable.push({ n, operatorMs: sample.timesMs, floorMs: floor.timesMs });
}

/** Each peer's time at N as a ratio to this N's floor and saturating floor. */
function setPeerFloorRatios(results: Results, n: number, floor: ConvergenceSample, saturated: FloorSweepEntry): void {
  for (const p of results.peers) {
    const c = p.convergence.find((x) => x.n === n);
    if (c) {
      c.floorRatio = ratio(c.seconds, floor.seconds);
      c.saturatedFloorRatio = ratio(c.seconds, saturated.seconds);
    }
  }
}

/** At the largest N: idle (which stops the operator), then churn on a restarted operator. Its namespace stays. */
async function operatorIdleAndChurn(run: BenchRun, launched: Launched, namespace: string, n: number): Promise<void> {
  const { opts, log, results } = run;
  log(`idle: ${opts.idleSeconds} s with N=${n} converged, then ${opts.backgroundSeconds} s without the operator`);
  results.idle = await measureIdle(run.operator, launched, n, opts);
  log(`idle: ${results.idle.writes} writes, ~${results.idle.requestsPerMinute} requests/min by the operator (${results.idle.requestsPerMinuteAllClients} all clients, ${results.idle.requestsPerMinuteWithoutOperator} without it)`);
  log(`churn: ${opts.churnSeconds} s, ${Math.ceil(n / 10)} changes/s`);
  results.churn = await measureChurn(run.kc, run.operator, namespace, n, opts);
  log(`churn: ${results.churn.reflected}/${results.churn.changes} reflected, p50 ${results.churn.p50Ms} ms, p99 ${results.churn.p99Ms} ms; restart wrote ${results.churn.restartWrites}`);
}

// ------------------------------------------------------------- failover --

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 300);
}

/** The leader-election suite's fault harness (test/support/failover.ts), with the benchmark's private build of the operator. */
async function failoverPhase(run: BenchRun): Promise<void> {
  const { opts, log, results } = run;
  if (opts.failoverRuns === 0) {
    results.notes.push('failover: not measured (--failover-runs 0)');
    return;
  }
  for (const kind of ['sigkill', 'sigterm', 'partition'] as FaultKind[]) {
    log(`failover: ${kind} × ${opts.failoverRuns}`);
    try {
      const report = await measureFailover(kind, opts.failoverRuns, { main: getOperatorMain() });
      const samples = report.runs.map((r) => Math.round(r.failoverMs));
      results.failover[kind] = { ...spread(samples), runs: samples.length, samplesMs: samples, source: 'test/support/failover.ts' };
      log(`failover ${kind}: ${samples.join(', ')} ms`);
    } catch (err) {
      log(`failover ${kind} failed: ${firstLine(err)}`);
      results.notes.push(`failover ${kind}: ${firstLine(err)}`);
      results.failover[kind] = { ...spread([]), runs: 0, samplesMs: [], source: 'test/support/failover.ts', error: firstLine(err) };
    }
  }
}

// ------------------------------------------------------------ churn only --

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
