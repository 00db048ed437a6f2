// docs/api.md's "How much memory a cache takes" against the code and the
// measurement it cites: each row's computed hash table peak, container
// limit, margin and largest raise in place are what the functions give, and
// its worst peak is the worst bench/results/memcached-memory.json holds.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { containerMemoryMi, hashTablePeakMi } from '../../../src/memcached/children/resources.js';
import { cacheVolumeMi, MEMORY_FILE_SLACK_MI } from '../../../src/memcached/children/statefulset.js';
import { repoRoot } from '../../support/cluster.js';
import { markedTable, readPage } from './markdown.js';

interface Results {
  busyConnections?: { perConnectionKiB: number };
  rows: { memoryMB: number; cgroup: { peakMi: number }; restart?: { peakMi: number } }[];
}

describe('docs/api.md: how much memory a cache takes', () => {
  const page = readPage('docs/api.md');
  const rows = markedTable(page.text, 'memory-sizes');
  const results = JSON.parse(readFileSync(path.join(repoRoot, 'bench', 'results', 'memcached-memory.json'), 'utf8')) as Results;
  const worstPeak = (memoryMB: number): number =>
    Math.max(...results.rows.filter((r) => r.memoryMB === memoryMB).map((r) => Math.max(r.cgroup.peakMi, r.restart?.peakMi ?? 0)));

  it('has a row for every size measured', () => {
    const measured = [...new Set(results.rows.map((r) => r.memoryMB))].sort((a, b) => a - b);
    expect(rows.map((r) => Number(r.cells['`memoryLimitMB`']))).to.deep.equal(measured);
  });

  for (const row of rows) {
    const memoryMB = Number(row.cells['`memoryLimitMB`']);
    it(`the ${memoryMB} MB row (line ${row.line}) says what the code and the measurement say`, () => {
      const limitMi = containerMemoryMi(memoryMB);
      const peakMi = worstPeak(memoryMB);
      expect(row.cells).to.deep.equal({
        '`memoryLimitMB`': String(memoryMB),
        'hash table peak (computed)': `${hashTablePeakMi(memoryMB)} MiB`,
        'worst peak measured': `${peakMi} MiB`,
        'limit before': `${Math.ceil(memoryMB * 1.25) + 32}Mi`,
        'limit now': `${limitMi}Mi`,
        'margin now': `${Math.round((limitMi / peakMi - 1) * 100)}%`,
        'a raise in place up to': String(cacheVolumeMi(memoryMB, limitMi) - MEMORY_FILE_SLACK_MI),
      });
    });
  }

  it('cites the measured cost of a busy connection', () => {
    expect(results.busyConnections, 'bench/results/memcached-memory.json busyConnections').to.not.equal(undefined);
    expect(page.text).to.include(`measured ${results.busyConnections!.perConnectionKiB} KiB each`);
  });
});
