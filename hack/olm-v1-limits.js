#!/usr/bin/env node
/* global console, process -- a Node.js script */
// Checks that a registry+v1 bundle stays inside what OLM v1 (operator-controller)
// installs, as its documentation states the limits:
//   - the bundle format is registry+v1;
//   - the CSV supports the AllNamespaces install mode (OLM v1's only GA mode;
//     SingleNamespace/OwnNamespace are behind a feature gate);
//   - no dependencies: no olm.gvk.required, olm.package.required or
//     olm.constraint in metadata/dependencies.yaml or metadata/properties.yaml,
//     and no required CRDs or APIServices in the CSV;
//   - no owned APIServices (OLM v1 does not convert them);
//   - webhooks are supported, and need no check here.
//   node hack/olm-v1-limits.js BUNDLE_DIR
// Prints each problem and exits 1 if there is any. make bundle-validate runs it.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const DEPENDENCY_TYPES = new Set(['olm.gvk.required', 'olm.package.required', 'olm.constraint', 'olm.gvk', 'olm.package']);

/**
 * The problems OLM v1 would report for a bundle, from its parsed parts:
 * annotations (metadata/annotations.yaml's map), csv, dependencies (entries of
 * metadata/dependencies.yaml) and properties (entries of metadata/properties.yaml).
 */
export function olmV1Problems({ annotations = {}, csv, dependencies = [], properties = [] }) {
  const problems = [];
  const mediatype = annotations['operators.operatorframework.io.bundle.mediatype.v1'];
  if (mediatype !== 'registry+v1') problems.push(`bundle mediatype is ${mediatype ?? 'unset'}, OLM v1 installs registry+v1 only`);
  if (!csv) return [...problems, 'no ClusterServiceVersion in manifests/'];
  const modes = csv.spec?.installModes ?? [];
  if (!modes.some((m) => m.type === 'AllNamespaces' && m.supported)) problems.push('the CSV does not support the AllNamespaces install mode, which OLM v1 requires');
  for (const d of dependencies) {
    if (DEPENDENCY_TYPES.has(d?.type)) problems.push(`metadata/dependencies.yaml declares a ${d.type} dependency; OLM v1 resolves no dependencies`);
  }
  for (const p of properties) {
    if (['olm.gvk.required', 'olm.package.required', 'olm.constraint'].includes(p?.type)) problems.push(`metadata/properties.yaml declares ${p.type}; OLM v1 resolves no dependencies`);
  }
  if ((csv.spec?.customresourcedefinitions?.required ?? []).length > 0) problems.push('the CSV requires CRDs it does not own; OLM v1 resolves no dependencies');
  if ((csv.spec?.apiservicedefinitions?.required ?? []).length > 0) problems.push('the CSV requires APIServices; OLM v1 resolves no dependencies');
  if ((csv.spec?.apiservicedefinitions?.owned ?? []).length > 0) problems.push('the CSV owns APIServices; OLM v1 does not install them');
  return problems;
}

/** Reads a bundle directory into olmV1Problems' input. */
export function readBundle(dir) {
  const yamlOf = (file) => (existsSync(file) ? parse(readFileSync(file, 'utf8')) : undefined);
  const manifests = path.join(dir, 'manifests');
  const csvFile = readdirSync(manifests).find((f) => f.endsWith('.clusterserviceversion.yaml'));
  return {
    annotations: yamlOf(path.join(dir, 'metadata', 'annotations.yaml'))?.annotations ?? {},
    csv: csvFile ? yamlOf(path.join(manifests, csvFile)) : undefined,
    dependencies: yamlOf(path.join(dir, 'metadata', 'dependencies.yaml'))?.dependencies ?? [],
    properties: yamlOf(path.join(dir, 'metadata', 'properties.yaml'))?.properties ?? [],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: olm-v1-limits.js BUNDLE_DIR');
    process.exit(2);
  }
  const problems = olmV1Problems(readBundle(dir));
  for (const p of problems) console.error(`olm-v1: ${p}`);
  if (problems.length > 0) process.exit(1);
  console.log(`olm-v1: ${dir} stays inside OLM v1's limits for registry+v1 bundles (AllNamespaces, no dependencies, no APIServices)`);
}
