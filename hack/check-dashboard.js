#!/usr/bin/env node
/* global console, process -- a Node.js script */
// Checks a Grafana dashboard: valid JSON, at least one panel, and every panel
// query is PromQL that promtool parses. Grafana's variables are replaced with
// plain values first ($__rate_interval with a duration, $var with a string),
// then each query becomes a recording rule in a scratch rule file, because
// `promtool check rules` is the parser promtool offers for bare expressions.
// Usage: node hack/check-dashboard.js DASHBOARD.json [PROMTOOL]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = 'usage: node hack/check-dashboard.js DASHBOARD.json [PROMTOOL]';
let positionals;
try {
  ({ positionals } = parseArgs({ options: {}, strict: true, allowPositionals: true }));
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
const [file, promtool = 'promtool'] = positionals;
if (!file || positionals.length > 2) {
  console.error(USAGE);
  process.exit(2);
}

let dashboard;
try {
  dashboard = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`error: ${file} is not valid JSON: ${err.message}`);
  process.exit(1);
}

const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
if (panels.length === 0 || queries.length === 0) {
  console.error(`error: ${file} has no panels with queries`);
  process.exit(1);
}
const missing = queries.filter((q) => typeof q.expr !== 'string' || q.expr.trim() === '');
if (missing.length > 0) {
  console.error(`error: panels without a query: ${missing.map((q) => q.panel).join(', ')}`);
  process.exit(1);
}

const concrete = (expr) => expr.replace(/\$__(rate_)?interval/g, '5m').replace(/\$\{?(\w+)\}?/g, 'x');
// JSON is YAML, so the scratch rule file needs no YAML library.
const rules = { groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query${i}`, expr: concrete(q.expr) })) }] };
const dir = mkdtempSync(path.join(os.tmpdir(), 'dashboard-'));
try {
  const rulesFile = path.join(dir, 'queries.rules.json');
  writeFileSync(rulesFile, JSON.stringify(rules));
  const r = spawnSync(promtool, ['check', 'rules', rulesFile], { encoding: 'utf8' });
  if (r.error) {
    console.error(`error: cannot run ${promtool}: ${r.error.message} (scripts/install-deps.sh promtool installs it)`);
    process.exit(1);
  }
  if (r.status !== 0) {
    // promtool names the failing rule by index; map it back to the panel.
    const out = `${r.stdout}${r.stderr}`.replace(/dashboard:query(\d+)/g, (_, i) => `panel "${queries[Number(i)].panel}"`);
    console.error(`error: a dashboard query does not parse:\n${out}`);
    process.exit(1);
  }
  console.log(`${file}: ${panels.length} panels, ${queries.length} queries parse`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
