// The operator and the Secrets its Memcacheds name, on the real local
// cluster (TLS and auth): a changed authfile rolls the pod template through its
// hash annotation, a broken or missing Secret is reported and leaves the
// StatefulSet untouched (or not created), status.tls shows the serving
// certificate and the data path, and a tls block that names a Secret
// without turning TLS on is refused by the CRD. The pods are kwok's, so the TLS data path itself is proven
// on kind (test/e2e/kind/8-security-tls.spec.ts), not here.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { createNamespace, deleteNamespace, ensureCluster, eventually, kubectl } from '../../support/cluster.js';
import { CertificateAuthority } from '../../support/certs.js';
import { condition, installCrd, Memcacheds } from '../../support/memcached.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';

const HASH = 'cache.example.com/authfile-hash';
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('memcached operator and its Secrets on the local cluster', function () {
  this.timeout(180_000);
  let kc: k8s.KubeConfig;
  let namespace: string;
  let apps: k8s.AppsV1Api;
  let core: k8s.CoreV1Api;
  let mcs: Memcacheds;
  let operator: OperatorProcess | undefined;
  let ca: CertificateAuthority;

  before(async () => {
    kc = ensureCluster('ha');
    installCrd();
    namespace = await createNamespace(kc, 'secrets', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    apps = kc.makeApiClient(k8s.AppsV1Api);
    core = kc.makeApiClient(k8s.CoreV1Api);
    mcs = new Memcacheds(kc, namespace);
    ca = new CertificateAuthority('integration-ca');
    operator = await startOperator({ env: { WATCH_NAMESPACE: namespace } });
  });

  after(async () => {
    await operator?.stop();
    await deleteNamespace(kc, namespace);
    ca?.dispose();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && operator) console.error(operator.output().split('\n').slice(-40).join('\n'));
  });

  const putSecret = (name: string, data: Record<string, string>, type = 'Opaque') =>
    core.replaceNamespacedSecret({ namespace, name, body: { metadata: { name }, type, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) } });
  const statefulSet = (name: string) => apps.readNamespacedStatefulSet({ namespace, name });

  it('a changed authfile changes the pod template\'s hash; a broken auth Secret is Degraded and the StatefulSet is untouched', async () => {
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'users' }, data: { authfile: b64('app:one\n') } } });
    await mcs.create('auth', { size: 2, auth: { secretName: 'users' } });
    const first = await eventually('the StatefulSet with the authfile hash', async () => {
      const d = await statefulSet('auth').catch(() => undefined);
      return d?.spec?.template.metadata?.annotations?.[HASH] ? d : undefined;
    });
    const hash1 = first.spec!.template.metadata!.annotations![HASH];
    expect(hash1).to.match(/^[0-9a-f]{16}$/);

    await putSecret('users', { authfile: 'app:one\n', note: 'unrelated' });
    await putSecret('users', { authfile: 'app:two\n', note: 'unrelated' });
    const second = await eventually('a new authfile hash', async () => {
      const d = await statefulSet('auth');
      return d.spec?.template.metadata?.annotations?.[HASH] !== hash1 ? d : undefined;
    });
    const hash2 = second.spec!.template.metadata!.annotations![HASH];

    // No authfile key: reported, and nothing written to the StatefulSet.
    await putSecret('users', { note: 'unrelated' });
    const degraded = await eventually('Degraded SecretKeyMissing', async () => {
      const mc = await mcs.get('auth');
      return condition(mc, 'Degraded')?.reason === 'SecretKeyMissing' ? mc : undefined;
    });
    expect(condition(degraded, 'Degraded')).to.include({ status: 'True' });
    expect(condition(degraded, 'Degraded')?.message).to.match(/Secret users has no authfile key/);
    // (resourceVersion moves with the StatefulSet controller's status updates; generation only with the spec.)
    const untouched = await statefulSet('auth');
    expect(untouched.metadata!.generation).to.equal(second.metadata!.generation);
    expect(untouched.spec!.template).to.deep.equal(second.spec!.template);
    const events = await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=auth' });
    expect(events.items.some((e) => e.reason === 'SecretKeyMissing' && e.type === 'Warning')).to.equal(true);

    // The same users again: healed, and the template is what it was.
    await putSecret('users', { authfile: 'app:two\n' });
    await eventually('Degraded False', async () => (condition(await mcs.get('auth'), 'Degraded')?.status === 'False' ? true : undefined));
    expect((await statefulSet('auth')).spec!.template.metadata!.annotations![HASH]).to.equal(hash2);
    expect(operator!.child.exitCode).to.equal(null);
  });

  it('refuses a tls block that names a Secret but leaves TLS off (CEL), saying how to fix it', () => {
    const manifest = (tls: Record<string, unknown>) =>
      JSON.stringify({ apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name: 'plaintext-trap', namespace }, spec: { size: 1, tls } });
    const refusal = (tls: Record<string, unknown>): string => {
      try {
        kubectl(['apply', '--dry-run=server', '-f', '-'], manifest(tls));
      } catch (err) {
        return String((err as { stderr?: unknown }).stderr ?? err);
      }
      return expect.fail(`the apiserver accepted tls ${JSON.stringify(tls)}`);
    };
    for (const tls of [{ secretName: 'my-cert' }, { enabled: false, secretName: 'my-cert' }, { clientCASecretName: 'client-ca' }]) {
      const message = refusal(tls);
      expect(message, JSON.stringify(tls)).to.contain('spec.tls').and.contain('tls.enabled is not true, so memcached would serve plaintext');
      expect(message).to.contain('set tls.enabled: true to serve TLS, or remove tls.secretName');
    }
    // The same block with TLS on is accepted.
    expect(kubectl(['apply', '--dry-run=server', '-f', '-'], manifest({ enabled: true, secretName: 'my-cert' }))).to.contain('plaintext-trap');
  });

  it('TLS: no StatefulSet until the named Secret exists; then status.tls shows its serial and expiry, and CertificateExpiring warns', async () => {
    await mcs.create('tls', { size: 1, tls: { enabled: true, secretName: 'tls-cert' } });
    const waiting = await eventually('Degraded SecretNotFound', async () => {
      const mc = await mcs.get('tls');
      return condition(mc, 'Degraded')?.reason === 'SecretNotFound' ? mc : undefined;
    });
    expect(condition(waiting, 'Degraded')?.message).to.match(/Secret tls-cert \(spec\.tls\.secretName\) does not exist/);
    expect(await statefulSet('tls').catch((err: unknown) => (err instanceof k8s.ApiException ? err.code : err))).to.equal(404);

    const cert = ca.issue('tls');
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'tls-cert' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(cert.cert), 'tls.key': b64(cert.key) } } });
    const mc = await eventually('status.tls', async () => {
      const m = await mcs.get('tls');
      return m?.status?.tls?.serialNumber === cert.serial ? m : undefined;
    });
    expect(mc.status!.tls).to.include({ secretName: 'tls-cert', dataPath: 'TLS' });
    expect(Date.parse(mc.status!.tls!.notAfter!)).to.be.greaterThan(Date.now());
    // The test CA's certificates last two days: inside the 14-day warning.
    expect(condition(mc, 'CertificateExpiring')).to.include({ status: 'True', reason: 'CertificateExpiresSoon' });
    await statefulSet('tls');
  });
});
