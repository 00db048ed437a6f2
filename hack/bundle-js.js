#!/usr/bin/env node
/* global console, process -- a Node.js script */
// The operator as one file, the image's entry point: dist/main.js (tsc's
// output, the code the tests run) and everything it imports (the runtime
// workspace package, @kubernetes/client-node, undici, yaml, ajv, prom-client,
// winston) bundled by esbuild into one minified ES module. Tree shaking drops
// what the operator never calls, so a process loads one file of under 3 MB
// instead of some 1,400 and idles about 40 MB lower (docs/benchmarks.md, "What
// the client library costs at start"); the image needs no node_modules.
//
// The bundle finds package.json (its version) and config/crd/bases/ (the
// validator's schema) by walking up from its own file, as dist/main.js does,
// so it must sit below the directory that holds them: dist/bundle/main.js in
// a checkout, dist/main.js in the image.
//
// Beside it, third-party-licenses.txt: the licence of every package the
// bundle holds, which node_modules carried until the bundle replaced it.
// Beside it too, lazy/: the chunks only a dynamic import loads (the client
// library, for exotic auth or an apiserver without WatchList).
//
// Usage: node hack/bundle-js.js [--outfile dist/bundle/main.js]   (after make build)
//        [--entry dist/main.js]   (another entry, bundled the same way: the
//                                  packaging spec's probe of the validator)
import { build } from 'esbuild';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = 'usage: node hack/bundle-js.js [--outfile dist/bundle/main.js] [--entry dist/main.js]';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// CommonJS packages inlined into an ES module still call require() for Node's
// own modules (undici, ws, winston's streams); esbuild's ESM output has no
// require, so the bundle makes one first.
const REQUIRE_BANNER = "import { createRequire as bundleCreateRequire } from 'node:module'; const require = bundleCreateRequire(import.meta.url);";

function options() {
  try {
    return parseArgs({ options: { outfile: { type: 'string', default: 'dist/bundle/main.js' }, entry: { type: 'string', default: 'dist/main.js' } }, strict: true }).values;
  } catch (err) {
    console.error(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
}

/** The pinned Node (package.json engines, which a unit test keeps equal to .nvmrc) as esbuild's target. */
function nodeTarget() {
  const engines = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).engines?.node ?? '';
  const version = /^>=(\d+\.\d+\.\d+)$/.exec(engines)?.[1];
  if (!version) throw new Error(`package.json engines.node is "${engines}": want ">=X.Y.Z" to name the Node release to target`);
  return `node${version}`;
}

/** The packages (their directories under node_modules) esbuild put into the bundle, from its metafile. */
function bundledPackages(metafile) {
  const dirs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const dir = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
    if (dir) dirs.add(dir);
  }
  return [...dirs].sort();
}

/** Each bundled package's name, version, declared licence and licence files, as one text. */
function licenceText(dirs) {
  const rule = '='.repeat(72);
  return dirs
    .map((dir) => {
      const pkg = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'));
      const files = readdirSync(path.join(root, dir)).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort();
      const texts = files.map((f) => readFileSync(path.join(root, dir, f), 'utf8').trim());
      const body = texts.length > 0 ? texts.join('\n\n') : `(the package has no licence file; its package.json declares ${pkg.license ?? 'no licence'})`;
      return `${rule}\n${pkg.name} ${pkg.version} (${pkg.license ?? 'no licence declared'})\n${rule}\n${body}\n`;
    })
    .join('\n');
}

const { outfile, entry: entryOption } = options();
const entry = path.resolve(root, entryOption);
if (!existsSync(entry)) {
  console.error(`${path.relative(root, entry)} is missing: run make build first`);
  process.exit(1);
}
// The client library is imported only where the runtime's own client cannot
// serve (exec or auth-provider credentials, an apiserver without WatchList):
// splitting puts it in a chunk of its own (lazy/), which the process reads
// only then, so an idle operator never holds its source.
const outPath = path.resolve(root, outfile);
const result = await build({
  absWorkingDir: root,
  entryPoints: { [path.basename(outPath, '.js')]: entry },
  outdir: path.dirname(outPath),
  splitting: true,
  chunkNames: 'lazy/[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: nodeTarget(),
  minify: true,
  banner: { js: REQUIRE_BANNER },
  // Licence notices of the bundled packages stay, at the end of the file.
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
});
// A warning (a require esbuild cannot resolve, an import.meta it cannot keep)
// is a bundle that may fail at run time: fail the build instead.
if (result.warnings.length > 0) {
  console.error(`esbuild: ${result.warnings.length} warning(s) above; the bundle would not be trustworthy`);
  process.exit(1);
}
const packages = bundledPackages(result.metafile);
const licences = path.join(path.dirname(path.resolve(root, outfile)), 'third-party-licenses.txt');
writeFileSync(licences, licenceText(packages));
console.log(`${outfile}: ${(statSync(path.resolve(root, outfile)).size / 2 ** 20).toFixed(2)} MB, ${packages.length} packages (licences: ${path.relative(root, licences)})`);
