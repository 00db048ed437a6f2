// The operator's footprint at N = 0 for each of several entry points (the
// compiled dist/main.js, the bundle make bundle-js builds), measured as the
// benchmark measures its own N = 0 row (bench/run.ts): a fresh process started
// by the benchmark's launcher (bench/operator.ts, with the image's V8 flags)
// on an empty namespace of the local cluster, idle 10 s, then the VmRSS of
// its process tree. Runs alternate between the entry points, so load on a
// shared machine falls on each alike; the median of the runs is reported.
//
//   node .build/bench/idle-footprint.js [--main dist/main.js --main dist/bundle/main.js] [--runs 5]
//                                       [--idle-seconds 10] [--out bench/results]
//
// Needs a running local cluster (make cluster-up; CLUSTER_STATE_DIR chooses
// it) and the entry points built (make bundle-js builds both).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CRD_RELATIVE_PATH } from '../src/api/validator.js';
import { applyCrd, clusterRunning, footprintOf, loadKubeConfig, machine, repoRoot } from './env.js';
import { createNamespace, deleteNamespace } from './namespaces.js';
import { launchOperator, setOperatorMain } from './operator.js';
import { sleep } from './wait.js';
import { kubeconfigPath } from '../test/support/cluster.js';
import { median, round } from '../test/support/stats.js';

const NAMESPACE_DELETE_TIMEOUT_MS = 60_000;
const log = (msg: string): void => void process.stderr.write(`idle-footprint: ${msg}\n`);

interface Options {
  mains: string[];
  runs: number;
  idleSeconds: number;
  out: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      main: { type: 'string', multiple: true, default: ['dist/main.js', 'dist/bundle/main.js'] },
      runs: { type: 'string', default: '5' },
      'idle-seconds': { type: 'string', default: '10' },
      out: { type: 'string', default: 'bench/results' },
    },
  });
  const whole = (name: string, value: string, min: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${value}: want a whole number of at least ${min}`);
    return n;
  };
  const mains = values.main.map((m) => path.resolve(repoRoot, m));
  for (const m of mains) if (!existsSync(m)) throw new Error(`${path.relative(repoRoot, m)} is missing: run make bundle-js (it builds dist/ first)`);
  return { mains, runs: whole('runs', values.runs, 1), idleSeconds: whole('idle-seconds', values['idle-seconds'], 1), out: values.out };
}

/** One fresh operator from `main` on a new empty namespace: its tree's RSS and CPU seconds after idling. */
async function sampleOnce(main: string, run: number, idleSeconds: number): Promise<{ rssMB: number; cpuSeconds: number }> {
  const kc = loadKubeConfig();
  const namespace = await createNamespace(kc, `idle-${path.basename(path.dirname(main))}-${run}-${Date.now() % 100_000}`);
  setOperatorMain(main);
  const op = await launchOperator({ kubeconfig: kubeconfigPath, args: ['--max-concurrent-reconciles=4'], env: { WATCH_NAMESPACE: namespace } });
  try {
    await sleep(idleSeconds * 1000);
    return footprintOf(op.child.pid!);
  } finally {
    await op.stop();
    await deleteNamespace(kc, namespace, NAMESPACE_DELETE_TIMEOUT_MS, log);
  }
}

async function main(): Promise<void> {
  const opts = options();
  if (!clusterRunning()) throw new Error('no local cluster answers: make cluster-up (CLUSTER_STATE_DIR chooses which)');
  applyCrd(path.join(repoRoot, CRD_RELATIVE_PATH));
  const samples = new Map(opts.mains.map((m) => [m, [] as Array<{ rssMB: number; cpuSeconds: number }>]));
  for (let run = 0; run < opts.runs; run++) {
    for (const m of opts.mains) {
      const s = await sampleOnce(m, run, opts.idleSeconds);
      log(`${path.relative(repoRoot, m)} run ${run + 1}/${opts.runs}: ${s.rssMB} MB, ${s.cpuSeconds} CPU s`);
      samples.get(m)!.push(s);
    }
  }
  const rows = opts.mains.map((m) => {
    const rss = samples.get(m)!.map((s) => s.rssMB);
    return {
      main: path.relative(repoRoot, m),
      rssMB: round(median(rss), 1),
      rssRangeMB: [Math.min(...rss), Math.max(...rss)],
      cpuSeconds: round(median(samples.get(m)!.map((s) => s.cpuSeconds)), 2),
    };
  });
  const result = {
    when: new Date().toISOString(),
    node: process.version,
    machine: machine(),
    runs: opts.runs,
    idleSeconds: opts.idleSeconds,
    method: 'as bench/run.ts measures N = 0: a fresh operator (bench/operator.ts, the image V8 flags) on an empty namespace, idle, then VmRSS of its process tree (MiB); median of the runs, entry points alternating',
    rows,
  };
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(path.join(opts.out, 'idle-footprint.json'), JSON.stringify(result, null, 2) + '\n');
  for (const r of rows) log(`${r.main}: ${r.rssMB} MB (${r.rssRangeMB.join('-')}), ${r.cpuSeconds} CPU s`);
}

main().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
