// Every repository path a page cites exists, so a page cannot keep pointing
// at a file that moved or went away. A path with a `*` must match at least
// one file. Outputs that runs write, and that are not committed, are named
// below.
import { expect } from 'chai';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../support/cluster.js';
import { citedPaths, documentationPages, globToRegExp } from './markdown.js';

/** Written by the runs the pages describe; not in the repository. */
const RUN_OUTPUTS = new Set([
  'test/e2e/results/kind.json', // test-e2e-kind's measurements
  'bench/results/failover-raw.json', // make bench's raw failover samples
  'bench/results/smoke.json', // make bench-smoke's results
]);

export function pathExists(root: string, cited: string): boolean {
  if (RUN_OUTPUTS.has(cited)) return true;
  if (!cited.includes('*')) return existsSync(path.join(root, cited));
  const dir = path.posix.dirname(cited);
  if (dir.includes('*') || !existsSync(path.join(root, dir))) return false;
  const pattern = globToRegExp(path.posix.basename(cited));
  return readdirSync(path.join(root, dir)).some((name) => pattern.test(name));
}

describe('paths cited in the documentation', () => {
  const pages = documentationPages();

  it('the pages cite paths (so the check checks something)', () => {
    expect(pages.flatMap(citedPaths).length).to.be.at.least(50);
  });

  it('exist', () => {
    const missing = pages.flatMap((page) => citedPaths(page).filter((c) => !pathExists(repoRoot, c.path)).map((c) => `${page.file}:${c.line}: ${c.path}`));
    expect(missing).to.deep.equal([]);
  });
});
