// A tiny operator for the benchmark's finalizer spec, run as its
// --operator-cmd: like every Operator SDK scaffold, it puts
// cache.example.com/finalizer on each Memcached it sees, makes a Deployment
// owned by it, and takes the finalizer off once the Memcached is being
// deleted, while it runs. Stopped, it leaves its finalizers behind, which is
// what the harness must cope with. It watches WATCH_NAMESPACE with the
// credentials in KUBECONFIG (the harness sets both).
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, LEGACY_FINALIZER, PLURAL, VERSION, type Memcached } from '../../src/api/types.js';

const namespace = process.env.WATCH_NAMESPACE;
if (!namespace) throw new Error('WATCH_NAMESPACE is not set');
const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

const say = (event: string, name: string): void => void process.stdout.write(`${JSON.stringify({ event, name })}\n`);

async function setFinalizers(mc: Memcached, finalizers: string[]): Promise<void> {
  const name = mc.metadata.name!;
  // resourceVersion makes it a compare-and-swap: a stale object gets 409 and is retried on its next event.
  const body = { metadata: { finalizers, resourceVersion: mc.metadata.resourceVersion } };
  await custom.patchNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: namespace!, plural: PLURAL, name, body }, mergePatch);
}

function deploymentFor(mc: Memcached): k8s.V1Deployment {
  const name = mc.metadata.name!;
  const labels = { app: 'memcached', 'bench-contender': name };
  return {
    metadata: { name, namespace, ownerReferences: [{ apiVersion: API_VERSION, kind: KIND, name, uid: mc.metadata.uid!, controller: true, blockOwnerDeletion: true }] },
    spec: {
      replicas: mc.spec?.size ?? 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'memcached', image: 'memcached:1.6', ports: [{ containerPort: 11211 }] }] } },
    },
  };
}

async function reconcile(mc: Memcached): Promise<void> {
  const name = mc.metadata?.name;
  if (!name) return;
  const finalizers = mc.metadata?.finalizers ?? [];
  if (mc.metadata?.deletionTimestamp) {
    if (!finalizers.includes(LEGACY_FINALIZER)) return;
    await setFinalizers(mc, finalizers.filter((f) => f !== LEGACY_FINALIZER));
    say('finalizer removed', name);
    return;
  }
  if (!finalizers.includes(LEGACY_FINALIZER)) {
    await setFinalizers(mc, [...finalizers, LEGACY_FINALIZER]);
    say('finalizer added', name);
  }
  await apps.createNamespacedDeployment({ namespace: namespace!, body: deploymentFor(mc) }).catch((err: unknown) => {
    if (!(err instanceof k8s.ApiException && err.code === 409)) throw err;
  });
}

function handle(mc: Memcached): void {
  reconcile(mc).catch((err: unknown) => {
    // A conflict means a newer version is on its way as an event of its own.
    if (err instanceof k8s.ApiException && err.code === 409) return;
    process.stderr.write(`contender: ${mc.metadata?.name}: ${err instanceof Error ? err.message : String(err)}\n`);
  });
}

const path = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
const list = async (): Promise<k8s.KubernetesListObject<Memcached>> =>
  (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL })) as k8s.KubernetesListObject<Memcached>;
const informer = k8s.makeInformer<Memcached>(kc, path, list);
informer.on('add', handle);
informer.on('update', handle);
informer.on('error', (err: unknown) => {
  process.stderr.write(`contender: watch failed, restarting: ${String(err)}\n`);
  setTimeout(() => void informer.start().catch(() => undefined), 500);
});
await informer.start();
say('ready', namespace);
process.once('SIGTERM', () => void informer.stop().finally(() => process.exit(0)));
