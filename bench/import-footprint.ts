// What the client library costs a process at start: RSS after a full GC and
// the JavaScript modules loaded, for each way the operator could load it.
// Every variant runs in a fresh process, several times; no cluster is needed.
//
//   bare           node with nothing imported (the floor);
//   https-floor    node's own https and tls, one keep-alive Agent and a TLS
//                  context: the floor for any process that calls the apiserver;
//   client-whole   the library's index, a KubeConfig and every API client the
//                  operator and the runtime make;
//   client-deep    the same clients from the library's own files (config,
//                  gen, watch, informer, object, patch, middleware), skipping
//                  exec, attach, cp, port-forward, logs, top and metrics;
//   graph          what dist/main.js imports, plus the same clients, not run;
//   operator       dist/main.js run against a closed loopback port, measured
//                  after its first failed connection (idle, N = 0);
//   bundle         dist/main.js bundled by esbuild (ESM, node), run likewise;
//   bundle-min     the same, minified;
//   bundle-kc      a bundle that only loads a kubeconfig;
//   bundle-kc-core a bundle that loads a kubeconfig and makes a CoreV1Api;
//   bundle-thin    a bundle of only the runtime's own client (client/): it
//                  loads the kubeconfig and sends one request;
//   bundle-runtime a bundle of the runtime package's whole public API, not
//                  run: what its modules still load eagerly;
//   shipped        the image's entry point as make bundle-js builds it
//                  (dist/bundle/main.js, hack/bundle-js.js), run likewise.
//
// The bundles need esbuild (the devDependency's binary, or --esbuild PATH);
// without it they are skipped, with a message; so is shipped without
// dist/bundle/main.js. Modules are counted in one more run of each variant
// with a module load hook (file: URLs, and their bytes on disk); RSS comes
// from runs without the hook, so the hook costs nothing in it.
//
//   node .build/bench/import-footprint.js [--esbuild node_modules/.bin/esbuild] [--runs 5] [--out bench/results]
//                                         [--only bare --only bundle-thin ...]  (some variants; the file is then import-footprint-only.json)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine } from './env.js';
import { median, round } from '../test/support/stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLIENT_DIR = path.join(ROOT, 'node_modules', '@kubernetes', 'client-node', 'dist');
const RUNTIME_DIST = path.join(ROOT, 'packages', 'runtime', 'dist');
// Inside the worktree, so the bundle finds package.json (its version) and the CRD as dist/main.js does.
const BUNDLE_DIR = path.join(ROOT, '.build', 'import-footprint');
/** The image's entry point, as make bundle-js writes it. */
const SHIPPED_BUNDLE = path.join(ROOT, 'dist', 'bundle', 'main.js');
const READY = 'import-footprint: ready';
const OPERATOR_READY = 'cannot reach the apiserver';
const CHILD_DEADLINE_MS = 60_000;

/** Every API client class the operator and the runtime make (value imports of dist/ and packages/runtime/dist). */
const API_CLASSES = ['CoreV1Api', 'CustomObjectsApi', 'EventsV1Api', 'CoordinationV1Api', 'AuthenticationV1Api', 'AuthorizationV1Api'];

interface Variant {
  name: string;
  /** The script node runs, and its arguments. */
  argv: string[];
  /** The line on stdout or stderr after which the process is measured. */
  ready: string;
  bundleBytes?: number;
}

interface Sample {
  rssMB: number;
  heapUsedMB: number;
  modules: number;
  moduleBytes: number;
}

// Preloaded into each child: it counts modules when asked, and on SIGUSR2
// collects garbage, writes its numbers and exits.
const PROBE = `
import { statSync, writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';
let modules = 0;
let moduleBytes = 0;
if (process.env.FOOTPRINT_COUNT === '1') {
  registerHooks({
    load(url, context, nextLoad) {
      const result = nextLoad(url, context);
      if (url.startsWith('file:')) {
        modules++;
        moduleBytes += statSync(fileURLToPath(url)).size;
      }
      return result;
    },
  });
}
process.on('SIGUSR2', () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  writeFileSync(process.env.FOOTPRINT_OUT, JSON.stringify({ rssMB: m.rss / 2 ** 20, heapUsedMB: m.heapUsed / 2 ** 20, modules, moduleBytes }));
  process.exit(0);
});
`;

/** An entry module: the given imports, a KubeConfig, the clients, then the ready line; it stays alive until measured. */
function entrySource(imports: string[], makeClients: string): string {
  return `${imports.join('\n')}
const kc = new KubeConfig();
kc.loadFromFile(process.env.FOOTPRINT_KUBECONFIG);
globalThis.footprintClients = ${makeClients};
process.stderr.write(${JSON.stringify(READY + '\n')});
setInterval(() => undefined, 1 << 30);
`;
}

const everyClient = `[${API_CLASSES.map((c) => `kc.makeApiClient(${c})`).join(', ')}, KubernetesObjectApi.makeApiClient(kc), new Watch(kc)]`;
const clientNames = `KubeConfig, KubernetesObjectApi, Watch, ${API_CLASSES.join(', ')}`;

/** The modules dist/main.js imports, as absolute specifiers. */
function mainImports(): string[] {
  const source = readFileSync(path.join(ROOT, 'dist', 'main.js'), 'utf8');
  return [...source.matchAll(/^import .*? from '([^']+)';$/gms)]
    .map((m) => m[1])
    .map((spec) => (spec.startsWith('.') ? path.join(ROOT, 'dist', spec) : spec.startsWith('node:') ? spec : import.meta.resolve(spec)))
    .map((spec) => `import '${spec}';`);
}

function writeEntries(dir: string): Record<string, string> {
  const entries: Record<string, string> = {
    bare: `process.stderr.write(${JSON.stringify(READY + '\n')});\nsetInterval(() => undefined, 1 << 30);\n`,
    'https-floor': `import https from 'node:https';\nimport tls from 'node:tls';\nglobalThis.footprintClients = [new https.Agent({ keepAlive: true }), tls.createSecureContext({})];\nprocess.stderr.write(${JSON.stringify(READY + '\n')});\nsetInterval(() => undefined, 1 << 30);\n`,
    'client-whole': entrySource([`import { ${clientNames} } from '${path.join(CLIENT_DIR, 'index.js')}';`], everyClient),
    'client-deep': entrySource(
      [
        `import { KubeConfig } from '${path.join(CLIENT_DIR, 'config.js')}';`,
        `import { ${API_CLASSES.join(', ')} } from '${path.join(CLIENT_DIR, 'gen', 'index.js')}';`,
        `import { KubernetesObjectApi } from '${path.join(CLIENT_DIR, 'object.js')}';`,
        `import { Watch } from '${path.join(CLIENT_DIR, 'watch.js')}';`,
        `import '${path.join(CLIENT_DIR, 'informer.js')}';`,
        `import '${path.join(CLIENT_DIR, 'patch.js')}';`,
        `import '${path.join(CLIENT_DIR, 'middleware.js')}';`,
      ],
      everyClient,
    ),
    graph: entrySource([...mainImports(), `import { ${clientNames} } from '${path.join(CLIENT_DIR, 'index.js')}';`], everyClient),
    'kc-only': entrySource([`import { KubeConfig } from '${path.join(CLIENT_DIR, 'config.js')}';`], '[]'),
    thin: `import { ApiClient, loadConnection } from '${path.join(RUNTIME_DIST, 'client', 'index.js')}';
const client = new ApiClient(await loadConnection({ kubeconfig: process.env.FOOTPRINT_KUBECONFIG }));
await client.get('/version').catch(() => undefined);
globalThis.footprintClients = [client];
process.stderr.write(${JSON.stringify(READY + '\n')});
setInterval(() => undefined, 1 << 30);
`,
    runtime: `import * as runtime from '${path.join(RUNTIME_DIST, 'index.js')}';\nglobalThis.footprintClients = [runtime];\nprocess.stderr.write(${JSON.stringify(READY + '\n')});\nsetInterval(() => undefined, 1 << 30);\n`,
    'kc-core': entrySource([`import { KubeConfig, CoreV1Api } from '${path.join(CLIENT_DIR, 'index.js')}';`], '[kc.makeApiClient(CoreV1Api)]'),
  };
  const files: Record<string, string> = {};
  for (const [name, source] of Object.entries(entries)) {
    files[name] = path.join(dir, `${name}.mjs`);
    writeFileSync(files[name], source);
  }
  return files;
}

/** A kubeconfig whose apiserver is a loopback port nothing listens on. */
async function closedPortKubeconfig(dir: string): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const file = path.join(dir, 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: closed, cluster: {server: 'https://127.0.0.1:${port}', insecure-skip-tls-verify: true}}]
users: [{name: closed, user: {token: footprint}}]
contexts: [{name: closed, context: {cluster: closed, user: closed}}]
current-context: closed
`,
  );
  return file;
}

// esbuild's ESM output needs a require for the CommonJS packages it inlines (undici, ws, js-yaml's peers).
const REQUIRE_BANNER = "import { createRequire as footprintCreateRequire } from 'node:module'; const require = footprintCreateRequire(import.meta.url);";

/** Bundles entry into BUNDLE_DIR/out; returns its size and the bytes each group of inputs put into it. */
/**
 * esbuild's bundle of `entry`, split as hack/bundle-js.js splits the
 * shipped one: what only a dynamic import reaches goes to lazy/ chunks.
 * Bytes and inputs are the eager file's (what a process reads at start).
 */
function bundle(esbuild: string, entry: string, name: string, minify: boolean): { file: string; bytes: number; inputs: Record<string, number> } {
  const outdir = path.join(BUNDLE_DIR, name);
  const metafile = path.join(BUNDLE_DIR, `${name}.meta.json`);
  const args = [
    `main=${entry}`, '--bundle', '--platform=node', '--format=esm', '--splitting', `--outdir=${outdir}`, '--chunk-names=lazy/[name]-[hash]', '--out-extension:.js=.mjs',
    `--metafile=${metafile}`, `--banner:js=${REQUIRE_BANNER}`, '--log-level=error',
  ];
  execFileSync(esbuild, minify ? [...args, '--minify'] : args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const file = path.join(outdir, 'main.mjs');
  const meta = JSON.parse(readFileSync(metafile, 'utf8')) as { outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }> };
  const inputs: Record<string, number> = {};
  for (const [output, { inputs: used }] of Object.entries(meta.outputs)) {
    if (path.resolve(ROOT, output) !== file) continue;
    for (const [input, { bytesInOutput }] of Object.entries(used)) inputs[inputGroup(input)] = (inputs[inputGroup(input)] ?? 0) + bytesInOutput;
  }
  return { file, bytes: statSync(file).size, inputs };
}

/** Which part of the dependency tree a bundled input belongs to. */
function inputGroup(input: string): string {
  const client = /node_modules\/@kubernetes\/client-node\/dist\/(.*)$/.exec(input)?.[1];
  if (client !== undefined) {
    if (client.startsWith('gen/models/')) return 'client-node: generated models and ObjectSerializer';
    if (client.startsWith('gen/')) return 'client-node: generated APIs and HTTP';
    return 'client-node: kubeconfig, auth, watch, informer';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
  if (pkg) return pkg;
  return 'operator and runtime';
}

/** The bundle's --help and --version both answer and exit 0, or the bundle is not worth measuring. */
function checkStarts(file: string): void {
  for (const flag of ['--help', '--version']) {
    const out = execFileSync(process.execPath, [file, flag], { encoding: 'utf8' });
    if (!out.includes('memcached-operator') && !out.includes('Usage')) throw new Error(`${path.basename(file)} ${flag} printed nothing recognisable: ${out}`);
    if (flag === '--version' && out.includes('unknown')) throw new Error(`${path.basename(file)} --version cannot find its version: ${out.trim()}`);
  }
}

/** One fresh process: start it, wait for its ready line, have it measure itself. */
function sample(variant: Variant, kubeconfig: string, dir: string, count: boolean): Promise<Sample> {
  const out = path.join(dir, `sample-${variant.name}.json`);
  rmSync(out, { force: true });
  const probe = path.join(dir, 'probe.mjs');
  const child = spawn(process.execPath, ['--expose-gc', '--import', probe, ...variant.argv], {
    env: { ...process.env, FOOTPRINT_OUT: out, FOOTPRINT_KUBECONFIG: kubeconfig, FOOTPRINT_COUNT: count ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    let signalled = false;
    const deadline = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${variant.name}: no "${variant.ready}" line within ${CHILD_DEADLINE_MS / 1000} s; it printed: ${output.slice(-2000)}`));
    }, CHILD_DEADLINE_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!signalled && output.includes(variant.ready)) {
        signalled = true;
        child.kill('SIGUSR2');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(deadline);
      if (!existsSync(out)) return reject(new Error(`${variant.name}: exited (${code}) without measuring; it printed: ${output.slice(-2000)}`));
      resolve(JSON.parse(readFileSync(out, 'utf8')) as Sample);
    });
  });
}

async function measure(variant: Variant, runs: number, kubeconfig: string, dir: string): Promise<Record<string, unknown>> {
  const rss: number[] = [];
  const heap: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = await sample(variant, kubeconfig, dir, false);
    rss.push(s.rssMB);
    heap.push(s.heapUsedMB);
  }
  const counted = await sample(variant, kubeconfig, dir, true);
  const row = {
    variant: variant.name,
    rssMB: round(median(rss), 1),
    rssRangeMB: [round(Math.min(...rss), 1), round(Math.max(...rss), 1)],
    heapUsedMB: round(median(heap), 1),
    modules: counted.modules,
    moduleMB: round(counted.moduleBytes / 2 ** 20, 1),
    ...(variant.bundleBytes !== undefined ? { bundleMB: round(variant.bundleBytes / 2 ** 20, 2) } : {}),
  };
  process.stderr.write(`${JSON.stringify(row)}\n`);
  return row;
}

function bundleVariants(esbuild: string, entries: Record<string, string>, kubeconfig: string): { variants: Variant[]; inputs: Record<string, Record<string, number>> } {
  const variants: Variant[] = [];
  const inputs: Record<string, Record<string, number>> = {};
  if (existsSync(esbuild)) {
    mkdirSync(BUNDLE_DIR, { recursive: true });
    const main = path.join(ROOT, 'dist', 'main.js');
    const plan: Array<[string, string, boolean, string]> = [
      ['bundle', main, false, OPERATOR_READY],
      ['bundle-min', main, true, OPERATOR_READY],
      ['bundle-kc', entries['kc-only'], false, READY],
      ['bundle-kc-core', entries['kc-core'], false, READY],
      ['bundle-thin', entries.thin, false, READY],
      ['bundle-runtime', entries.runtime, false, READY],
    ];
    for (const [name, entry, minify, ready] of plan) {
      const built = bundle(esbuild, entry, name, minify);
      const file = built.file;
      const argv = ready === OPERATOR_READY ? [file, '--kubeconfig', kubeconfig] : [file];
      if (ready === OPERATOR_READY) checkStarts(file);
      variants.push({ name, argv, ready, bundleBytes: built.bytes });
      inputs[name] = Object.fromEntries(Object.entries(built.inputs).sort((a, b) => b[1] - a[1]).map(([group, bytes]) => [group, round(bytes / 2 ** 20, 2)!]));
    }
  } else {
    process.stderr.write(`import-footprint: esbuild not found (${esbuild}); skipping the bundled variants\n`);
  }
  if (existsSync(SHIPPED_BUNDLE)) {
    checkStarts(SHIPPED_BUNDLE);
    variants.push({ name: 'shipped', argv: [SHIPPED_BUNDLE, '--kubeconfig', kubeconfig], ready: OPERATOR_READY, bundleBytes: statSync(SHIPPED_BUNDLE).size });
  } else {
    process.stderr.write(`import-footprint: ${path.relative(ROOT, SHIPPED_BUNDLE)} is missing (make bundle-js); skipping the shipped variant\n`);
  }
  return { variants, inputs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      esbuild: { type: 'string', default: path.join(ROOT, 'node_modules', '.bin', 'esbuild') },
      runs: { type: 'string', default: '5' },
      out: { type: 'string', default: 'bench/results' },
      only: { type: 'string', multiple: true },
    },
  });
  const only = values.only === undefined ? undefined : new Set(values.only);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: want a whole number of at least 1`);
  if (!existsSync(path.join(ROOT, 'dist', 'main.js'))) throw new Error('dist/main.js is missing: run make build first');
  const dir = mkdtempSync(path.join(tmpdir(), 'import-footprint-'));
  try {
    writeFileSync(path.join(dir, 'probe.mjs'), PROBE);
    const kubeconfig = await closedPortKubeconfig(dir);
    const entries = writeEntries(dir);
    const operator = [path.join(ROOT, 'dist', 'main.js'), '--kubeconfig', kubeconfig];
    const variants: Variant[] = [
      { name: 'bare', argv: [entries.bare], ready: READY },
      { name: 'https-floor', argv: [entries['https-floor']], ready: READY },
      { name: 'client-whole', argv: [entries['client-whole']], ready: READY },
      { name: 'client-deep', argv: [entries['client-deep']], ready: READY },
      { name: 'graph', argv: [entries.graph], ready: READY },
      { name: 'operator', argv: operator, ready: OPERATOR_READY },
    ];
    const bundled = bundleVariants(values.esbuild, entries, kubeconfig);
    const rows = [];
    for (const variant of [...variants, ...bundled.variants]) if (!only || only.has(variant.name)) rows.push(await measure(variant, runs, kubeconfig, dir));
    const result = {
      when: new Date().toISOString(),
      node: process.version,
      machine: machine(),
      runs,
      method:
        'fresh process per run; RSS (process.memoryUsage().rss, MiB) after two global.gc() calls, median of the runs; modules: file: URLs seen by a module.registerHooks load hook in one extra run, bytes on disk',
      apiClients: API_CLASSES,
      variants: rows,
      bundleInputsMB: bundled.inputs,
    };
    mkdirSync(values.out, { recursive: true });
    writeFileSync(path.join(values.out, only ? 'import-footprint-only.json' : 'import-footprint.json'), JSON.stringify(result, null, 2) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`import-footprint: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
