// What the harness measures of one contender on one namespace: convergence
// (creates N Memcacheds and watches each become Available), its own
// /metrics, idle cost with it running and without, and churn (spec changes
// at a steady rate and the lag until status reflects each).
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../src/api/types.js';
import { getMetrics } from '../test/support/operator.js';
import { percentile, round } from '../test/support/stats.js';
import type { Contender, Launched } from './contenders.js';
import { apiserverRequests, auditMark, auditWrites, diffCounts, tally, type RequestCounts } from './env.js';
import { sleep, waitUntil, withDeadline, WaitTimeoutError } from './wait.js';
import { AvailabilityWatch, ReflectionTracker } from './watchers.js';

/** How long the harness waits for a watch to open, for one create, for the churn's last patches, and for their changes to show in status. */
const WATCH_OPEN_TIMEOUT_MS = 30_000;
const CREATE_TIMEOUT_MS = 30_000;
const CHURN_DRAIN_TIMEOUT_MS = 60_000;

/** The run's options a measurement reads. */
export interface MeasureOptions {
  smoke: boolean;
  idleSeconds: number;
  backgroundSeconds: number;
  churnSeconds: number;
  log: (msg: string) => void;
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

export function objectName(i: number): string {
  return `mc-${String(i).padStart(5, '0')}`;
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
          const create = custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec } });
          await withDeadline(`Memcached ${namespace}/${name} to be created`, CREATE_TIMEOUT_MS, create);
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

export async function measureConvergence(
  kc: k8s.KubeConfig,
  contender: Contender,
  namespace: string,
  n: number,
  opts: MeasureOptions,
): Promise<ConvergenceSample> {
  const watch = new AvailabilityWatch(kc, namespace, contender.mode);
  await withDeadline(`the availability watch on ${namespace} to open`, WATCH_OPEN_TIMEOUT_MS, watch.start());
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

export async function scrapeOperator(url: string | undefined): Promise<OperatorStats | null> {
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

export interface IdleResult {
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
export async function measureIdle(contender: Contender, running: Launched, n: number, opts: MeasureOptions): Promise<IdleResult> {
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

export interface ChurnResult {
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

export async function measureChurn(kc: k8s.KubeConfig, contender: Contender, namespace: string, n: number, opts: MeasureOptions): Promise<ChurnResult> {
  // A fresh process on converged objects: first count what a restart writes (target 0).
  const mark = auditMark();
  const start = Date.now();
  const running = await contender.launch(namespace);
  await sleep(opts.smoke ? 3_000 : 10_000);
  const restartWrites = auditWrites(mark, { user: contender.user, fromMs: start }).length;

  const tracker = new ReflectionTracker(kc, namespace);
  await withDeadline(`the churn watch on ${namespace} to open`, WATCH_OPEN_TIMEOUT_MS, tracker.start());
  await sleep(500);
  const perSecond = Math.max(1, Math.ceil(n / 10));
  await sendChurn(kc, namespace, n, perSecond, tracker, opts);
  await waitForReflection(tracker, namespace, opts.log);
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

/** perSecond spec.size changes each second for opts.churnSeconds, round-robin over the N objects; each sent change goes to the tracker. */
async function sendChurn(kc: k8s.KubeConfig, namespace: string, n: number, perSecond: number, tracker: ReflectionTracker, opts: MeasureOptions): Promise<void> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
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
  await withDeadline(`the churn's last ${inflight.size} patches to return`, CHURN_DRAIN_TIMEOUT_MS, Promise.all(inflight));
}

/** Until every sent change shows in status.observedGeneration; at the deadline the rest count as not reflected. */
async function waitForReflection(tracker: ReflectionTracker, namespace: string, log: (msg: string) => void): Promise<void> {
  const what = `status.observedGeneration in ${namespace} to reflect every churn change`;
  await waitUntil(what, () => (tracker.outstanding() === 0 ? true : undefined), {
    timeoutMs: CHURN_DRAIN_TIMEOUT_MS,
    intervalMs: 200,
    log,
    progress: () => `${tracker.outstanding()} changes outstanding`,
  }).catch((err: unknown) => {
    if (!(err instanceof WaitTimeoutError)) throw err;
    log(`churn: ${err.message}; they count as not reflected`);
  });
}
