// Keep the cache, on the local cluster: the StatefulSet's shape, the
// published server list (the `<name>-servers` Service and ConfigMap,
// status.serverList), scaling that publishes one list after another in
// order, and a scheduling-only change that replaces no pod. The pods are
// kwok's: their IPs do not answer, so every key copy is skipped (best
// effort); nothing here depends on keys.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { createNamespace, deleteNamespace, ensureCluster, eventually } from '../../support/cluster.js';
import { installCrd, Memcacheds } from '../../support/memcached.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';

/** The names a list of `host:port` entries publishes, in order. */
function published(cm: k8s.V1ConfigMap | undefined): string[] | undefined {
  const text = cm?.data?.servers;
  return text === undefined ? undefined : text.split('\n').filter((l) => l.length > 0);
}

function expectedList(name: string, namespace: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${name}-${i}.${name}-servers.${namespace}.svc:11211`);
}

/** Every distinct list the ConfigMap published, in order, from a watch. */
class ServerListRecorder {
  readonly lists: string[][] = [];
  private abort: AbortController | undefined;
  private failed: unknown;

  constructor(private readonly kc: k8s.KubeConfig, private readonly namespace: string, private readonly name: string) {}

  async start(): Promise<void> {
    this.abort = await new k8s.Watch(this.kc).watch(
      `/api/v1/namespaces/${this.namespace}/configmaps`,
      { fieldSelector: `metadata.name=${this.name}` },
      (type: string, cm: k8s.V1ConfigMap) => {
        const list = published(cm);
        if ((type !== 'ADDED' && type !== 'MODIFIED') || !list) return;
        if (this.lists.at(-1)?.join() !== list.join()) this.lists.push(list);
      },
      (err: unknown) => {
        if (err && !this.abort?.signal.aborted) this.failed = err;
      },
    );
  }

  stop(): void {
    this.abort?.abort();
  }

  /** Throws if the watch ended early: the record would have a gap. */
  check(): void {
    if (this.failed) throw new Error(`the ConfigMap watch failed: ${this.failed instanceof Error ? this.failed.message : JSON.stringify(this.failed)}`);
  }
}

describe('memcached servers (keep the cache) on the local cluster', function () {
  this.timeout(240_000);

  let kc: k8s.KubeConfig;
  let namespace: string;
  let apps: k8s.AppsV1Api;
  let core: k8s.CoreV1Api;
  let mcs: Memcacheds;
  let operator: OperatorProcess | undefined;

  before(async () => {
    kc = ensureCluster('ha');
    installCrd();
    namespace = await createNamespace(kc, 'servers', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    apps = kc.makeApiClient(k8s.AppsV1Api);
    core = kc.makeApiClient(k8s.CoreV1Api);
    mcs = new Memcacheds(kc, namespace);
    operator = await startOperator({ args: ['--max-concurrent-reconciles=4'], env: { WATCH_NAMESPACE: namespace } });
  });

  after(async () => {
    await operator?.stop();
    await deleteNamespace(kc, namespace);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && operator) {
      console.error(operator.output().split('\n').slice(-40).join('\n'));
    }
  });

  const podUids = async (name: string): Promise<Record<string, string>> => {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${name}` });
    return Object.fromEntries(pods.items.map((p) => [p.metadata!.name!, p.metadata!.uid!]));
  };

  it('runs a StatefulSet (OnDelete, governed by <name>-servers) and publishes the server list in a ConfigMap and status.serverList', async () => {
    await mcs.create('shape', { size: 3 });
    const mc = await mcs.waitAvailable('shape');
    const sts = await apps.readNamespacedStatefulSet({ namespace, name: 'shape' });
    expect(sts.spec?.updateStrategy).to.deep.equal({ type: 'OnDelete' });
    expect(sts.spec?.serviceName).to.equal('shape-servers');
    expect(sts.spec?.podManagementPolicy).to.equal('Parallel');
    // The operator lets each server settle itself (servers/planner.ts), so a new cache's rollout completes once its pods are Ready.
    expect(sts.spec?.minReadySeconds ?? 0).to.equal(0);
    expect(sts.spec?.replicas).to.equal(3);
    expect(sts.metadata?.ownerReferences?.[0]).to.include({ kind: 'Memcached', name: 'shape', controller: true, uid: mc.metadata.uid });

    const servers = await core.readNamespacedService({ namespace, name: 'shape-servers' });
    expect(servers.spec?.clusterIP).to.equal('None');
    expect(servers.spec?.publishNotReadyAddresses).to.equal(true);
    expect(servers.metadata?.ownerReferences?.[0]).to.include({ kind: 'Memcached', name: 'shape', controller: true });

    const cm = await core.readNamespacedConfigMap({ namespace, name: 'shape-servers' });
    expect(cm.metadata?.ownerReferences?.[0]).to.include({ kind: 'Memcached', name: 'shape', controller: true });
    const list = expectedList('shape', namespace, 3);
    expect(published(cm), 'the ConfigMap: one name per replica, by ordinal').to.deep.equal(list);
    expect(mc.status?.serverList, 'status.serverList is the ConfigMap\'s list').to.deep.equal(list);
    expect(Object.keys(await podUids('shape')).sort()).to.deep.equal(['shape-0', 'shape-1', 'shape-2']);
  });

  it('scales 3 -> 4 -> 3 publishing 4 then 3 names, in order, and reports each scale', async () => {
    // 4 servers on the 3 workers take Preferred anti-affinity. Created at 4
    // and shrunk to 3, the running servers were scheduled Preferred, so the
    // way back to 4 relaxes nothing (leaving Required pods for more servers
    // than nodes is topology/4-size-beyond-nodes' case).
    await mcs.create('scaling', { size: 4 });
    await mcs.waitAvailable('scaling');
    await mcs.patchSpec('scaling', { size: 3 });
    await eventually('3 servers published', async () => ((await mcs.get('scaling'))?.status?.serverList?.length === 3 ? true : undefined), { timeoutMs: 120_000 });
    await mcs.waitAvailable('scaling');
    const recorder = new ServerListRecorder(kc, namespace, 'scaling-servers');
    await recorder.start();
    try {
      const up = Date.now();
      await mcs.patchSpec('scaling', { size: 4 });
      const four = await eventually(
        'status.serverList of 4',
        async () => {
          const mc = await mcs.get('scaling');
          return mc?.status?.serverList?.length === 4 && mc.status.observedGeneration === mc.metadata.generation ? mc : undefined;
        },
        { timeoutMs: 120_000 },
      );
      const upMs = Date.now() - up;
      expect(four.status?.serverList).to.deep.equal(expectedList('scaling', namespace, 4));
      expect(four.status?.lastOperation?.type).to.equal('ScaleUp');
      await mcs.waitAvailable('scaling');

      const down = Date.now();
      await mcs.patchSpec('scaling', { size: 3 });
      await eventually(
        'the StatefulSet back to 3 replicas and status.serverList of 3',
        async () => {
          const [mc, sts] = await Promise.all([mcs.get('scaling'), apps.readNamespacedStatefulSet({ namespace, name: 'scaling' })]);
          return mc?.status?.serverList?.length === 3 && sts.spec?.replicas === 3 ? true : undefined;
        },
        { timeoutMs: 120_000 },
      );
      const downMs = Date.now() - down;
      const mc = await mcs.waitAvailable('scaling');
      expect(mc.status?.lastOperation?.type).to.equal('ScaleDown');
      await eventually('the ConfigMap to publish 3 again', async () =>
        published(await core.readNamespacedConfigMap({ namespace, name: 'scaling-servers' }))?.length === 3 ? true : undefined,
      );
      recorder.check();
      // The list only ever grows or shrinks at its end: the survivors keep their place on the clients' ring.
      expect(recorder.lists).to.deep.equal([3, 4, 3].map((n) => expectedList('scaling', namespace, n)));
      console.log(`      (scale 3 -> 4 published in ${upMs} ms, 4 -> 3 in ${downMs} ms; kwok pods: every key copy skipped)`);
    } finally {
      recorder.stop();
    }
  });

  it('a scheduling-only change (a new toleration) rolls no pod: the pod UIDs stay, and the pods take the new revision', async () => {
    await mcs.create('sched', { size: 3 });
    await mcs.waitAvailable('sched');
    const before = await podUids('sched');
    const revision = (await apps.readNamespacedStatefulSet({ namespace, name: 'sched' })).status?.updateRevision;
    await mcs.patchSpec('sched', { tolerations: [{ key: 'example.com/dedicated', operator: 'Exists', effect: 'NoSchedule' }] });
    const sts = await eventually(
      'the new template on every pod (the StatefulSet counts them updated)',
      async () => {
        const s = await apps.readNamespacedStatefulSet({ namespace, name: 'sched' });
        const newRevision = s.status?.updateRevision !== undefined && s.status.updateRevision !== revision;
        return newRevision && s.status?.updatedReplicas === 3 && s.status.observedGeneration === s.metadata?.generation ? s : undefined;
      },
      { timeoutMs: 90_000 },
    );
    expect(sts.spec?.template.spec?.tolerations).to.deep.include({ key: 'example.com/dedicated', operator: 'Exists', effect: 'NoSchedule' });
    await mcs.waitAvailable('sched');
    expect(await podUids('sched'), 'no pod replaced').to.deep.equal(before);
  });
});
