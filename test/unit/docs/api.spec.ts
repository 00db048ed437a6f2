// docs/api.md's field tables against the CRD (config/crd/bases): every field
// of spec and status, walked through the openAPIV3Schema, has a row; every
// row names a field the schema has; a spec row's default is the schema's.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../../support/cluster.js';
import { inlineCode, markedTable, readPage, type TableRow } from './markdown.js';

export interface SchemaNode {
  type?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

export interface SchemaField {
  path: string;
  default?: unknown;
}

/**
 * The fields under a schema node, depth first: an object's properties and
 * theirs. Lists and maps are fields of their own; their items are the
 * Kubernetes types the descriptions name (tolerations, quantities,
 * conditions), not walked.
 */
export function schemaFields(node: SchemaNode, prefix: string): SchemaField[] {
  return Object.entries(node.properties ?? {}).flatMap(([name, child]) => {
    const field: SchemaField = { path: `${prefix}.${name}`, ...(child.default !== undefined ? { default: child.default } : {}) };
    return [field, ...schemaFields(child, field.path)];
  });
}

/** The fields a table row names: the code spans of its Field cell, a `[...]` suffix dropped. */
export function rowFields(row: TableRow): string[] {
  const cell = row.cells.Field;
  if (cell === undefined) throw new Error(`line ${row.line}: no "Field" column`);
  const fields = inlineCode(cell).map((f) => f.replace(/\[[^\]]*\]$/, ''));
  if (fields.length === 0) throw new Error(`line ${row.line}: the Field cell names no field in backticks`);
  return fields;
}

/** A default as the table writes it: `-` for none, else its value. */
export function defaultText(value: unknown): string {
  if (value === undefined) return '-';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function crdSchema(): SchemaNode {
  const crd = parseYaml(readFileSync(path.join(repoRoot, 'config', 'crd', 'bases', 'cache.example.com_memcacheds.yaml'), 'utf8')) as {
    spec: { versions: { storage: boolean; schema: { openAPIV3Schema: SchemaNode } }[] };
  };
  return crd.spec.versions.find((v) => v.storage)!.schema.openAPIV3Schema;
}

describe('docs/api.md and the CRD schema', () => {
  const page = readPage('docs/api.md');
  const schema = crdSchema();
  // Read in the tests, so a malformed table fails them with its line.
  const tables = {
    spec: () => markedTable(page.text, 'spec-fields'),
    status: () => markedTable(page.text, 'status-fields'),
  };

  for (const part of ['spec', 'status'] as const) {
    const fields = schemaFields(schema.properties![part], part);
    const rows = () => tables[part]();
    const documented = () => new Set(rows().flatMap(rowFields));

    it(`the schema has ${part} fields (so the comparison compares something)`, () => {
      expect(fields.length).to.be.at.least(part === 'spec' ? 30 : 10);
    });

    it(`documents every ${part} field of the schema`, () => {
      const have = documented();
      const missing = fields.filter((f) => !have.has(f.path)).map((f) => `${page.file} lacks ${f.path}`);
      expect(missing).to.deep.equal([]);
    });

    it(`documents no ${part} field the schema lacks`, () => {
      const known = new Set(fields.map((f) => f.path));
      const extra = rows().flatMap((row) => rowFields(row).filter((f) => !known.has(f)).map((f) => `${page.file}:${row.line}: ${f} is not in the CRD`));
      expect(extra).to.deep.equal([]);
    });
  }

  it('gives each spec field the schema\'s default', () => {
    const defaults = new Map(schemaFields(schema.properties!.spec, 'spec').map((f) => [f.path, defaultText(f.default)]));
    const wrong = tables.spec().flatMap((row) => {
      const cell = (row.cells.Default ?? '').replaceAll('`', '');
      return rowFields(row)
        .filter((f) => defaults.has(f) && defaults.get(f) !== cell)
        .map((f) => `${page.file}:${row.line}: ${f} default "${cell}", the CRD's is "${defaults.get(f)}"`);
    });
    expect(wrong).to.deep.equal([]);
  });
});

describe('walking a schema', () => {
  it('lists nested object fields with their defaults, and stops at lists and maps', () => {
    const node: SchemaNode = {
      properties: {
        size: { type: 'integer' },
        port: { type: 'integer', default: 11211 },
        tls: { type: 'object', properties: { enabled: { type: 'boolean', default: false } } },
        tolerations: { type: 'array', items: { type: 'object', properties: { key: { type: 'string' } } } },
      },
    };
    expect(schemaFields(node, 'spec')).to.deep.equal([
      { path: 'spec.size' },
      { path: 'spec.port', default: 11211 },
      { path: 'spec.tls' },
      { path: 'spec.tls.enabled', default: false },
      { path: 'spec.tolerations' },
    ]);
  });

  it('reads the fields of a row, several per cell, without the condition type', () => {
    const row = { line: 3, cells: { Field: '`status.conditions[Saturated]`, `status.conditions[Evicting]`' } };
    expect(rowFields(row)).to.deep.equal(['status.conditions', 'status.conditions']);
    expect(() => rowFields({ line: 4, cells: { Field: 'size' } })).to.throw(/line 4/);
  });

  it('writes defaults as the table does', () => {
    expect([undefined, 'Auto', 64, false].map(defaultText)).to.deep.equal(['-', 'Auto', '64', 'false']);
  });
});
