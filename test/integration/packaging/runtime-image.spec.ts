// The Dockerfile's runtime stage, reproduced without a container engine: the
// bundle hack/bundle-js.js makes from the build output, as dist/main.js in a
// clean directory outside the checkout, with package.json and
// config/crd/bases/ beside it: exactly what the runtime stage holds, and no
// node_modules. `node dist/main.js --version` and `--help` must then work,
// which proves the bundle carries everything the operator loads at start.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../support/cluster.js';
import { OPERATOR_NODE_FLAGS } from '../../../src/nodeflags.js';

interface Stage {
  from: string;
  name: string;
  lines: string[];
}

/** The Dockerfile's stages, with continuation lines joined. */
function stages(): Stage[] {
  const text = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const out: Stage[] = [];
  // Global ARGs (before the first FROM) name the base images; FROM shows their defaults.
  const args = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const arg = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)$/.exec(line);
    if (arg && out.length === 0) {
      args.set(arg[1], arg[2]);
      continue;
    }
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ from: from[1].replace(/^\$\{(\w+)\}$/, (whole, name: string) => args.get(name) ?? whole), name: from[2] ?? '', lines: [] });
    else out.at(-1)!.lines.push(line);
  }
  return out;
}

describe('runtime image', function () {
  this.timeout(600_000);
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };

  describe('Dockerfile', () => {
    const all = stages();
    const runtime = all.at(-1)!;
    const stage = (name: string): Stage => {
      const found = all.find((s) => s.name === name);
      expect(found, `a stage named ${name}`).to.not.equal(undefined);
      return found!;
    };

    it('builds with npm ci, tsc and the bundle script in a build stage', () => {
      const build = all.find((s) => s.lines.some((l) => /\btsc\b/.test(l)));
      expect(build, 'a stage that runs tsc').to.not.equal(undefined);
      expect(build!.lines.some((l) => /^RUN npm ci\b/.test(l) && !l.includes('--omit=dev'))).to.equal(true);
      expect(build!.lines.some((l) => /^RUN .*\bnode hack\/bundle-js\.js\b/.test(l))).to.equal(true);
      expect(build!.name).to.not.equal(runtime.name);
    });

    it('runs as a numeric non-root user in group 0', () => {
      const user = runtime.lines.filter((l) => l.startsWith('USER ')).at(-1);
      expect(user).to.match(/^USER [1-9]\d*:0$/);
    });

    it('copies one laid-out /app into the runtime stage: the bundle as dist/, package.json and the CRD, group 0 as the owner', () => {
      const copies = runtime.lines.filter((l) => l.startsWith('COPY'));
      expect(copies).to.have.length(1);
      expect(copies[0]).to.match(/--chown=\d+:0/);
      const from = /--from=(\S+)/.exec(copies[0])?.[1];
      expect(copies[0].split(/\s+/).filter((w) => !w.startsWith('--')).slice(1)).to.deep.equal(['/app/', './']);
      const app = stage(from!);
      const sources = app.lines.filter((l) => l.startsWith('COPY')).map((l) => l.split(/\s+/).filter((w) => !w.startsWith('--')).slice(1).join(' ')).sort();
      expect(sources).to.deep.equal(['/src/dist/bundle/ dist/', 'config/crd/bases/ config/crd/bases/', 'package.json ./']);
      expect(app.lines.some((l) => /chmod -R g=u \/app/.test(l))).to.equal(true);
      for (const s of [app, runtime]) expect(s.lines.join('\n'), `stage ${s.name}`).to.not.contain('node_modules');
      // No package manager or compiler runs in the runtime stage.
      expect(runtime.lines.filter((l) => l.startsWith('RUN'))).to.deep.equal([]);
      expect(runtime.from).to.match(/distroless\/nodejs/);
    });

    it('keeps the build context to what the Dockerfile copies (.dockerignore)', () => {
      const ignore = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
      expect(ignore[0]).to.equal('*');
      expect(ignore.slice(1).sort()).to.deep.equal([
        '!config/crd/bases/',
        '!hack/bundle-js.js',
        '!package-lock.json',
        '!package.json',
        '!packages/runtime/package.json',
        '!packages/runtime/src/',
        '!packages/runtime/tsconfig.json',
        '!src/',
        '!tsconfig.base.json',
        '!tsconfig.json',
      ]);
    });
  });

  describe('the bundle alone, laid out as the runtime stage holds it', () => {
    let dir = '';
    let probeDir = '';
    before(function () {
      expect(existsSync(path.join(repoRoot, 'dist', 'main.js')), 'dist/main.js (make build)').to.equal(true);
      dir = mkdtempSync(path.join(os.tmpdir(), 'runtime-image-'));
      bundleInto(path.join(dir, 'dist', 'main.js'));
      cpSync(path.join(repoRoot, 'package.json'), path.join(dir, 'package.json'));
      cpSync(path.join(repoRoot, 'config', 'crd', 'bases'), path.join(dir, 'config', 'crd', 'bases'), { recursive: true });
    });
    after(() => {
      for (const d of [dir, probeDir]) if (d) rmSync(d, { recursive: true, force: true });
    });

    /** hack/bundle-js.js, as the Dockerfile's build stage runs it, writing OUTFILE (from ENTRY, default dist/main.js). */
    const bundleInto = (outfile: string, entry?: string): void => {
      const r = spawnSync(process.execPath, [path.join(repoRoot, 'hack', 'bundle-js.js'), '--outfile', outfile, ...(entry ? ['--entry', entry] : [])], { cwd: repoRoot, encoding: 'utf8' });
      expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
    };

    /** node [the image's V8 flags] dist/main.js ARGS in the clean directory, from outside the checkout, as the image's ENTRYPOINT runs it. */
    const runBundle = (...args: string[]) =>
      spawnSync(process.execPath, [...OPERATOR_NODE_FLAGS, path.join(dir, 'dist', 'main.js'), ...args], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: path.dirname(process.execPath), HOME: dir, NODE_ENV: 'production' },
        timeout: 60_000,
      });

    it('is the bundle, its licences and the lazy chunks: no node_modules beside it, and the client library only in a lazy chunk', () => {
      expect(readdirSync(path.join(dir, 'dist')).sort()).to.deep.equal(['lazy', 'main.js', 'third-party-licenses.txt']);
      expect(readdirSync(dir).sort()).to.deep.equal(['config', 'dist', 'package.json']);
      // The library's generated serializer: read only when exec or auth-provider credentials load it.
      const holds = (file: string) => readFileSync(file, 'utf8').includes('ObjectSerializer');
      expect(holds(path.join(dir, 'dist', 'main.js')), 'the library in the eager bundle').to.equal(false);
      expect(readdirSync(path.join(dir, 'dist', 'lazy')).some((f) => holds(path.join(dir, 'dist', 'lazy', f))), 'the library in a lazy chunk').to.equal(true);
      const licences = readFileSync(path.join(dir, 'dist', 'third-party-licenses.txt'), 'utf8');
      for (const name of ['@kubernetes/client-node', 'undici', 'prom-client', 'ajv', 'yaml', 'winston']) expect(licences).to.match(new RegExp(`^${name} \\S+ \\(`, 'm'));
    });

    it('runs `node dist/main.js --version` and reads its version from package.json', () => {
      const r = runBundle('--version');
      expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
      expect(r.stdout.trim()).to.equal(`memcached-operator ${pkg.version}`);
    });

    it('loads the whole operator (--help)', () => {
      const r = runBundle('--help');
      expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
      expect(r.stdout).to.match(/^Usage: memcached-operator/);
      expect(r.stdout).to.contain('--leader-elect');
    });

    it('says what is wrong with a bad flag and exits 2, as dist/main.js does', () => {
      const r = runBundle('--no-such-flag');
      expect(r.status, `${r.stdout}${r.stderr}`).to.equal(2);
      expect(r.stderr).to.contain('unknown flag --no-such-flag');
    });

    // The validator reads the CRD's schema at run time, found by walking up
    // from its module's file: bundled, that file is the bundle. A probe of the
    // validator, bundled the same way into dist/ of a directory holding only
    // config/crd/bases/, must find that CRD and validate against it.
    it('finds the CRD by walking up from the bundle: a bundled probe of the validator validates against it', () => {
      probeDir = mkdtempSync(path.join(os.tmpdir(), 'runtime-image-probe-'));
      const entry = path.join(probeDir, 'probe.mjs');
      // A path, not a file: URL: esbuild resolves paths.
      const validator = path.join(repoRoot, 'dist', 'api', 'validator.js');
      writeFileSync(
        entry,
        `import { crdPath, validateMemcached } from ${JSON.stringify(validator)};\n` +
          'process.stdout.write(JSON.stringify({ crd: crdPath(), good: validateMemcached({ spec: { size: 3 } }), bad: validateMemcached({ spec: { size: 0 } }) }));\n',
      );
      bundleInto(path.join(probeDir, 'dist', 'probe.js'), entry);
      cpSync(path.join(repoRoot, 'config', 'crd', 'bases'), path.join(probeDir, 'config', 'crd', 'bases'), { recursive: true });
      rmSync(entry);
      const r = spawnSync(process.execPath, [path.join(probeDir, 'dist', 'probe.js')], { cwd: os.tmpdir(), encoding: 'utf8', env: { PATH: path.dirname(process.execPath) }, timeout: 60_000 });
      expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
      const out = JSON.parse(r.stdout) as { crd: string; good: { valid: boolean; spec?: { size?: number } }; bad: { valid: boolean; message?: string } };
      expect(out.crd.startsWith(path.join(probeDir, 'config', 'crd', 'bases') + path.sep), out.crd).to.equal(true);
      expect(out.good.valid, JSON.stringify(out.good)).to.equal(true);
      expect(out.good.spec?.size).to.equal(3);
      expect(out.bad.valid).to.equal(false);
      expect(out.bad.message).to.match(/size/);
    });
  });
});
