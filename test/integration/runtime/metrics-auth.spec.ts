// The operator's secure metrics endpoint against a real apiserver: HTTPS
// with a self-signed certificate made at startup, a ServiceAccount token
// checked by TokenReview, its user's right to get /metrics by
// SubjectAccessReview. The reader role is config/rbac's metrics-reader,
// applied under a name of this test's own.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { createNamespace, deleteNamespace, ensureCluster, repoRoot } from '../../support/cluster.js';
import { installCrd } from '../../support/memcached.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';

describe('secure metrics endpoint on the local cluster', function () {
  this.timeout(120_000);

  let kc: k8s.KubeConfig;
  let namespace: string;
  let rbac: k8s.RbacAuthorizationV1Api;
  let operator: OperatorProcess | undefined;
  let readerToken: string;
  let strangerToken: string;
  const roleName = `metrics-reader-it-${process.pid}`;

  async function tokenFor(core: k8s.CoreV1Api, name: string): Promise<string> {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    const req = await core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds: 600 } } });
    const token = req.status?.token;
    if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
    return token;
  }

  before(async () => {
    kc = ensureCluster('ha');
    installCrd();
    namespace = await createNamespace(kc, 'metrics-auth');
    const core = kc.makeApiClient(k8s.CoreV1Api);
    rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const role = parse(readFileSync(path.join(repoRoot, 'config', 'rbac', 'metrics_reader_role.yaml'), 'utf8')) as k8s.V1ClusterRole;
    await rbac.createClusterRole({ body: { ...role, metadata: { name: roleName } } });
    readerToken = await tokenFor(core, 'reader');
    strangerToken = await tokenFor(core, 'stranger');
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: roleName },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace }],
      },
    });
    operator = await startOperator({ secureMetrics: true, env: { WATCH_NAMESPACE: namespace } });
  });

  after(async () => {
    await operator?.stop();
    await rbac?.deleteClusterRoleBinding({ name: roleName }).catch(() => undefined);
    await rbac?.deleteClusterRole({ name: roleName }).catch(() => undefined);
    if (namespace) await deleteNamespace(kc, namespace);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && operator) console.error(operator.output().split('\n').slice(-40).join('\n'));
  });

  it('serves HTTPS only, with a self-signed certificate for the loopback address', async () => {
    expect(operator!.metricsUrl).to.match(/^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const cert = await new Promise<X509Certificate>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: operator!.metricsPort, rejectUnauthorized: false }, () => {
        const peer = socket.getPeerX509Certificate();
        socket.end();
        if (peer) resolve(peer);
        else reject(new Error('no peer certificate'));
      });
      socket.on('error', reject);
    });
    expect(cert.verify(cert.publicKey), 'self-signed').to.equal(true);
    expect(cert.checkIP('127.0.0.1')).to.equal('127.0.0.1');
    // Plain HTTP on the same port is not served.
    const plain = await fetch(`http://127.0.0.1:${operator!.metricsPort}/metrics`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).to.not.equal(200);
  });

  it('answers 401 with no token and with a token the apiserver does not know', async () => {
    expect((await operator!.scrapeMetrics()).status).to.equal(401);
    expect((await operator!.scrapeMetrics('not-a-real-token')).status).to.equal(401);
  });

  it('answers 403 to a ServiceAccount without the metrics-reader binding', async () => {
    const res = await operator!.scrapeMetrics(strangerToken);
    expect(res.status).to.equal(403);
    expect(res.body).to.contain(`system:serviceaccount:${namespace}:stranger`);
  });

  it('answers 200 with the metrics to a ServiceAccount bound to metrics-reader', async () => {
    const res = await operator!.scrapeMetrics(readerToken);
    expect(res.status, res.body).to.equal(200);
    expect(res.body).to.contain('controller_runtime_max_concurrent_reconciles');
  });
});
