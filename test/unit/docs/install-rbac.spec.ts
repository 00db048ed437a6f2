// docs/install.md's table of rights against config/rbac: one row per rule of
// every Role and ClusterRole that config/rbac/kustomization.yaml installs, no
// row more and none less, so the page says exactly what make deploy and the
// bundle grant.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { repoRoot } from '../../support/cluster.js';
import { inlineCode, markedTable, readPage, type TableRow } from './markdown.js';

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

interface RbacRole {
  kind: 'Role' | 'ClusterRole';
  metadata: { name: string };
  rules: PolicyRule[];
  /** The file under config/rbac it came from. */
  file: string;
}

/** One rule as the table writes it: role, kind, API group, resources, verbs (lists sorted). */
export function ruleKey(role: string, kind: string, rule: PolicyRule): string {
  const list = (items: string[]) => [...items].sort().join(', ');
  const groups = rule.nonResourceURLs ? '-' : list((rule.apiGroups ?? []).map((g) => (g === '' ? 'core' : g)));
  const resources = list(rule.nonResourceURLs ?? rule.resources ?? []);
  return `${role} | ${kind} | ${groups} | ${resources} | ${list(rule.verbs)}`;
}

/** A table row as the same key: code spans unwrapped, lists split on commas. */
export function rowKey(row: TableRow): string {
  const cell = (name: string) => {
    const value = row.cells[name];
    if (value === undefined) throw new Error(`line ${row.line}: no "${name}" column`);
    return value;
  };
  const items = (name: string) => {
    const text = cell(name);
    const code = inlineCode(text);
    return (code.length > 0 ? code : text.split(',')).map((s) => s.trim()).filter(Boolean);
  };
  const [role] = items('Role');
  const kind = cell('Kind');
  const groups = cell('API group') === '-' ? undefined : items('API group').map((g) => (g === 'core' ? '' : g));
  const rule: PolicyRule = groups === undefined ? { nonResourceURLs: items('Resources'), verbs: items('Verbs') } : { apiGroups: groups, resources: items('Resources'), verbs: items('Verbs') };
  return ruleKey(role, kind, rule);
}

function configRoles(): RbacRole[] {
  const dir = path.join(repoRoot, 'config', 'rbac');
  const { resources } = parseYaml(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return resources.flatMap((file) =>
    parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))
      .map((d) => d.toJS() as RbacRole | null)
      .filter((o): o is RbacRole => o !== null && (o.kind === 'Role' || o.kind === 'ClusterRole'))
      .map((o) => ({ ...o, file: `config/rbac/${file}` })),
  );
}

describe('docs/install.md and config/rbac', () => {
  const page = readPage('docs/install.md');
  const roles = configRoles();
  const want = new Map(roles.flatMap((r) => r.rules.map((rule) => [ruleKey(r.metadata.name, r.kind, rule), r.file] as const)));
  // Read in the tests, so a malformed table fails them with its line.
  const table = () => new Map(markedTable(page.text, 'rbac-table').map((row) => [rowKey(row), row.line] as const));

  it('config/rbac holds the manager\'s roles (so the comparison compares something)', () => {
    expect(roles.map((r) => r.metadata.name)).to.include.members(['manager-role', 'leader-election-role']);
  });

  it('lists every rule of config/rbac', () => {
    const have = table();
    const missing = [...want].filter(([key]) => !have.has(key)).map(([key, file]) => `${page.file} lacks ${file}'s rule: ${key}`);
    expect(missing).to.deep.equal([]);
  });

  it('lists no rule config/rbac does not grant', () => {
    const extra = [...table()].filter(([key]) => !want.has(key)).map(([key, line]) => `${page.file}:${line} grants what config/rbac does not: ${key}`);
    expect(extra).to.deep.equal([]);
  });
});

describe('reading the rights table', () => {
  const row = (cells: Record<string, string>): TableRow => ({ line: 1, cells });

  it('reads the core group, code spans and plain lists alike', () => {
    const key = rowKey(row({ Role: '`manager-role`', Kind: 'ClusterRole', 'API group': 'core', Resources: '`services`, `pods`', Verbs: 'watch, get' }));
    expect(key).to.equal(ruleKey('manager-role', 'ClusterRole', { apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'watch'] }));
  });

  it('reads a non-resource rule', () => {
    const key = rowKey(row({ Role: '`metrics-reader`', Kind: 'ClusterRole', 'API group': '-', Resources: '`/metrics`', Verbs: 'get' }));
    expect(key).to.equal('metrics-reader | ClusterRole | - | /metrics | get');
  });

  it('tells a missing column', () => {
    expect(() => rowKey(row({ Role: 'x' }))).to.throw(/no "Kind" column/);
  });
});
