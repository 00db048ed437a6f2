// The Memcached examples a user can copy from the documentation: every YAML
// block of the pages (README.md, docs/) and of the CSV's description
// (OperatorHub shows it) that is a Memcached, or a `spec:` fragment of one;
// config/samples; and the Spec column of docs/topology.md's sizing table.
// test/integration/docs/examples.spec.ts applies each to the cluster with
// --dry-run=server, so the CRD's schema and CEL rules judge them.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { repoRoot } from '../../support/cluster.js';
import { codeBlocks, documentationPages, markedTable, type Page } from './markdown.js';

export const API_VERSION = 'cache.example.com/v1alpha1';

export interface Example {
  /** Where a reader finds it: file:line, several when the same spec appears more than once. */
  where: string[];
  /** The Memcached to apply, or undefined when the block could not be read. */
  object?: Record<string, unknown>;
  /** Why the block could not be read as a Memcached. */
  error?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A document as a Memcached: a whole one (its namespace dropped), or a `spec:` fragment wrapped in one. */
export function asMemcached(doc: unknown, name: string): Record<string, unknown> | undefined {
  if (!isObject(doc)) return undefined;
  if (doc.kind === 'Memcached') {
    const metadata = isObject(doc.metadata) ? { ...doc.metadata } : {};
    delete metadata.namespace;
    return { ...doc, metadata: { name, ...metadata } };
  }
  const keys = Object.keys(doc);
  if (doc.kind === undefined && keys.includes('spec') && keys.every((k) => k === 'spec' || k === 'metadata')) {
    return { apiVersion: API_VERSION, kind: 'Memcached', metadata: { name }, spec: doc.spec };
  }
  return undefined;
}

/** The Memcached examples in a page's YAML blocks. */
export function yamlExamples(page: Page): Example[] {
  return codeBlocks(page.text)
    .filter((b) => b.lang === 'yaml' || b.lang === 'yml')
    .flatMap((block): Example[] => {
      const where = [`${page.file}:${block.line}`];
      const docs = parseAllDocuments(block.text);
      const broken = docs.find((d) => d.errors.length > 0);
      if (broken) return /kind:\s*Memcached|^spec:/m.test(block.text) ? [{ where, error: broken.errors[0].message }] : [];
      return docs.flatMap((d, i): Example[] => {
        const object = asMemcached(d.toJS(), `example-${block.line}-${i}`);
        return object ? [{ where, object }] : [];
      });
    });
}

/** The sizing table's Spec cells ("`highAvailability: Enabled, size: 3`", "-") as Memcacheds, one per distinct spec. */
export function sizingTableExamples(page: Page): Example[] {
  const bySpec = new Map<string, Example>();
  for (const row of markedTable(page.text, 'topology-sizing-table')) {
    const where = `${page.file}:${row.line}`;
    const text = (row.cells.Spec ?? '').replaceAll('`', '').trim();
    let spec: unknown;
    try {
      spec = text === '-' ? {} : parseYaml(`{${text}}`);
    } catch (err) {
      bySpec.set(where, { where: [where], error: `the Spec cell "${text}" is not "field: value, ...": ${(err as Error).message}` });
      continue;
    }
    const key = JSON.stringify(spec);
    const seen = bySpec.get(key);
    if (seen) seen.where.push(where);
    else bySpec.set(key, { where: [where], object: { apiVersion: API_VERSION, kind: 'Memcached', metadata: { name: `sizing-${row.line}` }, spec } });
  }
  return [...bySpec.values()];
}

/** Every example the checks apply. */
export function allExamples(): Example[] {
  const csvFile = 'config/manifests/bases/memcached-operator.clusterserviceversion.yaml';
  const csv = parseYaml(readFileSync(path.join(repoRoot, csvFile), 'utf8')) as { spec: { description: string } };
  const samples = readdirSync(path.join(repoRoot, 'config', 'samples'))
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .map((f) => `config/samples/${f}`);
  return [
    ...documentationPages().flatMap(yamlExamples),
    ...yamlExamples({ file: `${csvFile} (spec.description)`, text: csv.spec.description }),
    ...samples.flatMap((file) => yamlExamples({ file, text: '```yaml\n' + readFileSync(path.join(repoRoot, file), 'utf8') + '\n```' })),
    ...sizingTableExamples({ file: 'docs/topology.md', text: readFileSync(path.join(repoRoot, 'docs', 'topology.md'), 'utf8') }),
  ];
}
