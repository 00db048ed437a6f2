// docs/topology.md's sizing table: this checks every
// row against placementFor, so the documentation cannot drift from the code.
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HighAvailabilityMode, MemcachedSpec } from '../../../src/api/types.js';
import { placementFor } from '../../../src/topology/sizing.js';
import type { ClusterTopology, ControlPlaneTopology, InfrastructureTopology } from '../../../src/topology/types.js';

const START = '<!-- topology-sizing-table';
const END = '<!-- /topology-sizing-table -->';

function findDoc(): string {
  // Compiled to .build/test/unit/topology/; the sources live in test/unit/topology/.
  const candidates = [
    fileURLToPath(new URL('../../../../docs/topology.md', import.meta.url)),
    fileURLToPath(new URL('../../../docs/topology.md', import.meta.url)),
    `${process.cwd()}/docs/topology.md`,
  ];
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) throw new Error(`docs/topology.md not found; looked at ${candidates.join(', ')}`);
  return found;
}

export interface TableRow {
  line: number;
  cells: Record<string, string>;
}

/** The rows of the markdown table between the markers, keyed by header, backticks stripped. */
export function parseSizingTable(markdown: string): TableRow[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(START));
  const end = lines.findIndex((l) => l.startsWith(END));
  if (start < 0 || end < start) throw new Error('the sizing table markers are missing');
  const split = (l: string) =>
    l
      .trim()
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split('|')
      .map((c) => c.trim().replace(/`/g, ''));
  const tableLines = lines.slice(start + 1, end).map((text, i) => ({ text, line: start + 2 + i }));
  const [header, separator, ...rows] = tableLines.filter((l) => l.text.trim() !== '');
  if (header === undefined || separator === undefined) throw new Error('the sizing table has no header');
  const names = split(header.text);
  if (!split(separator.text).every((c) => /^:?-{3,}:?$/.test(c))) throw new Error('the sizing table has no separator row');
  return rows.map(({ text, line }) => {
    const cells = split(text);
    if (cells.length !== names.length) throw new Error(`line ${line}: ${cells.length} cells, the header has ${names.length}`);
    return { line, cells: Object.fromEntries(names.map((n, i) => [n, cells[i]])) };
  });
}

const CONTROL_PLANES: ControlPlaneTopology[] = ['HighlyAvailable', 'HighlyAvailableArbiter', 'SingleReplica', 'DualReplica', 'External'];
const INFRASTRUCTURES: InfrastructureTopology[] = ['HighlyAvailable', 'SingleReplica'];
const MODES: HighAvailabilityMode[] = ['Auto', 'Enabled', 'Disabled'];

function cell(row: TableRow, name: string): string {
  const value = row.cells[name];
  if (value === undefined) throw new Error(`line ${row.line}: no "${name}" column`);
  return value;
}

function yesNo(row: TableRow, name: string): boolean {
  const value = cell(row, name);
  if (value !== 'yes' && value !== 'no') throw new Error(`line ${row.line}: ${name} must be yes or no, not "${value}"`);
  return value === 'yes';
}

function inputs(row: TableRow): { spec: MemcachedSpec; topology: ClusterTopology } {
  const [cp, infra, ...rest] = cell(row, 'Topology').split('/').map((s) => s.trim());
  if (rest.length > 0 || !CONTROL_PLANES.includes(cp as ControlPlaneTopology) || !INFRASTRUCTURES.includes(infra as InfrastructureTopology)) {
    throw new Error(`line ${row.line}: bad Topology "${cell(row, 'Topology')}"`);
  }
  const counts = cell(row, 'Nodes / zones').split('/').map((s) => s.trim());
  if (counts.length !== 2 || !counts.every((c) => /^\d+$/.test(c))) throw new Error(`line ${row.line}: bad Nodes / zones`);
  const [schedulableNodes, zones] = counts.map(Number);
  const spec: MemcachedSpec = {};
  const specText = cell(row, 'Spec');
  if (specText !== '-') {
    for (const field of specText.split(',').map((s) => s.trim())) {
      const [key, value] = field.split(':').map((s) => s.trim());
      if (key === 'size' && /^\d+$/.test(value)) spec.size = Number(value);
      else if (key === 'highAvailability' && MODES.includes(value as HighAvailabilityMode)) spec.highAvailability = value as HighAvailabilityMode;
      else throw new Error(`line ${row.line}: bad Spec field "${field}"`);
    }
  }
  return {
    spec,
    topology: {
      controlPlane: cp as ControlPlaneTopology,
      infrastructure: infra as InfrastructureTopology,
      source: 'Infrastructure',
      schedulableNodes,
      zones,
    },
  };
}

describe('topology: docs/topology.md sizing table', () => {
  const rows = parseSizingTable(readFileSync(findDoc(), 'utf8'));

  it('has rows for every profile and every rule', () => {
    expect(rows.length).to.be.at.least(15);
    const profiles = new Set(rows.map((r) => cell(r, 'Profile')));
    for (const p of ['SingleReplica', 'HighlyAvailable', 'DualReplica', 'HighlyAvailableArbiter', 'External', 'HighlyAvailable (override)', 'SingleReplica (override)']) {
      expect(profiles, p).to.include(p);
    }
    const notices = new Set(rows.map((r) => cell(r, 'Notice')));
    // HighAvailabilityDisabled needs highAvailability Disabled with size > 1,
    // which the CRD rejects, so no documented example can show it.
    for (const n of ['-', 'SingleNodeCluster', 'NotEnoughNodes']) expect(notices, n).to.include(n);
    for (const a of ['None', 'Preferred', 'Required']) expect(rows.map((r) => cell(r, 'Anti-affinity')), a).to.include(a);
  });

  for (const row of rows) {
    const title = `line ${row.line}: ${cell(row, 'Topology')}, ${cell(row, 'Spec')}, ${cell(row, 'Nodes / zones')}`;
    it(title, () => {
      const { spec, topology } = inputs(row);
      const p = placementFor(spec, topology, topology.schedulableNodes, topology.zones);
      const notice = cell(row, 'Notice');
      expect(
        {
          profile: p.profile,
          replicas: p.replicas,
          antiAffinity: p.antiAffinity,
          zoneSpread: p.zoneSpread,
          podDisruptionBudget: p.podDisruptionBudget,
          resourceProfile: p.resourceProfile,
          excludedNodeRoles: p.excludedNodeRoles,
          notices: p.notices.map((n) => n.reason),
        },
        title,
      ).to.deep.equal({
        profile: cell(row, 'Profile'),
        replicas: Number(cell(row, 'Replicas')),
        antiAffinity: cell(row, 'Anti-affinity'),
        zoneSpread: yesNo(row, 'Zone spread'),
        podDisruptionBudget: yesNo(row, 'PDB'),
        resourceProfile: cell(row, 'Resources'),
        excludedNodeRoles: cell(row, 'Never on').split(',').map((s) => s.trim()),
        notices: notice === '-' ? [] : notice.split(',').map((s) => s.trim()),
      });
    });
  }
});

describe('topology: the sizing table parser', () => {
  const doc = (table: string) => `intro\n${START} -->\n${table}\n${END}\nafter`;

  it('reads cells by header name, without backticks', () => {
    const rows = parseSizingTable(doc('| A | B |\n| --- | :---: |\n| `x` | y z |'));
    expect(rows).to.deep.equal([{ line: 5, cells: { A: 'x', B: 'y z' } }]);
  });

  it('rejects a missing table, a missing separator and ragged rows', () => {
    expect(() => parseSizingTable('no table here')).to.throw(/markers/);
    expect(() => parseSizingTable(doc('| A | B |\n| x | y |'))).to.throw(/separator/);
    expect(() => parseSizingTable(doc('| A | B |\n| --- | --- |\n| x |'))).to.throw(/1 cells/);
  });
});
