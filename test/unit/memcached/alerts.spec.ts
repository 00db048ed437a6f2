import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_RUNBOOK_BASE_URL, DEFAULT_THRESHOLDS, memcachedAlertGroup, operatorAlertGroup } from '../../../src/memcached/monitoring/alerts.js';
import { repoRoot } from '../../support/cluster.js';

describe('memcached/alerts', () => {
  it('config/prometheus/rules/memcached-alerts.yaml is the builder at the default thresholds (make alerts)', () => {
    const file = parseYaml(readFileSync(path.join(repoRoot, 'config', 'prometheus', 'rules', 'memcached-alerts.yaml'), 'utf8')) as unknown;
    expect(file).to.deep.equal({ groups: [memcachedAlertGroup(), operatorAlertGroup()] });
  });

  it("links every alert's runbook_url to its own file in docs/runbooks/, under the default base", () => {
    const rules = [...memcachedAlertGroup().rules, ...operatorAlertGroup().rules];
    expect(rules).to.have.length(9);
    for (const rule of rules) {
      const url = rule.annotations.runbook_url;
      expect(url, rule.alert).to.equal(`${DEFAULT_RUNBOOK_BASE_URL}/${rule.alert}.md`);
      // The default base is this repository's docs/runbooks: the path after it must name a file there.
      const file = url.slice(url.indexOf('/docs/runbooks/') + 1);
      expect(file, rule.alert).to.equal(`docs/runbooks/${rule.alert}.md`);
      expect(existsSync(path.join(repoRoot, file)), `${file} exists`).to.equal(true);
    }
  });

  it('builds runbook_url from the base URL it is given (--runbook-base-url), with or without a trailing slash', () => {
    for (const base of ['https://wiki.example.com/memcached/runbooks', 'https://wiki.example.com/memcached/runbooks/']) {
      const urls = [...memcachedAlertGroup(DEFAULT_THRESHOLDS, '', base).rules, ...operatorAlertGroup(DEFAULT_THRESHOLDS, base).rules].map((r) => r.annotations.runbook_url);
      expect(urls).to.include('https://wiki.example.com/memcached/runbooks/MemcachedDown.md');
      expect(urls).to.include('https://wiki.example.com/memcached/runbooks/MemcachedOperatorNoLeader.md');
      for (const url of urls) expect(url).to.match(/^https:\/\/wiki\.example\.com\/memcached\/runbooks\/Memcached[A-Za-z]+\.md$/);
    }
  });

  it('narrows every memcached series to one Memcached with a selector', () => {
    const selector = 'namespace="shop", service="cache-metrics"';
    const group = memcachedAlertGroup(DEFAULT_THRESHOLDS, selector);
    for (const rule of group.rules) {
      const series = rule.expr.match(/memcached_[a-z_]+(\{[^}]*\})?/g) ?? [];
      expect(series.length, rule.alert).to.be.greaterThan(0);
      for (const s of series) expect(s, `${rule.alert}: ${s}`).to.include(selector);
    }
  });

  it('puts the thresholds in the expressions and the descriptions', () => {
    const t = { ...DEFAULT_THRESHOLDS, connectionsWarning: 0.7, evictionsPerSecond: 25, hitRatio: 0.5, hitRatioMinGetsPerSecond: 3 };
    const byName = Object.fromEntries(memcachedAlertGroup(t).rules.map((r) => [r.alert, r]));
    expect(byName.MemcachedConnectionsNearLimit.expr).to.match(/> 0\.70$/);
    expect(byName.MemcachedConnectionsNearLimit.annotations.description).to.match(/^More than 70% /);
    expect(byName.MemcachedEvicting.expr).to.match(/> 25$/);
    expect(byName.MemcachedLowHitRatio.expr).to.match(/\) < 0\.50\nand\n.*> 3\n$/);
    expect(byName.MemcachedLowHitRatio.annotations.description).to.include('below 50%').and.include('more than 3 gets/s');
  });

  it('builds rules promtool accepts, with and without a selector', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'alerts-'));
    try {
      const file = path.join(dir, 'rules.json');
      const groups = [memcachedAlertGroup(DEFAULT_THRESHOLDS, 'namespace="shop", service="cache-metrics"'), operatorAlertGroup({ ...DEFAULT_THRESHOLDS, queueDepth: 5 })];
      writeFileSync(file, JSON.stringify({ groups }));
      expect(execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })).to.include('SUCCESS: 9 rules found');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
