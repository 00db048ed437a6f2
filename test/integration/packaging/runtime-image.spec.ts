// The Dockerfile's runtime stage, reproduced without a container engine: a
// production-only install (npm ci --omit=dev, from package.json and the lock
// file) in a clean directory, plus dist/ and config/crd/bases/, exactly what
// the runtime stage copies. `node dist/main.js --version` must then work,
// which proves nothing the operator needs at run time is a dev dependency.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../support/cluster.js';

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
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };

  describe('Dockerfile', () => {
    const all = stages();
    const runtime = all.at(-1)!;

    it('builds with npm ci and tsc in a build stage', () => {
      const build = all.find((s) => s.lines.some((l) => /\btsc\b/.test(l)));
      expect(build, 'a stage that runs tsc').to.not.equal(undefined);
      expect(build!.lines.some((l) => /^RUN npm ci\b/.test(l) && !l.includes('--omit=dev'))).to.equal(true);
      expect(build!.name).to.not.equal(runtime.name);
    });

    it('runs as a numeric non-root user in group 0', () => {
      const user = runtime.lines.filter((l) => l.startsWith('USER ')).at(-1);
      expect(user).to.match(/^USER [1-9]\d*:0$/);
    });

    it('copies only production dependencies, package.json, dist/ (the runtime package\'s too) and the CRD into the runtime stage', () => {
      const copies = runtime.lines.filter((l) => l.startsWith('COPY'));
      const sources = copies.map((l) => l.split(/\s+/).filter((w) => !w.startsWith('--')).slice(1, -1).join(' ')).sort();
      expect(sources).to.deep.equal([
        '/app/config/crd/bases/',
        '/app/node_modules/',
        '/app/package.json',
        '/app/packages/runtime/package.json',
        '/src/dist/',
        '/src/packages/runtime/dist/',
      ]);
      for (const c of copies) expect(c).to.match(/--chown=\d+:0/);
      const deps = all.find((s) => s.name === /--from=(\S+)/.exec(copies.find((c) => c.includes('node_modules'))!)![1]);
      expect(deps!.lines.some((l) => l.includes('npm ci') && l.includes('--omit=dev'))).to.equal(true);
      expect(deps!.lines.some((l) => /chmod -R g=u/.test(l))).to.equal(true);
      // No package manager or compiler runs in the runtime stage.
      expect(runtime.lines.filter((l) => l.startsWith('RUN'))).to.deep.equal([]);
      expect(runtime.from).to.match(/distroless\/nodejs/);
    });

    it('keeps the build context to what the Dockerfile copies (.dockerignore)', () => {
      const ignore = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
      expect(ignore[0]).to.equal('*');
      expect(ignore.slice(1).sort()).to.deep.equal([
        '!config/crd/bases/',
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

  describe('production-only install of the build output', () => {
    let dir = '';
    before(function () {
      expect(existsSync(path.join(repoRoot, 'dist', 'main.js')), 'dist/main.js (make build)').to.equal(true);
      expect(existsSync(path.join(repoRoot, 'packages', 'runtime', 'dist', 'index.js')), 'packages/runtime/dist/index.js (make build)').to.equal(true);
      dir = mkdtempSync(path.join(os.tmpdir(), 'runtime-image-'));
      cpSync(path.join(repoRoot, 'package.json'), path.join(dir, 'package.json'));
      cpSync(path.join(repoRoot, 'package-lock.json'), path.join(dir, 'package-lock.json'));
      cpSync(path.join(repoRoot, 'packages', 'runtime', 'package.json'), path.join(dir, 'packages', 'runtime', 'package.json'));
      const npm = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, NODE_ENV: 'production' },
      });
      expect(npm.status, npm.stderr).to.equal(0);
      cpSync(path.join(repoRoot, 'dist'), path.join(dir, 'dist'), { recursive: true, filter: (src) => !src.endsWith('install.yaml') });
      cpSync(path.join(repoRoot, 'packages', 'runtime', 'dist'), path.join(dir, 'packages', 'runtime', 'dist'), { recursive: true });
      cpSync(path.join(repoRoot, 'config', 'crd', 'bases'), path.join(dir, 'config', 'crd', 'bases'), { recursive: true });
    });
    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** node dist/main.js FLAG in the clean install, from a directory outside the checkout, as user code in the image. */
    const runInstalled = (flag: string) =>
      spawnSync(process.execPath, [path.join(dir, 'dist', 'main.js'), flag], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: path.dirname(process.execPath), HOME: dir, NODE_ENV: 'production' },
        timeout: 60_000,
      });

    it('has no dev dependency installed', () => {
      const installed = new Set(readdirSync(path.join(dir, 'node_modules')).flatMap((d) => (d.startsWith('@') ? readdirSync(path.join(dir, 'node_modules', d)).map((s) => `${d}/${s}`) : [d])));
      // A dev dependency may also be a production dependency's dependency
      // (@types/node is one of @kubernetes/client-node's); the lock file says which.
      const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
      const devOnly = Object.entries(lock.packages).filter(([p, e]) => e.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(p)).map(([p]) => p.slice('node_modules/'.length));
      expect(devOnly).to.include.members(['typescript', 'mocha', 'eslint', 'chai']);
      for (const dev of devOnly) expect(installed.has(dev), dev).to.equal(false);
      for (const dep of Object.keys(pkg.dependencies)) expect(installed.has(dep), dep).to.equal(true);
    });

    it('runs `node dist/main.js --version` with only what the runtime stage holds', () => {
      // A clean environment, from a directory outside the checkout, as user code in the image.
      const r = runInstalled('--version');
      expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
      expect(r.stdout).to.contain(pkg.version);
    });

    it('loads the whole operator (--help) without a dev dependency', () => {
      const r = runInstalled('--help');
      expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
      expect(r.stdout + r.stderr).to.contain('--leader-elect');
    });
  });
});
