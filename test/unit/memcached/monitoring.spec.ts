import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { validateMemcached } from '../../../src/api/validator.js';
import type { MemcachedSpec } from '../../../src/api/types.js';
import { DEFAULT_THRESHOLDS, thresholdsFor } from '../../../src/memcached/monitoring/alerts.js';
import { buildStatefulSet } from '../../../src/memcached/children/statefulset.js';
import {
  buildPodMonitor,
  buildPrometheusRule,
  discoveryTargets,
  monitoringEnabled,
  scrapeRefusal,
  seriesSelector,
  statsPort,
  withExporterSidecar,
} from '../../../src/memcached/monitoring/prometheus.js';
import { COMPACT, defaulted, memcached } from './fixtures.js';

const EXPORTER = 'memcached-operator-exporter.ops.svc:9150';

function validate(spec: unknown) {
  return validateMemcached({ apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name: 'c' }, spec });
}

function pod(name: string, ip: string, ports: number[], managedBy = 'memcached-operator'): V1Pod {
  return {
    metadata: { name, namespace: 'apps', labels: { 'app.kubernetes.io/managed-by': managedBy } },
    spec: { containers: [{ name: 'memcached', ports: ports.map((p) => ({ containerPort: p })) }, { name: 'other', ports: [{ containerPort: 8080 }] }] },
    status: { podIP: ip, podIPs: [{ ip }, { ip: 'fd00::5' }] },
  };
}

describe('memcached/monitoring', () => {
  describe('spec.monitoring in the CRD', () => {
    it('is on by default; enabled false turns it off', () => {
      expect(monitoringEnabled(defaulted({}))).to.equal(true);
      expect(monitoringEnabled(defaulted({ monitoring: {} }))).to.equal(true);
      expect(defaulted({ monitoring: {} }).monitoring?.enabled).to.equal(true);
      expect(monitoringEnabled(defaulted({ monitoring: { enabled: false } }))).to.equal(false);
    });

    const cases: [string, unknown, RegExp | undefined][] = [
      ['all overrides', { alerts: { connectionsWarningPercent: 70, connectionsCriticalPercent: 90, evictionsPerSecond: '0.5', hitRatioPercent: 60, hitRatioMinGetsPerSecond: '2', downFor: '30s', evictingFor: '1m', lowHitRatioFor: '1h30m' } }, undefined],
      ['an exporter image and an interval', { exporterImage: 'registry.local/memcached-exporter:v0.15.3', interval: '15s' }, undefined],
      ['warning not below critical', { alerts: { connectionsWarningPercent: 95, connectionsCriticalPercent: 95 } }, /connectionsWarningPercent must be below alerts.connectionsCriticalPercent/],
      ['a percent above 100', { alerts: { hitRatioPercent: 101 } }, /hitRatioPercent: must be <= 100/],
      ['a rate that is not a decimal', { alerts: { evictionsPerSecond: '1e3' } }, /evictionsPerSecond: must match/],
      ['a duration Prometheus does not read', { alerts: { downFor: '1 minute' } }, /downFor: must match/],
      ['an empty exporter image', { exporterImage: '' }, /exporterImage: must NOT have fewer than 1 characters/],
      ['an unknown field is pruned, not rejected', { alerts: { surprise: 1 } }, undefined],
    ];
    for (const [name, monitoring, error] of cases) {
      it(`${error ? 'rejects' : 'accepts'} ${name}`, () => {
        const result = validate({ monitoring });
        if (error) {
          expect(result.valid, name).to.equal(false);
          expect(result.valid === false && result.message).to.match(error);
        } else {
          expect(result.valid, result.valid ? '' : result.message).to.equal(true);
        }
      });
    }
  });

  describe('thresholdsFor', () => {
    it('is the defaults without overrides', () => {
      expect(thresholdsFor(undefined)).to.deep.equal(DEFAULT_THRESHOLDS);
      expect(thresholdsFor({})).to.deep.equal(DEFAULT_THRESHOLDS);
    });
    it('turns percentages into shares and decimal strings into numbers', () => {
      expect(thresholdsFor({ connectionsWarningPercent: 70, connectionsCriticalPercent: 90, evictionsPerSecond: '0.5', hitRatioPercent: 60, hitRatioMinGetsPerSecond: '2', downFor: '30s', evictingFor: '1m', lowHitRatioFor: '2h' })).to.deep.equal({
        ...DEFAULT_THRESHOLDS,
        connectionsWarning: 0.7,
        connectionsCritical: 0.9,
        evictionsPerSecond: 0.5,
        hitRatio: 0.6,
        hitRatioMinGetsPerSecond: 2,
        downFor: '30s',
        evictingFor: '1m',
        lowHitRatioFor: '2h',
      });
    });
  });

  describe('buildPodMonitor', () => {
    it('scrapes each pod through the operator exporter (the blackbox pattern)', () => {
      const mc = memcached();
      const pm = buildPodMonitor(mc, defaulted({ monitoring: { interval: '15s' } }), EXPORTER)!;
      expect(pm).to.deep.include({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor' });
      expect(pm.metadata).to.deep.include({ name: 'cache', namespace: 'apps' });
      expect(pm.metadata.ownerReferences?.[0]).to.include({ kind: 'Memcached', controller: true, uid: mc.metadata.uid });
      expect(pm.spec.selector).to.deep.equal({ matchLabels: { 'app.kubernetes.io/name': 'memcached', 'app.kubernetes.io/instance': 'cache' } });
      const [endpoint] = pm.spec.podMetricsEndpoints as Record<string, unknown>[];
      expect(endpoint).to.deep.include({ port: 'memcached', path: '/scrape', interval: '15s', scheme: 'http' });
      expect(endpoint.relabelings).to.deep.equal([
        { sourceLabels: ['__address__'], targetLabel: '__param_target', action: 'replace' },
        { sourceLabels: ['__address__'], targetLabel: 'instance', action: 'replace' },
        { targetLabel: '__address__', replacement: EXPORTER, action: 'replace' },
        { targetLabel: 'service', replacement: 'cache-headless', action: 'replace' },
      ]);
    });

    it('with TLS scrapes the plaintext listener, if there is one', () => {
      const spec = defaulted({ tls: { enabled: true, plaintextPort: 11212 } });
      expect(statsPort(spec)).to.deep.equal({ name: 'plaintext', port: 11212 });
      const [endpoint] = buildPodMonitor(memcached(), spec, EXPORTER)!.spec.podMetricsEndpoints as Record<string, unknown>[];
      expect(endpoint.port).to.equal('plaintext');
    });

    it('with exporterImage scrapes the sidecar /metrics directly, exporter address or not', () => {
      const spec = defaulted({ monitoring: { exporterImage: 'exporter:1' } });
      for (const address of [EXPORTER, undefined]) {
        const [endpoint] = buildPodMonitor(memcached(), spec, address)!.spec.podMetricsEndpoints as Record<string, unknown>[];
        expect(endpoint).to.deep.include({ port: 'metrics', path: '/metrics' });
        expect(endpoint.relabelings).to.deep.equal([{ targetLabel: 'service', replacement: 'cache-headless', action: 'replace' }]);
      }
    });

    it('builds nothing when monitoring is off, or when there is no exporter to scrape through', () => {
      expect(buildPodMonitor(memcached(), defaulted({ monitoring: { enabled: false } }), EXPORTER)).to.equal(undefined);
      expect(buildPodMonitor(memcached(), defaulted({ monitoring: { enabled: false, exporterImage: 'x:1' } }), EXPORTER)).to.equal(undefined);
      expect(buildPodMonitor(memcached(), defaulted({}), undefined)).to.equal(undefined);
    });
  });

  describe('buildPrometheusRule', () => {
    it('narrows the alerts to this Memcached and applies its overrides', () => {
      const mc = memcached();
      const rule = buildPrometheusRule(mc, defaulted({ monitoring: { alerts: { evictionsPerSecond: '0.5', evictingFor: '1m', downFor: '20s' } } }))!;
      expect(rule).to.deep.include({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' });
      const [group] = rule.spec.groups as { name: string; rules: { alert: string; expr: string; for?: string }[] }[];
      expect(group.name).to.equal('memcached.apps.cache');
      const byName = Object.fromEntries(group.rules.map((r) => [r.alert, r]));
      expect(byName.MemcachedEvicting).to.deep.include({ for: '1m' });
      expect(byName.MemcachedEvicting.expr).to.match(/> 0\.5$/);
      expect(byName.MemcachedDown).to.deep.include({ for: '20s' });
      for (const r of group.rules) expect(r.expr, r.alert).to.include(seriesSelector(mc));
      expect(seriesSelector(mc)).to.equal('namespace="apps", service="cache-headless"');
      expect(buildPrometheusRule(mc, defaulted({ monitoring: { enabled: false } }))).to.equal(undefined);
    });

    it('builds rules promtool accepts', () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'prule-'));
      try {
        const file = path.join(dir, 'rules.json');
        const rule = buildPrometheusRule(memcached(), defaulted({ monitoring: { alerts: { downFor: '20s', hitRatioMinGetsPerSecond: '0.25' } } }))!;
        writeFileSync(file, JSON.stringify(rule.spec));
        expect(execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })).to.include('SUCCESS: 6 rules found');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('withExporterSidecar', () => {
    const opts = { defaultImage: 'memcached:1', replicas: 3 };
    const statefulSetFor = (spec: MemcachedSpec) => withExporterSidecar(buildStatefulSet(memcached(), spec, COMPACT, opts), spec);

    it('adds nothing by default, so turning monitoring on or off rolls no pod', () => {
      const plain = buildStatefulSet(memcached(), defaulted({}), COMPACT, opts);
      expect(statefulSetFor(defaulted({}))).to.deep.equal(plain);
      expect(statefulSetFor(defaulted({ monitoring: { enabled: false, exporterImage: 'x:1' } }))).to.deep.equal(plain);
    });

    it('adds a restricted, bounded sidecar that reads memcached on localhost', () => {
      const containers = statefulSetFor(defaulted({ containerPort: 11311, monitoring: { exporterImage: 'exporter:1' } })).spec!.template.spec!.containers;
      expect(containers.map((c) => c.name)).to.deep.equal(['memcached', 'exporter']);
      const sidecar = containers[1];
      expect(sidecar.image).to.equal('exporter:1');
      expect(sidecar.args).to.include('--memcached.address=localhost:11311');
      expect(sidecar.ports).to.deep.equal([{ name: 'metrics', containerPort: 9150, protocol: 'TCP' }]);
      expect(sidecar.securityContext).to.deep.equal({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true, runAsNonRoot: true });
      expect(sidecar.resources?.requests).to.have.keys('cpu', 'memory');
      expect(sidecar.resources?.limits).to.have.keys('cpu', 'memory');
    });
  });

  describe('scrapeRefusal (no SSRF through the exporter)', () => {
    const pods = [pod('cache-a', '10.0.0.5', [11211, 11212]), pod('stranger', '10.0.0.9', [11211], 'someone-else')];
    const cases: [string, string, number, RegExp | undefined][] = [
      ['a managed pod memcached port', '10.0.0.5', 11211, undefined],
      ['its second listener', '10.0.0.5', 11212, undefined],
      ['its IPv6 address', 'fd00::5', 11211, undefined],
      ['another port of a managed pod', '10.0.0.5', 8080, /port 8080 is not a memcached port of pod apps\/cache-a/],
      ['a pod the operator does not manage', '10.0.0.9', 11211, /10\.0\.0\.9 is not the address of a memcached pod/],
      ['any other address', '169.254.169.254', 80, /not the address of a memcached pod/],
    ];
    for (const [name, host, port, refusal] of cases) {
      it(`${refusal ? 'refuses' : 'allows'} ${name}`, () => {
        const got = scrapeRefusal(pods, host, port);
        if (refusal) expect(got).to.match(refusal);
        else expect(got).to.equal(undefined);
      });
    }
  });

  describe('discoveryTargets (HTTP SD for a Prometheus without Kubernetes discovery)', () => {
    it('lists every running pod of this Memcached, not Ready ones only, with the PodMonitor labels', () => {
      const mine = (name: string, ip: string, extra: Partial<V1Pod['status']> = {}): V1Pod => ({
        metadata: { name, namespace: 'apps', labels: { 'app.kubernetes.io/name': 'memcached', 'app.kubernetes.io/instance': 'cache' } },
        status: { podIP: ip, phase: 'Running', ...extra },
      });
      const pods = [
        mine('cache-b', '10.0.0.2', { conditions: [{ type: 'Ready', status: 'False' }] }),
        mine('cache-a', '10.0.0.1'),
        mine('cache-done', '10.0.0.3', { phase: 'Succeeded' }),
        mine('cache-pending', ''),
        { ...mine('other', '10.0.0.4'), metadata: { name: 'other', namespace: 'apps', labels: { 'app.kubernetes.io/name': 'memcached', 'app.kubernetes.io/instance': 'other' } } },
        mine('cache-v6', 'fd00::7'),
      ];
      expect(discoveryTargets(memcached(), defaulted({ containerPort: 11311 }), pods)).to.deep.equal([
        { targets: ['10.0.0.1:11311'], labels: { namespace: 'apps', pod: 'cache-a', container: 'memcached' } },
        { targets: ['10.0.0.2:11311'], labels: { namespace: 'apps', pod: 'cache-b', container: 'memcached' } },
        { targets: ['[fd00::7]:11311'], labels: { namespace: 'apps', pod: 'cache-v6', container: 'memcached' } },
      ]);
    });
  });
});
