// Monitoring proven on a real Prometheus (spec.monitoring): prometheus-operator and
// Prometheus, each built from its pinned Go module (Prometheus with Kubernetes
// service discovery only), as local images (test/kind/images.sh
// monitoring-images), run on the kind cluster. A Memcached gets its PodMonitor
// and PrometheusRule from the operator; a Prometheus CR selects both, and
// Prometheus discovers every memcached pod through the PodMonitor's pod
// discovery (RBAC: a Role on pods in the Memcached's namespace only) and
// scrapes it through the operator's multi-target exporter. Then: the hit ratio
// Prometheus computes matches real traffic; filling the cache past its limit
// makes MemcachedEvicting go pending, then firing; memcached killed makes
// MemcachedDown fire, and it resolves once memcached is back. The fault to
// firing times go to the results file.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { eventually, repoRoot } from '../../support/cluster.js';
import { describePods, isPodReady, type Cluster } from '../../integration/topology/support.js';
import { deleteNamespaces, k, kRun, kRunAsync, restrictedNamespace, run } from '../support.js';
import { deployOperator, FILL_SCRIPT, kindCluster, memcachedImage, recordResult, startClientPod } from './support.js';

const PROM_NS = 'e2e-prometheus';
const PROMETHEUS = 'e2e';
const PROM_POD = `prometheus-${PROMETHEUS}-0`;
const MC = 'monitored';
/** The label the operator puts on everything it manages; the Prometheus CR selects our PodMonitor and PrometheusRule by it. */
const MANAGED = { 'app.kubernetes.io/managed-by': 'memcached-operator' };

/** The monitoring images' local names, as test/kind/images.sh prints them. */
function monitoringImages(): Record<string, string> {
  const r = run('test/kind/images.sh', ['print-env'], { cwd: repoRoot });
  if (r.status !== 0) throw new Error(`images.sh print-env: ${r.stderr}`);
  const env = Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  for (const name of ['PROMETHEUS_OPERATOR_IMG', 'PROMETHEUS_CONFIG_RELOADER_IMG', 'PROMETHEUS_IMG']) {
    if (!env[name]) throw new Error(`images.sh print-env names no ${name}`);
  }
  return env;
}

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

interface PromTarget {
  scrapePool: string;
  health: 'up' | 'down' | 'unknown';
  labels: Record<string, string>;
  discoveredLabels: Record<string, string>;
  lastError: string;
}

interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

/** GET on Prometheus's HTTP API through the apiserver's pod proxy. */
function promApi<T>(pathAndQuery: string): T {
  const r = kRun(['get', '--raw', `/api/v1/namespaces/${PROM_NS}/pods/${PROM_POD}:9090/proxy${pathAndQuery}`]);
  if (r.status !== 0) throw new Error(`Prometheus ${pathAndQuery}: ${r.stderr}`);
  const body = JSON.parse(r.stdout) as { status: string; data: T };
  if (body.status !== 'success') throw new Error(`Prometheus ${pathAndQuery}: ${r.stdout}`);
  return body.data;
}

function query(promql: string): PromVector[] {
  return promApi<{ result: PromVector[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`).result;
}

function scalar(promql: string): number | undefined {
  const [first] = query(promql);
  return first ? Number(first.value[1]) : undefined;
}

function targets(): PromTarget[] {
  return promApi<{ activeTargets: PromTarget[] }>('/api/v1/targets?state=active').activeTargets;
}

function alerts(name: string, namespace: string): PromAlert[] {
  return promApi<{ alerts: PromAlert[] }>('/api/v1/alerts').alerts.filter((a) => a.labels.alertname === name && a.labels.namespace === namespace);
}

/**
 * The prometheus-operator fixture: a namespace, its Deployment, and a
 * Prometheus that selects the operator's PodMonitors and PrometheusRules in
 * the Memcached's namespace, with a Role there that lets it discover pods.
 */
function prometheusFixture(operatorImage: string, reloaderImage: string, prometheusImage: string, memcachedNamespace: string): string {
  const sa = (name: string) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: PROM_NS } });
  const restricted = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PROM_NS, labels: { metrics: 'enabled' } } },
    sa('prometheus-operator'),
    sa('prometheus'),
    // A test fixture, not a product: prometheus-operator manages
    // StatefulSets, Secrets, Services and more across namespaces.
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'e2e-prometheus-operator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus-operator', namespace: PROM_NS }],
    },
    // Least privilege for Prometheus: a PodMonitor is pod discovery, which
    // prometheus-operator confines to the selected namespaces, so reading
    // pods in the Memcached's namespace is all it needs (the scrape goes to
    // the operator's exporter Service by address, no discovery).
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'e2e-prometheus', namespace: memcachedNamespace },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'e2e-prometheus', namespace: memcachedNamespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'e2e-prometheus' },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: PROM_NS }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'prometheus-operator', namespace: PROM_NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'prometheus-operator' } },
        template: {
          metadata: { labels: { app: 'prometheus-operator' } },
          spec: {
            serviceAccountName: 'prometheus-operator',
            securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'operator',
                image: operatorImage,
                imagePullPolicy: 'Never',
                command: ['/bin/operator'],
                args: [`--prometheus-config-reloader=${reloaderImage}`, '--log-level=info'],
                securityContext: restricted,
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
              },
            ],
          },
        },
      },
    },
  ];
  const prometheus = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'Prometheus',
    metadata: { name: PROMETHEUS, namespace: PROM_NS },
    spec: {
      image: prometheusImage,
      // The local image's tag is the Prometheus version (test/kind/lib.sh).
      version: prometheusImage.slice(prometheusImage.lastIndexOf(':') + 1),
      replicas: 1,
      serviceAccountName: 'prometheus',
      scrapeInterval: '5s',
      evaluationInterval: '5s',
      podMonitorSelector: { matchLabels: MANAGED },
      podMonitorNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': memcachedNamespace } },
      ruleSelector: { matchLabels: MANAGED },
      ruleNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': memcachedNamespace } },
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    },
  };
  return [...objects, prometheus].map((o) => JSON.stringify(o)).join('\n---\n');
}

// One memcached text-protocol connection from the client pod: the commands
// are generated in bash (the client's root filesystem is read-only), sent
// with noreply where possible, and the replies counted after `quit`.
const TRAFFIC = `set -eu
host=$1 keys=$2 rounds=$3 misses=$4
exec 3<>"/dev/tcp/$host/11211"
{
  for i in $(seq 1 "$keys"); do printf 'set hit%s 0 0 1 noreply\\r\\nx\\r\\n' "$i"; done
  for r in $(seq 1 "$rounds"); do for i in $(seq 1 "$keys"); do printf 'get hit%s\\r\\n' "$i"; done; done
  for i in $(seq 1 "$misses"); do printf 'get miss%s-%s\\r\\n' "$RANDOM" "$i"; done
  printf 'quit\\r\\n'
} >&3 &
timeout 120 cat <&3 | tr -d '\\r' | grep -c '^VALUE ' || true`;

describe('kind: monitoring on a real Prometheus', function () {
  this.timeout(1_800_000);
  let cluster: Cluster;
  let ns: string;
  let client: string;
  let podIps: Record<string, string> = {};

  const memcachedPods = async (): Promise<k8s.V1Pod[]> =>
    (await cluster.core.listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${MC}` })).items.filter((p) => !p.metadata?.deletionTimestamp);

  before(async function () {
    cluster = kindCluster();
    const images = run('test/kind/images.sh', ['monitoring-images'], { cwd: repoRoot });
    expect(images.status, images.stderr).to.equal(0);
    const names = monitoringImages();
    const operatorImage = names.PROMETHEUS_OPERATOR_IMG;
    const reloaderImage = names.PROMETHEUS_CONFIG_RELOADER_IMG;
    const prometheusImage = names.PROMETHEUS_IMG;
    for (const img of [operatorImage, reloaderImage, prometheusImage]) {
      const loaded = run('test/kind/kind.sh', ['load', img], { cwd: repoRoot });
      expect(loaded.status, loaded.stderr).to.equal(0);
    }
    const crds = run('test/cluster/monitoring-crds.sh', [], { cwd: repoRoot });
    expect(crds.status, crds.stderr).to.equal(0);
    k(['apply', '--server-side', '--force-conflicts', '-f', crds.stdout.trim()]);
    k(['wait', '--for', 'condition=Established', '--timeout', '60s', 'crd/prometheuses.monitoring.coreos.com', 'crd/podmonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);
    ns = restrictedNamespace('e2e-monitoring');
    k(['apply', '--server-side', '--force-conflicts', '-f', '-'], prometheusFixture(operatorImage, reloaderImage, prometheusImage, ns));
    await deployOperator(cluster, { extraArgs: ['--optional-api-probe-interval=5s'] });
    await eventually(
      'Prometheus to be Ready',
      async () => {
        const pod = await cluster.core.readNamespacedPod({ namespace: PROM_NS, name: PROM_POD }).catch(() => undefined);
        if (pod && isPodReady(pod)) return true;
        const pods = (await cluster.core.listNamespacedPod({ namespace: PROM_NS })).items;
        throw new Error(describePods(pods));
      },
      { timeoutMs: 300_000, intervalMs: 2000 },
    );
    client = await startClientPod(cluster, ns);
  });

  after(() => {
    deleteNamespaces(...[ns].filter(Boolean));
    kRun(['delete', '--ignore-not-found', '--wait=false', 'namespace', PROM_NS]);
    kRun(['delete', '--ignore-not-found', 'clusterrolebinding', 'e2e-prometheus-operator']);
  });

  it('discovers every memcached pod through our PodMonitor and scrapes it through the operator\'s exporter: one up target per pod, memcached_up == 1 for each', async () => {
    k(['apply', '--server-side', '-n', ns, '-f', '-'], JSON.stringify({
      apiVersion: 'cache.example.com/v1alpha1',
      kind: 'Memcached',
      metadata: { name: MC },
      spec: {
        size: 2,
        memoryLimitMB: 16,
        image: memcachedImage(),
        monitoring: { interval: '5s', alerts: { evictionsPerSecond: '0.1', evictingFor: '15s', downFor: '10s' } },
      },
    }));
    await eventually('2 Ready memcached pods', async () => {
      const pods = await memcachedPods();
      if (pods.length === 2 && pods.every(isPodReady)) return true;
      throw new Error(describePods(pods));
    }, { timeoutMs: 180_000, intervalMs: 1000 });
    podIps = Object.fromEntries((await memcachedPods()).map((p) => [p.metadata!.name!, p.status!.podIP!]));
    const t0 = Date.now();
    // Prometheus's own Kubernetes pod discovery, from the PodMonitor the
    // operator wrote: one active target per memcached pod in the
    // PodMonitor's scrape pool, each scraped successfully.
    const pool = `podMonitor/${ns}/${MC}/0`;
    const active = await eventually(`one up target per memcached pod in ${pool}`, () => {
      const ts = targets().filter((t) => t.scrapePool === pool);
      const pods = ts.map((t) => t.labels.pod).sort();
      if (JSON.stringify(pods) === JSON.stringify(Object.keys(podIps).sort()) && ts.every((t) => t.health === 'up')) return ts;
      throw new Error(`targets in ${pool}: ${JSON.stringify(ts.map((t) => ({ pod: t.labels.pod, health: t.health, lastError: t.lastError })))}`);
    }, { timeoutMs: 240_000, intervalMs: 2000 });
    // Found by pod discovery (its meta labels), not by a static or HTTP
    // config; the pod's address is the target parameter, the exporter the address.
    for (const t of active) {
      expect(t.discoveredLabels.__meta_kubernetes_pod_name, 'discovered by Kubernetes pod discovery').to.equal(t.labels.pod);
      expect(t.discoveredLabels.__meta_kubernetes_namespace).to.equal(ns);
      expect(t.labels.instance).to.equal(`${podIps[t.labels.pod]}:11211`);
    }
    recordResult('monitoring.podMonitorTargets', { scrapePool: pool, targets: active.length, upSeconds: (Date.now() - t0) / 1000 });
    const up = await eventually('memcached_up == 1 for every pod', () => {
      const v = query(`memcached_up{namespace="${ns}", service="${MC}-headless"}`);
      const pods = Object.keys(podIps).sort();
      return JSON.stringify(v.map((s) => s.metric.pod).sort()) === JSON.stringify(pods) && v.every((s) => s.value[1] === '1') ? v : undefined;
    }, { timeoutMs: 240_000, intervalMs: 2000 });
    // The instance is the pod, though the exporter answered.
    expect(up.map((s) => s.metric.instance).sort()).to.deep.equal(Object.values(podIps).map((ip) => `${ip}:11211`).sort());
    recordResult('monitoring.discoveryToUpSeconds', { seconds: (Date.now() - t0) / 1000 });
  });

  it('computes the hit ratio of real traffic within 5%', async () => {
    const sel = `namespace="${ns}", service="${MC}-headless", command="get"`;
    const total = (status: string) => scalar(`sum(memcached_commands_total{${sel}, status="${status}"})`) ?? 0;
    const [hits0, misses0] = [total('hit'), total('miss')];
    const [host] = Object.values(podIps);
    const keys = 200, rounds = 3, misses = 200;
    const r = await kRunAsync(['exec', '-n', ns, client, '--', 'bash', '-c', TRAFFIC, 'traffic', host, String(keys), String(rounds), String(misses)]);
    expect(r.status, r.stderr).to.equal(0);
    expect(Number(r.stdout.trim()), 'hits the client saw').to.equal(keys * rounds);
    const expected = (keys * rounds) / (keys * rounds + misses);
    const measured = await eventually('Prometheus to scrape the traffic', () => {
      const dh = total('hit') - hits0;
      const dm = total('miss') - misses0;
      return dh >= keys * rounds && dm >= misses ? dh / (dh + dm) : undefined;
    }, { timeoutMs: 120_000, intervalMs: 2000 });
    recordResult('monitoring.hitRatio', { expected, measured });
    expect(Math.abs(measured - expected)).to.be.below(0.05);
  });

  it('fires MemcachedEvicting (pending, then firing) when the cache is filled past its limit', async () => {
    const [pod, host] = Object.entries(podIps)[0];
    const t0 = Date.now();
    // 16 MB of memory, 40 MB of 10 kB items.
    const r = await kRunAsync(['exec', '-n', ns, client, '--', 'bash', '-c', FILL_SCRIPT, 'fill', host, '4000', '10000']);
    expect(r.status, r.stderr).to.equal(0);
    const filled = Date.now();
    const evictions = scalar(`memcached_items_evicted_total{namespace="${ns}", pod="${pod}"}`);
    let pendingAt: number | undefined;
    await eventually('MemcachedEvicting firing', () => {
      const a = alerts('MemcachedEvicting', ns).find((x) => x.labels.pod === pod);
      if (a?.state === 'pending') pendingAt ??= Date.now();
      return a?.state === 'firing' ? a : undefined;
    }, { timeoutMs: 300_000, intervalMs: 1000 });
    const firingAt = Date.now();
    expect(scalar(`memcached_items_evicted_total{namespace="${ns}", pod="${pod}"}`), 'evictions rose').to.be.greaterThan(0);
    recordResult('monitoring.evictingAlert', {
      fillSeconds: (filled - t0) / 1000,
      fillToPendingSeconds: pendingAt ? (pendingAt - filled) / 1000 : null,
      fillToFiringSeconds: (firingAt - filled) / 1000,
      evictionsAtFillEnd: evictions ?? null,
      for: '15s',
    });
    expect(pendingAt, 'seen pending before firing').to.not.equal(undefined);
  });

  it('fires MemcachedDown when memcached is killed, and resolves it when memcached is back', async () => {
    const [pod] = Object.keys(podIps);
    const t0 = Date.now();
    let kills = 0;
    // memcached is PID 1 of its container and exits on SIGTERM; killing it
    // each time the kubelet restarts it keeps it down (CrashLoopBackOff).
    const fired = await eventually('MemcachedDown firing', async () => {
      const kill = await kRunAsync(['exec', '-n', ns, pod, '-c', 'memcached', '--', 'bash', '-c', 'kill 1']);
      if (kill.status === 0) kills++;
      return alerts('MemcachedDown', ns).find((a) => a.labels.pod === pod && a.state === 'firing');
    }, { timeoutMs: 300_000, intervalMs: 1000 });
    const firingAt = Date.now();
    expect(fired.labels.severity).to.equal('critical');
    const resolved = await eventually('MemcachedDown resolved', () =>
      alerts('MemcachedDown', ns).some((a) => a.labels.pod === pod) ? undefined : true,
    { timeoutMs: 600_000, intervalMs: 2000 });
    expect(resolved).to.equal(true);
    expect(scalar(`memcached_up{namespace="${ns}", pod="${pod}"}`)).to.equal(1);
    recordResult('monitoring.downAlert', { killToFiringSeconds: (firingAt - t0) / 1000, restoreToResolvedSeconds: (Date.now() - firingAt) / 1000, kills, for: '10s' });
  });
});
