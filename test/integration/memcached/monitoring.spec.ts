// Monitoring objects on the real local cluster (spec.monitoring): prometheus-operator's
// CRDs (the pinned module's own, test/cluster/monitoring-crds.sh) are installed
// while the operator runs, so every Memcached gets its PodMonitor and
// PrometheusRule with no restart; spec.monitoring turns them off and on
// without a rollout; the CRDs are removed again and nothing breaks. The
// operator's exporter is scraped through its port, managed pods only.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { createNamespace, deleteNamespace, ensureCluster, eventually, kubectl, repoRoot } from '../../support/cluster.js';
import { installCrd, Memcacheds } from '../../support/memcached.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';

const CRDS = ['podmonitors', 'prometheusrules'];
const EXPORTER_ADDRESS = 'memcached-operator-exporter.ops.svc:9150';
const RUNBOOKS = 'https://wiki.example.com/memcached/runbooks';

function monitoringCrdFiles(): string[] {
  const dir = execFileSync(path.join(repoRoot, 'test', 'cluster', 'monitoring-crds.sh'), { encoding: 'utf8' }).trim();
  return CRDS.map((plural) => path.join(dir, `monitoring.coreos.com_${plural}.yaml`));
}

function removeMonitoringCrds(): void {
  kubectl(['delete', '--ignore-not-found', '--wait=true', ...CRDS.map((p) => `crd/${p}.monitoring.coreos.com`)]);
}

interface MonitoringObject {
  metadata: k8s.V1ObjectMeta;
  spec: Record<string, unknown>;
}

describe('monitoring objects on the local cluster', function () {
  this.timeout(240_000);

  let kc: k8s.KubeConfig;
  let namespace: string;
  let custom: k8s.CustomObjectsApi;
  let apps: k8s.AppsV1Api;
  let mcs: Memcacheds;
  let operator: OperatorProcess | undefined;
  let crdFiles: string[];

  const get = async (plural: string, name: string): Promise<MonitoringObject | undefined> => {
    try {
      return (await custom.getNamespacedCustomObject({ group: 'monitoring.coreos.com', version: 'v1', namespace, plural, name })) as MonitoringObject;
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return undefined;
      throw err;
    }
  };
  const errorLines = (): string[] => (operator?.logs() ?? []).filter((l) => l.level === 'error').map((l) => JSON.stringify(l));
  const counter = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${operator!.metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{controller="memcached"}`));
    return Number(line?.split(' ').at(-1) ?? 0);
  };

  before(async () => {
    kc = ensureCluster('ha');
    installCrd();
    crdFiles = monitoringCrdFiles();
    removeMonitoringCrds();
    namespace = await createNamespace(kc, 'monitoring', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    mcs = new Memcacheds(kc, namespace);
    operator = await startOperator({
      args: ['--optional-api-probe-interval=1s', `--exporter-address=${EXPORTER_ADDRESS}`, `--runbook-base-url=${RUNBOOKS}`],
      env: { WATCH_NAMESPACE: namespace },
    });
  });

  after(async () => {
    await operator?.stop();
    removeMonitoringCrds();
    await deleteNamespace(kc, namespace);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && operator) console.error(operator.output().split('\n').slice(-40).join('\n'));
  });

  it('runs without the monitoring API, and creates nothing for it', async () => {
    await mcs.create('cache', { size: 1, monitoring: { interval: '15s', alerts: { evictingFor: '1m', evictionsPerSecond: '0.5' } } });
    await mcs.waitAvailable('cache');
    expect(operator!.logs().some((l) => typeof l.msg === 'string' && l.msg.startsWith('no podmonitors.monitoring.coreos.com/v1 API'))).to.equal(true);
    expect(errorLines()).to.deep.equal([]);
  });

  it('creates the PodMonitor and PrometheusRule once the CRDs are installed, with no restart', async () => {
    for (const file of crdFiles) kubectl(['apply', '--server-side', '-f', file]);
    const pm = await eventually('the PodMonitor', () => get('podmonitors', 'cache'));
    const mc = (await mcs.get('cache'))!;
    expect(pm.metadata.ownerReferences?.[0]).to.include({ kind: 'Memcached', uid: mc.metadata.uid, controller: true });
    const [endpoint] = pm.spec.podMetricsEndpoints as Record<string, unknown>[];
    expect(endpoint).to.deep.include({ port: 'memcached', path: '/scrape', interval: '15s' });
    expect(endpoint.relabelings).to.deep.include({ targetLabel: '__address__', replacement: EXPORTER_ADDRESS, action: 'replace' });

    const rule = await eventually('the PrometheusRule', () => get('prometheusrules', 'cache'));
    const rules = (rule.spec.groups as { rules: { alert: string; expr: string; for?: string; annotations: { runbook_url: string } }[] }[])[0].rules;
    const evicting = rules.find((r) => r.alert === 'MemcachedEvicting')!;
    expect(evicting.for).to.equal('1m');
    // Every runbook_url under the base the flag set.
    expect(rules.map((r) => r.annotations.runbook_url)).to.deep.equal(rules.map((r) => `${RUNBOOKS}/${r.alert}.md`));
    expect(evicting.expr).to.include(`namespace="${namespace}", service="cache-headless"`).and.match(/> 0\.5$/);
    expect(errorLines()).to.deep.equal([]);
  });

  it('serves /scrape for a managed pod (memcached_up 0: kwok runs no memcached), refuses anything else, and lists the pods at /targets', async () => {
    const port = operator!.exporterPort!;
    expect(port).to.be.a('number');
    const pod = await eventually('a memcached pod with an IP', async () => {
      const pods = await kc.makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace, labelSelector: 'app.kubernetes.io/instance=cache' });
      return pods.items.find((p) => p.status?.podIP);
    });
    const scrape = (target: string) => fetch(`http://127.0.0.1:${port}/scrape?target=${encodeURIComponent(target)}`);
    const ok = await scrape(`${pod.status!.podIP}:11211`);
    expect(ok.status).to.equal(200);
    expect(await ok.text()).to.match(/^memcached_up 0$/m);
    const otherPort = await scrape(`${pod.status!.podIP}:10250`);
    expect(otherPort.status).to.equal(403);
    const stranger = await scrape('127.0.0.1:11211');
    expect(stranger.status).to.equal(403);
    expect(await stranger.text()).to.include('not the address of a memcached pod this operator manages');

    // HTTP service discovery lists the same pod, for a Prometheus without Kubernetes discovery.
    const sd = await fetch(`http://127.0.0.1:${port}/targets?namespace=${namespace}&name=cache`);
    expect(sd.status).to.equal(200);
    const groups = (await sd.json()) as { targets: string[]; labels: Record<string, string> }[];
    expect(groups.find((g) => g.labels.pod === pod.metadata!.name)?.targets).to.deep.equal([`${pod.status!.podIP}:11211`]);
    expect((await fetch(`http://127.0.0.1:${port}/targets?namespace=${namespace}&name=nothing`)).status).to.equal(404);
  });

  it('removes both when monitoring is turned off, without rolling the pods, and brings them back', async () => {
    const generation = (await apps.readNamespacedStatefulSet({ namespace, name: 'cache' })).metadata?.generation;
    await mcs.patchSpec('cache', { monitoring: { enabled: false } });
    await eventually('the PodMonitor and PrometheusRule to be deleted', async () =>
      !(await get('podmonitors', 'cache')) && !(await get('prometheusrules', 'cache')) ? true : undefined,
    );
    await mcs.waitAvailable('cache');
    expect((await apps.readNamespacedStatefulSet({ namespace, name: 'cache' })).metadata?.generation, 'no rollout').to.equal(generation);
    await mcs.patchSpec('cache', { monitoring: { enabled: true } });
    await eventually('the PodMonitor and PrometheusRule again', async () =>
      (await get('podmonitors', 'cache')) && (await get('prometheusrules', 'cache')) ? true : undefined,
    );
  });

  it('adds the exporter sidecar with exporterImage (one rollout) and scrapes it directly; clearing it removes it', async () => {
    await mcs.patchSpec('cache', { monitoring: { enabled: true, exporterImage: 'memcached-operator.local/exporter:test' } });
    const containers = await eventually('the sidecar in the StatefulSet', async () => {
      const d = await apps.readNamespacedStatefulSet({ namespace, name: 'cache' });
      const c = d.spec?.template.spec?.containers ?? [];
      return c.length === 2 ? c : undefined;
    });
    expect(containers[1]).to.deep.include({ name: 'exporter', image: 'memcached-operator.local/exporter:test' });
    await eventually('the PodMonitor to scrape the sidecar', async () => {
      const pm = await get('podmonitors', 'cache');
      return (pm?.spec.podMetricsEndpoints as { port: string }[] | undefined)?.[0]?.port === 'metrics' ? true : undefined;
    });
    await mcs.patchSpec('cache', { monitoring: { enabled: true, exporterImage: null } as never });
    await eventually('the sidecar gone', async () => {
      const d = await apps.readNamespacedStatefulSet({ namespace, name: 'cache' });
      return d.spec?.template.spec?.containers.length === 1 ? true : undefined;
    });
  });

  it('keeps reconciling, without errors, after the CRDs are removed', async () => {
    const errorsBefore = await counter('controller_runtime_reconcile_errors_total');
    removeMonitoringCrds();
    await eventually('the operator to notice the API went away', () =>
      operator!.logs().some((l) => typeof l.msg === 'string' && l.msg.startsWith('the podmonitors.monitoring.coreos.com/v1 API went away')) ? true : undefined,
    );
    await mcs.patchSpec('cache', { size: 2 });
    await mcs.waitAvailable('cache');
    expect((await apps.readNamespacedStatefulSet({ namespace, name: 'cache' })).spec?.replicas).to.equal(2);
    expect(await counter('controller_runtime_reconcile_errors_total'), 'reconcile errors after the CRDs went away').to.equal(errorsBefore);
    expect(errorLines()).to.deep.equal([]);
  });
});
