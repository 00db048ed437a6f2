// make bench / make bench-smoke entry point.
//
//   node .build/bench/cli.js [--sizes 1,100,1000] [--smoke] [--operator-cmd '<command>']
//                            [--out bench/results] [--fresh] [--cpu-prof DIR]
//                            [--concurrency 4] [--idle-seconds 60] [--churn-seconds 60]
//                            [--failover-runs 5] [--operator-args '--flag=value ...']
//                            [--operator-main dist/main.js] [--operator-name NAME]
//                            [--floor-sweep 4,8,16,32,64] [--peer-concurrency 4] [--no-go-peer] [--keep-cluster]
//       node .build/bench/cli.js --render bench/results/latest.json   (re-render its .md and .svg)
//
// The cluster is the one in CLUSTER_STATE_DIR (default .cluster-bench, the
// benchmark's own); --fresh tears it down and starts it anew. A cluster the
// run started (about 1 GB) is stopped when the run ends, unless
// --keep-cluster; one that was running before is left as it was. The last
// line of output says which, and how to stop a cluster left running.
import path from 'node:path';
import { parseArgs } from 'node:util';

const FLAGS = {
  sizes: { type: 'string' },
  smoke: { type: 'boolean' },
  fresh: { type: 'boolean' },
  help: { type: 'boolean' },
  'operator-cmd': { type: 'string' },
  'operator-args': { type: 'string' },
  'operator-main': { type: 'string' },
  'operator-name': { type: 'string' },
  'floor-sweep': { type: 'string' },
  'peer-concurrency': { type: 'string' },
  'no-go-peer': { type: 'boolean' },
  'keep-cluster': { type: 'boolean' },
  out: { type: 'string' },
  'cpu-prof': { type: 'string' },
  concurrency: { type: 'string' },
  'idle-seconds': { type: 'string' },
  'background-seconds': { type: 'string' },
  'churn-seconds': { type: 'string' },
  'failover-runs': { type: 'string' },
  render: { type: 'string' },
  only: { type: 'string' },
  namespace: { type: 'string' },
  n: { type: 'string' },
} as const;

type Parsed = Partial<Record<keyof typeof FLAGS, string | boolean>>;

class UsageError extends Error {}

/** The next word is a string flag's value even when it starts with "-" (--operator-args '--flag=value'). */
function joinValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') && !argv[i].includes('=') ? argv[i].slice(2) : undefined;
    const spec = name !== undefined ? (FLAGS as Record<string, { type: string }>)[name] : undefined;
    if (spec?.type === 'string' && i + 1 < argv.length) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

function parse(argv: string[]): Parsed {
  try {
    return parseArgs({ args: joinValues(argv), options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

const USAGE = `usage: node .build/bench/cli.js [--sizes 1,100,1000] [--smoke] [--operator-cmd '<command>'] [--out bench/results]
  [--fresh] [--cpu-prof DIR] [--concurrency 4] [--idle-seconds 60] [--churn-seconds 60] [--failover-runs 5] [--operator-args '...'] [--operator-main dist/main.js]
  [--operator-name NAME] [--floor-sweep 4,8,16,32,64] [--peer-concurrency 4] [--no-go-peer] [--keep-cluster]
       node .build/bench/cli.js --render bench/results/latest.json   (re-render its .md and .svg)
--operator-cmd runs convergence, idle and footprint against another operator too; {kubeconfig} and {namespace}
in the command are replaced, and KUBECONFIG / WATCH_NAMESPACE are set in its environment; its results are
in peers[] under --operator-name (default operator-cmd). The Go peer (bench/peer-go, go-controller-runtime)
runs in every run unless --no-go-peer. --floor-sweep lists the floor concurrencies for the saturating floor; --failover-runs 0 skips failover.
A cluster the run started is stopped at its end unless --keep-cluster (kept, the run's namespaces can be
inspected or re-measured); one that was already running is left running.
--only churn --namespace NS --n N re-measures churn on converged objects and updates the results file.
--render FILE.json re-renders FILE.md and FILE.svg from an existing results file.`;

async function main(): Promise<number> {
  const a = parse(process.argv.slice(2));
  if (a.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (typeof a.render === 'string') {
    // Re-render the summary and chart of an existing results file.
    const { readFileSync } = await import('node:fs');
    const { writeResults } = await import('./report.js');
    const file = path.resolve(a.render);
    const results = JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof writeResults>[2];
    writeResults(path.dirname(file), path.basename(file, '.json'), results);
    return 0;
  }
  process.env.CLUSTER_STATE_DIR ??= '.cluster-bench';
  const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  // Imported only now, so the state directory above is the one they use.
  const { runBench } = await import('./run.js');
  const { writeResults } = await import('./report.js');
  const { repoRoot, clusterRunning } = await import('./env.js');
  const smoke = a.smoke === true;
  if (typeof a['operator-main'] === 'string') (await import('./operator.js')).setOperatorMain(a['operator-main']);
  const num = (key: keyof typeof FLAGS, full: number, small: number): number => {
    const value = typeof a[key] === 'string' ? Number(a[key]) : smoke ? small : full;
    if (!Number.isInteger(value) || value < 0) throw new UsageError(`--${key} takes a whole number >= 0, got ${String(a[key])}`);
    return value;
  };
  const sizes = (typeof a.sizes === 'string' ? a.sizes : smoke ? '1,5' : '1,100,1000').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--sizes takes positive integers, got ${String(a.sizes)}`);
  const floorSweep = (typeof a['floor-sweep'] === 'string' ? a['floor-sweep'] : smoke ? '4,16' : '4,8,16,32,64').split(',').map(Number);
  if (floorSweep.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--floor-sweep takes positive integers, got ${String(a['floor-sweep'])}`);
  const benchOptions = {
    sizes,
    smoke,
    operatorCmd: typeof a['operator-cmd'] === 'string' ? a['operator-cmd'] : undefined,
    operatorName: typeof a['operator-name'] === 'string' ? a['operator-name'] : 'operator-cmd',
    goPeer: a['no-go-peer'] !== true,
    peerConcurrency: num('peer-concurrency', 4, 4),
    floorSweep,
    out: path.resolve(repoRoot, typeof a.out === 'string' ? a.out : 'bench/results'),
    name: smoke ? 'smoke' : 'latest',
    fresh: a.fresh === true,
    concurrency: num('concurrency', 4, 4),
    idleSeconds: num('idle-seconds', 60, 5),
    backgroundSeconds: num('background-seconds', 30, 5),
    churnSeconds: num('churn-seconds', 60, 5),
    failoverRuns: num('failover-runs', 5, 1),
    cpuProfDir: typeof a['cpu-prof'] === 'string' ? path.resolve(repoRoot, a['cpu-prof']) : undefined,
    operatorArgs: typeof a['operator-args'] === 'string' ? a['operator-args'].split(/\s+/).filter(Boolean) : [],
    log,
  };
  cluster = { owned: a.fresh === true || !clusterRunning(), keep: a['keep-cluster'] === true, log };
  if (a.only === 'churn') {
    // Re-measure churn on an existing namespace and put it into the results file.
    const { readFileSync } = await import('node:fs');
    const { runChurnOnly } = await import('./run.js');
    if (typeof a.namespace !== 'string' || typeof a.n !== 'string') throw new UsageError('--only churn needs --namespace NS --n N');
    const file = path.join(benchOptions.out, `${benchOptions.name}.json`);
    const previous = JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof writeResults>[2];
    previous.churn = await runChurnOnly(benchOptions, a.namespace, Number(a.n));
    previous.notes = [...previous.notes, `churn re-measured on ${new Date().toISOString()} (--only churn) on the same cluster and objects`];
    writeResults(benchOptions.out, benchOptions.name, previous);
    return 0;
  }
  const results = await runBench(benchOptions);
  const dir = path.resolve(repoRoot, typeof a.out === 'string' ? a.out : 'bench/results');
  const files = writeResults(dir, smoke ? 'smoke' : 'latest', results);
  log(`wrote ${files.map((f) => path.relative(repoRoot, f)).join(', ')}`);
  return 0;
}

/** The cluster of this run: whether the run started it (and so stops it at the end) and whether --keep-cluster keeps it. */
let cluster: { owned: boolean; keep: boolean; log: (msg: string) => void } | undefined;

/** Stops the cluster if this run started it and was not asked to keep it; the line it logs is the run's last. */
async function endCluster(): Promise<void> {
  if (!cluster) return;
  const { owned, keep, log } = cluster;
  cluster = undefined;
  const dir = process.env.CLUSTER_STATE_DIR ?? '.cluster-bench';
  if (owned && !keep) {
    (await import('./env.js')).stopCluster();
    log(`cluster: stopped and removed ${dir} (this run started it; --keep-cluster keeps it)`);
    return;
  }
  const why = keep ? '--keep-cluster' : 'it was running before this run';
  log(`cluster: left running in ${dir} (${why}; about 1 GB of memory): stop it with CLUSTER_STATE_DIR=${dir} make cluster-down`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void import('./children.js')
      .then(({ killAll }) => killAll())
      .then(endCluster)
      .finally(() => process.exit(130));
  });
}

main().then(
  async (code) => {
    await endCluster();
    process.exit(code);
  },
  async (err: unknown) => {
    (await import('./children.js')).killAll();
    await endCluster().catch((e: unknown) => process.stderr.write(`bench: could not stop the cluster: ${String(e)}\n`));
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
