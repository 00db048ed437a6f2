// docs/monitoring.md's metrics table is what users read; it must say exactly
// what the exporter does.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { COMMAND_STATS, STAT_METRICS } from '../../../src/exporter/metrics.js';
import { repoRoot } from '../../support/cluster.js';

describe('docs/monitoring.md metrics table', () => {
  const rows = readFileSync(path.join(repoRoot, 'docs', 'monitoring.md'), 'utf8')
    .split('\n')
    .map((line) => /^\| `(\w+)` \| `([^`]+)` \| (gauge|counter) \|$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} -> ${m[2]} (${m[3]})`);

  it('lists every stats field the exporter maps, with its metric and type, and nothing else', () => {
    const want = [
      'version -> memcached_version{version} (gauge)',
      ...STAT_METRICS.map((m) => `${m.stat} -> ${m.metric} (${m.type})`),
      ...COMMAND_STATS.map((c) => `${c.stat} -> memcached_commands_total{command="${c.command}",status="${c.status}"} (counter)`),
    ];
    expect(rows).to.deep.equal(want);
  });
});
