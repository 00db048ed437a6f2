// What an informer's initial list costs in memory: N ConfigMaps of about
// KB kilobytes each, synced by a fresh process in each of these ways:
//   streamed  WatchList: every object as a watch event (the default);
//   paged     pages of 500, plain JSON, transformed per page (the fallback);
//   unpaged   as the runtime listed before: one request through the client
//             library's generic list, which deserialises every item into its
//             model classes, transformed afterwards;
//   empty     the same process and informer over no objects (the baseline).
// Each runs in its own process, several times; it reports RSS once synced,
// the peak RSS from start to synced (VmHWM), the time to synced, and whether
// the cached items came out as the library's model classes.
//
//   node .build/bench/list-footprint.js [--n 5000] [--kb 4] [--runs 3] [--out bench/results]
//
// Needs a running local cluster (make cluster-up; CLUSTER_STATE_DIR chooses it).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { createLogger, ResilientInformer, stripManagedFields, type ListFunc } from '@memcached-operator/runtime';
import { clusterRunning, loadKubeConfig, machine } from './env.js';
import { createNamespace, deleteNamespace } from './namespaces.js';
import { round } from '../test/support/stats.js';

const VARIANTS = ['empty', 'streamed', 'paged', 'unpaged'] as const;
type Variant = (typeof VARIANTS)[number];

interface ChildReport {
  variant: Variant;
  objects: number;
  syncedMs: number;
  rssMB: number;
  peakRssMB: number;
  heapUsedMB: number;
  modelClasses: boolean;
  datesParsed: boolean;
}

function memoryMB(field: 'VmRSS' | 'VmHWM'): number {
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  return round(kb / 1024, 1)!;
}

/** The list as the runtime made it before paging: one request through the generic object API. */
function unpagedListFunc(kc: k8s.KubeConfig): ListFunc<k8s.V1ConfigMap> {
  const client = k8s.KubernetesObjectApi.makeApiClient(kc);
  return async (namespace) => {
    const list = await client.list<k8s.V1ConfigMap>('v1', 'ConfigMap', namespace, undefined, undefined, undefined, undefined, 'app=list-footprint');
    for (const item of list.items ?? []) {
      item.apiVersion ??= 'v1';
      item.kind ??= 'ConfigMap';
    }
    return list;
  };
}

/** In the child process: one informer, synced once, then its numbers. */
async function child(variant: Variant, namespace: string): Promise<void> {
  const kc = loadKubeConfig();
  const started = Date.now();
  const informer = new ResilientInformer<k8s.V1ConfigMap>({
    kubeConfig: kc,
    resource: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
    namespaces: [namespace],
    // Not the namespace's own kube-root-ca.crt.
    labelSelector: variant === 'empty' ? 'app=nothing' : 'app=list-footprint',
    logger: createLogger('error'),
    resyncPeriodMs: 0,
    transform: stripManagedFields,
    initialList: variant === 'streamed' ? 'stream' : 'pages',
    ...(variant === 'unpaged' ? { listFn: unpagedListFunc(kc) } : {}),
  });
  informer.start();
  await informer.synced;
  const syncedMs = Date.now() - started;
  const items = informer.list(namespace);
  const report: ChildReport = {
    variant,
    objects: items.length,
    syncedMs,
    rssMB: memoryMB('VmRSS'),
    peakRssMB: memoryMB('VmHWM'),
    heapUsedMB: round(process.memoryUsage().heapUsed / 1024 / 1024, 1)!,
    modelClasses: items.length > 0 && Object.getPrototypeOf(items[0]) !== Object.prototype,
    datesParsed: items.length > 0 && (items[0].metadata?.creationTimestamp as unknown) instanceof Date,
  };
  await informer.stop();
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(0);
}

async function createConfigMaps(kc: k8s.KubeConfig, namespace: string, n: number, kb: number): Promise<void> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  // KB kilobytes of data each, and managedFields as any client's create leaves them.
  const data = { payload: 'x'.repeat(kb * 1024), labels: 'app=memcached,tier=cache' };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const name = `cm-${String(next++).padStart(5, '0')}`;
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name, labels: { app: 'list-footprint' } }, data } });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { n: { type: 'string', default: '5000' }, kb: { type: 'string', default: '4' }, runs: { type: 'string', default: '3' }, out: { type: 'string', default: 'bench/results' }, child: { type: 'string' }, namespace: { type: 'string' } },
  });
  if (values.child) return child(values.child as Variant, values.namespace!);
  const n = Number(values.n);
  const runs = Number(values.runs);
  const kb = Number(values.kb);
  if (![n, runs, kb].every((x) => Number.isInteger(x) && x >= 1)) throw new Error(`--n, --kb and --runs take positive integers, got ${values.n}, ${values.kb} and ${values.runs}`);
  if (!clusterRunning()) throw new Error('no local cluster answers: run make cluster-up first (CLUSTER_STATE_DIR chooses which)');
  const log = (msg: string): void => void process.stderr.write(`[list-footprint] ${msg}\n`);
  const kc = loadKubeConfig();
  const namespace = await createNamespace(kc, `list-footprint-${Date.now().toString(36)}`);
  try {
    log(`creating ${n} ConfigMaps of ${kb} KB in ${namespace}`);
    await createConfigMaps(kc, namespace, n, kb);
    const reports: ChildReport[] = [];
    for (let r = 0; r < runs; r++) {
      for (const variant of VARIANTS) {
        const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', variant, '--namespace', namespace], { encoding: 'utf8', timeout: 300_000 });
        const report = JSON.parse(out.trim().split('\n').pop()!) as ChildReport;
        if (report.objects !== (variant === 'empty' ? 0 : n)) throw new Error(`${variant} cached ${report.objects} of ${n} objects`);
        log(`${variant} run ${r + 1}: ${JSON.stringify(report)}`);
        reports.push(report);
      }
    }
    const summary = VARIANTS.map((variant) => {
      const mine = reports.filter((x) => x.variant === variant);
      return {
        variant,
        syncedMs: median(mine.map((x) => x.syncedMs)),
        rssMB: median(mine.map((x) => x.rssMB)),
        peakRssMB: median(mine.map((x) => x.peakRssMB)),
        heapUsedMB: median(mine.map((x) => x.heapUsedMB)),
        modelClasses: mine[0].modelClasses,
        datesParsed: mine[0].datesParsed,
      };
    });
    const result = { generatedAt: new Date().toISOString(), machine: machine(), node: process.version, objects: n, kbEach: kb, runs, summary, reports };
    mkdirSync(values.out, { recursive: true });
    const file = path.join(values.out, 'list-footprint.json');
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(summary, null, 2));
    log(`wrote ${file}`);
  } finally {
    await deleteNamespace(kc, namespace, 600_000, log);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`list-footprint: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
