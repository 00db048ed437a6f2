// The Node version is stated in four places; they must name the same release
// line: .nvmrc (the pin scripts/node.sh installs), package.json engines, the
// Dockerfile's build bases and its distroless runtime, and @types/node.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, '.nvmrc'))) dir = path.dirname(dir);
  return dir;
})();
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');

describe('platform: one Node release line', () => {
  const pinned = read('.nvmrc').trim();
  const major = pinned.split('.')[0];
  const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };

  it('.nvmrc pins an exact version', () => {
    expect(pinned).to.match(/^\d+\.\d+\.\d+$/);
  });

  it('package.json engines asks for the pinned version or newer', () => {
    expect(pkg.engines.node).to.equal(`>=${pinned}`);
  });

  it('@types/node is the same major', () => {
    expect(pkg.devDependencies['@types/node']).to.match(new RegExp(`^\\^${major}\\.`));
  });

  it('every Dockerfile stage runs the same Node major', () => {
    const lines = read('Dockerfile').split('\n');
    // The base images are build arguments; their defaults are what ships.
    const args = new Map<string, string>();
    for (const l of lines) {
      const m = /^ARG\s+(\w+)=(\S+)$/.exec(l);
      if (m) args.set(m[1], m[2]);
    }
    const froms = lines.filter((l) => /^FROM\s/i.test(l)).map((l) => l.split(/\s+/)[1].replace(/^\$\{(\w+)\}$/, (whole, name: string) => args.get(name) ?? whole));
    expect(froms).to.have.length(3);
    for (const image of froms) {
      const m = /\/node:(\d+)[.-]/.exec(image) ?? /\/nodejs(\d+)-/.exec(image);
      expect(m, `a Node version in ${image}`).to.not.equal(null);
      expect(m![1], image).to.equal(major);
    }
  });
});

describe('platform: the operator runs with the same V8 flags everywhere', () => {
  it('the image ENTRYPOINT passes exactly src/nodeflags.ts before dist/main.js', async () => {
    const { OPERATOR_NODE_FLAGS } = await import('../../src/nodeflags.js');
    const entry = read('Dockerfile')
      .split('\n')
      .find((l) => l.startsWith('ENTRYPOINT '));
    expect(JSON.parse(entry!.slice('ENTRYPOINT '.length))).to.deep.equal(['/nodejs/bin/node', ...OPERATOR_NODE_FLAGS, 'dist/main.js']);
  });
});

describe('platform: the Makefile names the tools cache as the build scripts do', () => {
  const makeVar = (name: string): string =>
    execFileSync('make', ['--no-print-directory', '-s', '-f', 'Makefile', '-f', '-', 'print'], {
      cwd: root,
      encoding: 'utf8',
      input: `print:\n\t@echo $(${name})\n`,
    }).trim();
  const scriptDir = (script: string): string => execFileSync(path.join(root, 'test', 'cluster', script), ['--dir'], { encoding: 'utf8' }).trim();

  it('TOOLS_BIN is build-tools.sh --dir', () => {
    expect(makeVar('TOOLS_BIN')).to.equal(scriptDir('build-tools.sh'));
  });

  it('OLM_TOOLS_BIN is build-olm-tools.sh --dir', () => {
    expect(makeVar('OLM_TOOLS_BIN')).to.equal(scriptDir('build-olm-tools.sh'));
  });
});
