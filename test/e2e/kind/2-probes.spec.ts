// The manager's probes as the kubelet calls them: the pod from make deploy
// answers /healthz and /readyz on its pod IP (read through the apiserver's
// pod proxy), and it is Ready only once its caches have synced. /metrics is
// HTTPS on 8443 and wants a bearer token allowed to get /metrics: read from
// inside the pod (its own node, its own ServiceAccount token), 401 without
// the token, 403 before the metrics-reader binding, 200 after it.
// The proof of the last: with list/watch on pods withdrawn from its
// ClusterRole, a new manager pod cannot sync its Pod cache; the kubelet's
// readiness probe gets 500 "not synced: Pod" (an Unhealthy event says so)
// and the pod stays unready, without a restart. Given the right back, the
// same pod becomes Ready.
import type * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { eventually } from '../../support/cluster.js';
import { describePods, isPodReady, type Cluster } from '../../integration/topology/support.js';
import { OPERATOR_NAMESPACE, k, kRun, make } from '../support.js';
import { deployOperator, eventsAbout, kindCluster, managerPods } from './support.js';

const ROLE = 'memcached-operator-manager-role';

function proxy(pod: string, port: number, urlPath: string) {
  return kRun(['get', '--raw', `/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods/${pod}:${port}/proxy${urlPath}`]);
}

/**
 * GET https://127.0.0.1:8443/metrics from inside the manager container (the
 * distroless image has node and no shell), with the pod's own ServiceAccount
 * token or none. Prints "STATUS\nBODY".
 */
function scrapeInPod(pod: string, withToken: boolean): { status: number; body: string } {
  const script = [
    "const fs = require('node:fs'); const https = require('node:https');",
    `const headers = ${withToken} ? { Authorization: 'Bearer ' + fs.readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/token', 'utf8').trim() } : {};`,
    "https.get({ host: '127.0.0.1', port: 8443, path: '/metrics', headers, rejectUnauthorized: false }, (res) => {",
    "  let body = ''; res.on('data', (c) => (body += c)); res.on('end', () => process.stdout.write(res.statusCode + '\\n' + body));",
    '}).on(\'error\', (e) => { process.stdout.write(\'0\\n\' + e.message); });',
  ].join('\n');
  const out = k(['exec', '-n', OPERATOR_NAMESPACE, pod, '-c', 'manager', '--', '/nodejs/bin/node', '-e', script]);
  const newline = out.indexOf('\n');
  return { status: Number(out.slice(0, newline)), body: out.slice(newline + 1) };
}

function restarts(pod: k8s.V1Pod): number {
  return pod.status?.containerStatuses?.find((c) => c.name === 'manager')?.restartCount ?? -1;
}

describe('kind: the manager probes, as the kubelet calls them', function () {
  this.timeout(600_000);
  let cluster: Cluster;
  let rbacWithdrawn = false;

  before(async () => {
    cluster = kindCluster();
    await deployOperator(cluster);
  });

  after(() => {
    // make deploy takes the ClusterRole back whatever happened.
    if (rbacWithdrawn) make('deploy');
  });

  it('answers /healthz, /readyz on the pod IP and /metrics over HTTPS to an authorized token only; Ready with no restart', async () => {
    const [pod] = await managerPods(cluster);
    expect(isPodReady(pod), describePods([pod])).to.equal(true);
    expect(restarts(pod)).to.equal(0);
    const healthz = proxy(pod.metadata!.name!, 8081, '/healthz');
    expect(healthz.status, healthz.stderr).to.equal(0);
    expect(healthz.stdout).to.equal('ok');
    const readyz = proxy(pod.metadata!.name!, 8081, '/readyz?verbose');
    expect(readyz.status, readyz.stderr).to.equal(0);
    expect(readyz.stdout).to.contain('[+]informers-synced ok');
    const name = pod.metadata!.name!;
    expect(scrapeInPod(name, false).status, 'no token').to.equal(401);
    // The manager's own ServiceAccount may create TokenReviews but not get /metrics.
    expect(scrapeInPod(name, true).status, 'a token without metrics-reader').to.equal(403);
    const binding = 'memcached-operator-e2e-metrics-reader';
    k(['create', 'clusterrolebinding', binding, '--clusterrole=memcached-operator-metrics-reader', `--serviceaccount=${OPERATOR_NAMESPACE}:memcached-operator-controller-manager`]);
    try {
      // A denial is cached for a few seconds; poll until the binding shows.
      const metrics = await eventually('an authorized scrape to answer 200', () => {
        const res = scrapeInPod(name, true);
        return res.status === 200 ? res : undefined;
      }, { timeoutMs: 60_000, intervalMs: 2_000 });
      expect(metrics.body).to.contain('controller_runtime_max_concurrent_reconciles');
    } finally {
      k(['delete', 'clusterrolebinding', binding, '--ignore-not-found']);
    }
    // The probes the kubelet runs are the ones rendered: HTTP on the named port.
    const c = pod.spec!.containers[0];
    expect(c.readinessProbe?.httpGet?.path).to.equal('/readyz');
    expect(c.livenessProbe?.httpGet?.path).to.equal('/healthz');
  });

  it('is not Ready while a cache cannot sync (the kubelet sees 500), and becomes Ready once it can', async () => {
    const role = JSON.parse(k(['get', 'clusterrole', ROLE, '-o', 'json'])) as { rules: Array<{ resources?: string[] }> };
    const without = { ...role, rules: role.rules.filter((r) => !(r.resources ?? []).includes('pods')) };
    expect(without.rules.length).to.equal(role.rules.length - 1);
    k(['replace', '-f', '-'], JSON.stringify(without));
    rbacWithdrawn = true;
    const [old] = await managerPods(cluster);
    k(['delete', 'pod', old.metadata!.name!, '-n', OPERATOR_NAMESPACE, '--wait=false']);
    const pod = await eventually(
      'a replacement manager pod whose /readyz says the Pod cache is not synced',
      async () => {
        const p = (await managerPods(cluster)).find((x) => x.metadata!.name !== old.metadata!.name && x.status?.podIP);
        if (!p) throw new Error('no replacement pod with an IP yet');
        const r = proxy(p.metadata!.name!, 8081, '/readyz');
        if (r.status !== 0 && /not synced: .*Pod/.test(r.stderr)) return p;
        throw new Error(`readyz: ${r.status} ${r.stdout}${r.stderr}`);
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    const name = pod.metadata!.name!;
    // The kubelet's own readiness probe got the same answer.
    const unhealthy = await eventually(
      `an Unhealthy event from the kubelet for ${name}`,
      async () => {
        const events = await eventsAbout(cluster, OPERATOR_NAMESPACE, 'Pod', name);
        const e = events.find((x) => x.reason === 'Unhealthy' && /Readiness probe failed: HTTP probe failed with statuscode: 500/.test(x.message ?? ''));
        if (e) return e;
        throw new Error(JSON.stringify(events.map((x) => `${x.reason}: ${x.message}`)));
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    expect(unhealthy.source?.component ?? unhealthy.reportingComponent).to.equal('kubelet');
    const unready = await cluster.core.readNamespacedPod({ namespace: OPERATOR_NAMESPACE, name });
    expect(isPodReady(unready), describePods([unready])).to.equal(false);
    // Liveness is unaffected: the process is healthy, only not ready.
    expect(proxy(name, 8081, '/healthz').stdout).to.equal('ok');

    const restored = make('deploy');
    expect(restored.status, restored.stderr).to.equal(0);
    rbacWithdrawn = false;
    const ready = await eventually(
      `${name} Ready once its caches sync`,
      async () => {
        const p = await cluster.core.readNamespacedPod({ namespace: OPERATOR_NAMESPACE, name });
        if (isPodReady(p)) return p;
        throw new Error(describePods([p]));
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(restarts(ready), 'the liveness probe never restarted it').to.equal(0);
    expect(proxy(name, 8081, '/readyz?verbose').stdout).to.contain('[+]informers-synced ok');
  });
});
