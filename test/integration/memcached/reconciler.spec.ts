// The operator against the real local cluster (ha profile): create, scale,
// drift repair, deletion with garbage collection, readiness, idle quiet,
// invalid objects, restarts and scale. Never a mocked apiserver.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { createNamespace, deleteNamespace, ensureCluster, eventually, kubectl } from '../../support/cluster.js';
import { condition, installCrd, Memcacheds, sampleManifest } from '../../support/memcached.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';

describe('memcached reconciler on the local cluster', function () {
  this.timeout(180_000);

  let kc: k8s.KubeConfig;
  let namespace: string;
  let apps: k8s.AppsV1Api;
  let core: k8s.CoreV1Api;
  let policy: k8s.PolicyV1Api;
  let mcs: Memcacheds;
  let operator: OperatorProcess | undefined;

  before(async () => {
    kc = ensureCluster('ha');
    installCrd();
    namespace = await createNamespace(kc, 'reconciler', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    apps = kc.makeApiClient(k8s.AppsV1Api);
    core = kc.makeApiClient(k8s.CoreV1Api);
    policy = kc.makeApiClient(k8s.PolicyV1Api);
    mcs = new Memcacheds(kc, namespace);
    operator = await startOperator({ args: ['--max-concurrent-reconciles=4'], env: { WATCH_NAMESPACE: namespace } });
  });

  after(async () => {
    await operator?.stop();
    await deleteNamespace(kc, namespace);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && operator) {
      // The operator's own account of what happened is the best failure message.
      console.error(operator.output().split('\n').slice(-40).join('\n'));
    }
  });

  it('turns the sample into an Available memcached with every replica Ready, under PodSecurity restricted', async () => {
    kubectl(['apply', '-n', namespace, '-f', '-'], sampleManifest());
    const mc = await mcs.waitAvailable('memcached-sample');
    const statefulSet = await apps.readNamespacedStatefulSet({ namespace, name: 'memcached-sample' });
    expect(mc.status?.readyReplicas).to.equal(statefulSet.spec?.replicas);
    expect(mc.status?.readyReplicas).to.be.greaterThan(0);
    expect(mc.status?.nodes).to.have.length(mc.status!.readyReplicas!);
    expect(condition(mc, 'Degraded')?.status).to.equal('False');
    expect(condition(mc, 'Available')?.reason).to.equal('AllReplicasReady');
    expect(mc.status?.tls, 'the sample has no TLS: status says so').to.deep.equal({ dataPath: 'Plaintext' });
    // No finalizer: owner references remove the children, and a finalizer would block deletion while the operator is down.
    expect(mc.metadata.finalizers ?? []).to.deep.equal([]);

    // Owned, with controller references, so garbage collection follows the CR.
    const owner = statefulSet.metadata?.ownerReferences?.[0];
    expect(owner).to.include({ kind: 'Memcached', name: 'memcached-sample', controller: true, uid: mc.metadata.uid });
    const services = await core.listNamespacedService({ namespace });
    expect(services.items.map((s) => s.metadata?.name).sort()).to.deep.equal(['memcached-sample', 'memcached-sample-headless', 'memcached-sample-servers']);
    expect(services.items.find((s) => s.metadata?.name === 'memcached-sample-headless')?.spec?.clusterIP).to.equal('None');

    const pod = statefulSet.spec!.template.spec!;
    expect(pod.securityContext).to.include({ runAsNonRoot: true });
    expect(pod.securityContext?.seccompProfile?.type).to.equal('RuntimeDefault');
    const container = pod.containers[0];
    expect(container.securityContext).to.deep.include({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(container.securityContext?.capabilities?.drop).to.deep.equal(['ALL']);
    expect(container.livenessProbe?.tcpSocket).to.not.equal(undefined);
    expect(container.readinessProbe?.tcpSocket).to.not.equal(undefined);

    // The first creation records no Event (the Progressing condition of the
    // same pass names the StatefulSet, replicas and profile: unit-tested in
    // status.spec.ts). The status write that said so came before the one that
    // made it Available, and an Event would have been sent before either.
    const list = await kc.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace });
    expect(list.items.filter((e) => e.regarding?.name === 'memcached-sample' && e.reason === 'Created')).to.deep.equal([]);
  });

  it('reports a child the apiserver refuses as Degraded (ChildRejected) with its message and an Event, without a hot retry loop', async () => {
    // The CRD schema and the validator accept any nodeSelector key; the
    // apiserver refuses a StatefulSet whose pod template selects on "bad key!".
    await mcs.create('refused', { size: 1, nodeSelector: { 'bad key!': 'x' } });
    const mc = await eventually('Degraded=True with reason ChildRejected', async () => {
      const m = await mcs.get('refused');
      const c = condition(m, 'Degraded');
      return c?.status === 'True' && c.reason === 'ChildRejected' ? m : undefined;
    });
    const degraded = condition(mc, 'Degraded')!;
    expect(degraded.message).to.match(/^the apiserver rejected StatefulSet refused: /);
    expect(degraded.message, "the apiserver's own words").to.contain('nodeSelector').and.contain('bad key!');
    expect(condition(mc, 'Progressing')).to.include({ status: 'False', reason: 'ChildRejected' });
    const event = await eventually('a ChildRejected Warning event', async () => {
      const list = await kc.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace });
      return list.items.find((e) => e.regarding?.name === 'refused' && e.reason === 'ChildRejected');
    });
    expect(event.type).to.equal('Warning');
    expect(event.note).to.equal(degraded.message);

    // No hot loop: once the status is written, the errors stop.
    const counter = async (name: string): Promise<number> => {
      const text = (await operator!.scrapeMetrics()).body;
      const line = text.split('\n').find((l) => l.startsWith(`${name}{controller="memcached"}`));
      return Number(line?.split(' ').at(-1));
    };
    // One reconcile per event (the Services created, the status written)
    // may each meet the refusal; then the count must stop.
    const settled = await eventually('the reconcile error count to settle', async () => {
      const before = await counter('controller_runtime_reconcile_errors_total');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const after = await counter('controller_runtime_reconcile_errors_total');
      return before === after ? after : undefined;
    });
    expect(await counter('controller_runtime_terminal_reconcile_errors_total')).to.be.within(1, 5);
    // An observation window, not a wait for something to happen: with a hot
    // retry loop (5 ms doubling backoff) a few seconds hold a dozen retries.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect(await counter('controller_runtime_reconcile_errors_total'), 'reconcile errors during 5 s of quiet').to.equal(settled);
    await apps.readNamespacedStatefulSet({ namespace, name: 'refused' }).then(
      () => expect.fail('no StatefulSet should exist'),
      (err: unknown) => expect((err as k8s.ApiException<unknown>).code).to.equal(404),
    );

    // Fixing the spec heals it.
    // (A merge patch: null removes the key.)
    await mcs.patchSpec('refused', { nodeSelector: { 'bad key!': null } as unknown as Record<string, string> });
    await mcs.waitAvailable('refused');
  });

  it('scales with spec.size and reports the new readiness', async () => {
    await mcs.create('scaled', { size: 2 });
    await mcs.waitAvailable('scaled');
    await mcs.patchSpec('scaled', { size: 3 });
    const mc = await mcs.waitAvailable('scaled');
    // Available for the new generation means the third replica is Ready too.
    expect(mc.status?.readyReplicas).to.be.at.least(3);
    const statefulSet = await apps.readNamespacedStatefulSet({ namespace, name: 'scaled' });
    expect(statefulSet.spec?.replicas).to.equal(3);
  });

  it('repairs hand-made drift: image, args, ports, labels and replicas', async () => {
    await mcs.create('drift', { size: 2 });
    await mcs.waitAvailable('drift');
    const before = await apps.readNamespacedStatefulSet({ namespace, name: 'drift' });
    const container = before.spec!.template.spec!.containers[0];
    // A hand edit of fields the operator owns: a JSON patch, as `kubectl edit` would do.
    const patch = [
      { op: 'replace', path: '/metadata/labels/app.kubernetes.io~1managed-by', value: 'someone-else' },
      { op: 'replace', path: '/spec/replicas', value: 1 },
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'example.invalid/evil:1' },
      { op: 'replace', path: '/spec/template/spec/containers/0/args', value: ['-p', '1'] },
      { op: 'replace', path: '/spec/template/spec/containers/0/ports/0/name', value: 'hacked' },
    ];
    await apps.patchNamespacedStatefulSet(
      { namespace, name: 'drift', body: patch },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const repaired = await eventually('the StatefulSet to be repaired', async () => {
      const d = await apps.readNamespacedStatefulSet({ namespace, name: 'drift' });
      const c = d.spec!.template.spec!.containers[0];
      return c.image === container.image && d.spec?.replicas === 2 ? d : undefined;
    });
    const c = repaired.spec!.template.spec!.containers[0];
    expect(c.args).to.deep.equal(container.args);
    expect(c.ports?.map((p) => [p.name, p.containerPort])).to.deep.equal(container.ports?.map((p) => [p.name, p.containerPort]));
    expect(repaired.metadata?.labels?.['app.kubernetes.io/managed-by']).to.equal('memcached-operator');
  });

  it('recreates a deleted child', async () => {
    await mcs.create('recreate', { size: 1 });
    await mcs.waitAvailable('recreate');
    await core.deleteNamespacedService({ namespace, name: 'recreate-headless' });
    const svc = await eventually('the headless Service to come back', async () =>
      core.readNamespacedService({ namespace, name: 'recreate-headless' }).catch(() => undefined),
    );
    expect(svc.spec?.clusterIP).to.equal('None');
  });

  it('deletes its children by garbage collection when the Memcached is deleted', async () => {
    await mcs.create('doomed', { size: 2 });
    await mcs.waitAvailable('doomed');
    await mcs.delete('doomed');
    await eventually('the Memcached to be gone', async () => ((await mcs.get('doomed')) ? undefined : true));
    await eventually(
      'the StatefulSet, Services, ConfigMap and PDB to be garbage collected',
      async () => {
        const [d, s, c, p] = await Promise.all([
          apps.listNamespacedStatefulSet({ namespace, fieldSelector: 'metadata.name=doomed' }),
          core.listNamespacedService({ namespace, labelSelector: 'app.kubernetes.io/instance=doomed' }),
          core.listNamespacedConfigMap({ namespace, fieldSelector: 'metadata.name=doomed-servers' }),
          policy.listNamespacedPodDisruptionBudget({ namespace, fieldSelector: 'metadata.name=doomed' }),
        ]);
        return d.items.length + s.items.length + c.items.length + p.items.length === 0 ? true : undefined;
      },
      { timeoutMs: 90_000 },
    );
  });

  it('writes nothing while idle: resourceVersions stay put for 30 s', async () => {
    await mcs.create('quiet', { size: 2 });
    await mcs.waitAvailable('quiet');
    const versions = async () => {
      const [mc, d, s, h, v, c, p] = await Promise.all([
        mcs.get('quiet'),
        apps.readNamespacedStatefulSet({ namespace, name: 'quiet' }),
        core.readNamespacedService({ namespace, name: 'quiet' }),
        core.readNamespacedService({ namespace, name: 'quiet-headless' }),
        core.readNamespacedService({ namespace, name: 'quiet-servers' }),
        core.readNamespacedConfigMap({ namespace, name: 'quiet-servers' }),
        policy.readNamespacedPodDisruptionBudget({ namespace, name: 'quiet' }),
      ]);
      return [mc, d, s, h, v, c, p].map((o) => `${o?.kind ?? ''}/${o?.metadata?.name}@${o?.metadata?.resourceVersion}`);
    };
    // Let the StatefulSet's own status settle before the observation window:
    // every server available, and the Memcached reporting it (Progressing False).
    await eventually(
      'every server available and Progressing False',
      async () => {
        const [mc, sts] = await Promise.all([mcs.get('quiet'), apps.readNamespacedStatefulSet({ namespace, name: 'quiet' })]);
        return sts.status?.availableReplicas === 2 && condition(mc, 'Progressing')?.status === 'False' ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const settled = await eventually('the children to settle', async () => {
      const first = await versions();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const second = await versions();
      return first.join() === second.join() ? second : undefined;
    });
    // An observation window is the test itself here: nothing may change during it.
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    expect(await versions()).to.deep.equal(settled);
  });

  it('marks an invalid object Degraded with the validator message and leaves it without children', async () => {
    // The apiserver validates new objects, so an invalid one can only exist
    // if it was stored before a CRD upgrade. Recreate that: serve a
    // permissive schema, store the object, restore the real CRD.
    const permissive = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'memcacheds.cache.example.com' },
      spec: {
        group: 'cache.example.com',
        names: { kind: 'Memcached', listKind: 'MemcachedList', plural: 'memcacheds', singular: 'memcached', shortNames: ['mc'] },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1alpha1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    };
    kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], JSON.stringify(permissive));
    try {
      await eventually('the permissive schema to accept an invalid object', async () => {
        await mcs.create('invalid', { threads: 1000, extraArgs: ['-p', '1'] });
        return true;
      });
    } finally {
      installCrd();
    }
    const mc = await eventually('the object to be Degraded with InvalidSpec', async () => {
      const obj = await mcs.get('invalid');
      return condition(obj, 'Degraded')?.reason === 'InvalidSpec' ? obj : undefined;
    });
    expect(condition(mc, 'Degraded')?.status).to.equal('True');
    expect(condition(mc, 'Degraded')?.message).to.match(/threads/);
    expect(condition(mc, 'Available')?.status).to.equal('False');
    const statefulSets = await apps.listNamespacedStatefulSet({ namespace, fieldSelector: 'metadata.name=invalid' });
    expect(statefulSets.items).to.have.length(0);
    expect(operator!.child.exitCode).to.equal(null);

    // Fixing the spec (the real schema is back, so the fix must be valid) heals it.
    await mcs.patchSpec('invalid', { threads: 2, extraArgs: [] });
    const healed = await mcs.waitAvailable('invalid');
    expect(condition(healed, 'Degraded')?.status).to.equal('False');
  });

  it('converges 100 objects', async () => {
    const names = Array.from({ length: 100 }, (_, i) => `bulk-${i}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(names.slice(i, i + 20).map((name) => mcs.create(name, { size: 1 })));
    }
    await eventually(
      'all 100 to be Available',
      async () => {
        const list = await mcs.list();
        const ready = list.filter((mc) => mc.metadata.name?.startsWith('bulk-') && condition(mc, 'Available')?.status === 'True');
        return ready.length === 100 ? ready : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 1000 },
    );
  });
});

describe('memcached reconciler when a child write keeps failing', function () {
  this.timeout(240_000);

  let kc: k8s.KubeConfig;
  let namespace: string;
  let core: k8s.CoreV1Api;
  let mcs: Memcacheds;
  let operator: OperatorProcess | undefined;

  before(async () => {
    kc = ensureCluster('ha');
    installCrd();
    namespace = await createNamespace(kc, 'writefail');
    core = kc.makeApiClient(k8s.CoreV1Api);
    mcs = new Memcacheds(kc, namespace);
    operator = await startOperator({ env: { WATCH_NAMESPACE: namespace } });
  });

  after(async () => {
    await operator?.stop();
    await deleteNamespace(kc, namespace);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && operator) console.error(operator.output().split('\n').slice(-40).join('\n'));
  });

  const counter = async (name: string): Promise<number> => {
    const line = (await operator!.scrapeMetrics()).body.split('\n').find((l) => l.startsWith(`${name}{controller="memcached"}`));
    return Number(line?.split(' ').at(-1));
  };

  it("shows a Service the apiserver keeps refusing (a quota) as Degraded ChildWriteFailing with its message, retries, and clears once it is written", async () => {
    // A full Service IP range answers 500 on every create; a quota of no
    // Services answers 403 "exceeded quota" the same way, for any cluster.
    await core.createNamespacedResourceQuota({ namespace, body: { metadata: { name: 'no-services' }, spec: { hard: { services: '0' } } } });
    // Admission enforces the quota once its controller has counted usage.
    await eventually('the quota to be counted', async () => {
      const q = await core.readNamespacedResourceQuota({ namespace, name: 'no-services' });
      return q.status?.hard?.services === '0' ? true : undefined;
    });
    await mcs.create('starved', { size: 1 });

    const mc = await eventually(
      'Degraded=True with reason ChildWriteFailing',
      async () => {
        const m = await mcs.get('starved');
        return condition(m, 'Degraded')?.reason === 'ChildWriteFailing' ? m : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const degraded = condition(mc, 'Degraded')!;
    expect(degraded.status).to.equal('True');
    // The apiserver's own words, naming the Service; a quota is not the spec's fault, so it is not ChildRejected.
    expect(degraded.message).to.match(/^writing Service starved(-headless|-servers)? keeps failing; retrying with backoff: /);
    expect(degraded.message).to.contain('exceeded quota: no-services');
    expect(await counter('controller_runtime_terminal_reconcile_errors_total'), 'not classified as a rejected spec').to.equal(0);
    const event = await eventually('a ChildWriteFailing Warning event', async () => {
      const list = await kc.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace });
      return list.items.find((e) => e.regarding?.name === 'starved' && e.reason === 'ChildWriteFailing');
    });
    expect(event.type).to.equal('Warning');
    expect(event.note).to.equal(degraded.message);

    // The retries go on, with backoff, after the status says so.
    const errors = await counter('controller_runtime_reconcile_errors_total');
    await eventually('another failed retry', async () => ((await counter('controller_runtime_reconcile_errors_total')) > errors ? true : undefined));

    // Lift the quota: the next retry writes the Services, and status heals with no change to the Memcached.
    await core.deleteNamespacedResourceQuota({ namespace, name: 'no-services' });
    const healed = await eventually(
      'Degraded to clear',
      async () => {
        const m = await mcs.get('starved');
        return condition(m, 'Degraded')?.status === 'False' ? m : undefined;
      },
      { timeoutMs: 180_000 },
    );
    expect(condition(healed, 'Degraded')?.reason).to.equal('AsExpected');
    expect(healed.metadata.generation).to.equal(mc.metadata.generation);
    // The StatefulSet follows the Services it needs (its governing one among
    // them), so its server may still be starting when Degraded clears.
    await mcs.waitAvailable('starved');
    const services = await core.listNamespacedService({ namespace });
    expect(services.items.map((s) => s.metadata?.name).sort()).to.deep.equal(['starved', 'starved-headless', 'starved-servers']);
  });
});

describe('memcached operator restarts and outages', function () {
  this.timeout(360_000);

  let kc: k8s.KubeConfig;
  let namespace: string;
  let mcs: Memcacheds;

  before(async () => {
    kc = ensureCluster('ha');
    installCrd();
    namespace = await createNamespace(kc, 'restart');
    mcs = new Memcacheds(kc, namespace);
  });

  after(async () => {
    await deleteNamespace(kc, namespace);
  });

  it('converges without duplicates after being killed mid-reconcile', async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const names = Array.from({ length: 30 }, (_, i) => `restart-${i}`);
    await Promise.all(names.map((name) => mcs.create(name, { size: 1 })));
    const first = await startOperator({ env: { WATCH_NAMESPACE: namespace } });
    // Kill it as soon as it has written some but (very likely) not all children.
    await eventually('the first operator to have created some StatefulSets', async () => {
      const list = await apps.listNamespacedStatefulSet({ namespace });
      return list.items.length > 0 ? true : undefined;
    });
    await first.stop('SIGKILL');

    const second = await startOperator({ env: { WATCH_NAMESPACE: namespace } });
    try {
      await eventually(
        'all 30 to be Available after the restart',
        async () => {
          const list = await mcs.list();
          const ready = list.filter((mc) => condition(mc, 'Available')?.status === 'True');
          return ready.length === names.length ? true : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      const statefulSets = await apps.listNamespacedStatefulSet({ namespace });
      expect(statefulSets.items.map((d) => d.metadata?.name).sort()).to.deep.equal([...names].sort());
      // The ClusterIP, headless and servers Services, and one server list each: no duplicates.
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const services = await core.listNamespacedService({ namespace });
      expect(services.items).to.have.length(names.length * 3);
      const lists = await core.listNamespacedConfigMap({ namespace, labelSelector: 'app.kubernetes.io/managed-by=memcached-operator' });
      expect(lists.items.map((c) => c.metadata?.name).sort()).to.deep.equal(names.map((n) => `${n}-servers`).sort());
    } finally {
      await second.stop();
    }
  });

  it('lets a Memcached be deleted while the operator is down (no finalizer); GC removes its children', async () => {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const operator = await startOperator({ env: { WATCH_NAMESPACE: namespace } });
    try {
      await mcs.create('orphaned', { size: 1 });
      await mcs.waitAvailable('orphaned');
    } finally {
      await operator.stop();
    }
    await mcs.delete('orphaned');
    await eventually('the Memcached to be gone with no operator running', async () => ((await mcs.get('orphaned')) ? undefined : true));
    await eventually(
      'its StatefulSet to be garbage collected',
      async () => ((await apps.listNamespacedStatefulSet({ namespace, fieldSelector: 'metadata.name=orphaned' })).items.length === 0 ? true : undefined),
      { timeoutMs: 90_000 },
    );
  });

  it('removes the finalizer earlier versions added, once, and a legacy object still deletes', async () => {
    // As an earlier version left them: the finalizer on, children written.
    const legacy = (name: string) =>
      kubectl(
        ['create', '-n', namespace, '-f', '-'],
        JSON.stringify({ apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name, finalizers: ['cache.example.com/finalizer'] }, spec: { size: 1 } }),
      );
    legacy('legacy');
    const operator = await startOperator({ env: { WATCH_NAMESPACE: namespace } });
    try {
      const mc = await eventually('the legacy finalizer to be removed', async () => {
        const m = await mcs.get('legacy');
        return m && (m.metadata.finalizers ?? []).length === 0 ? m : undefined;
      });
      expect(mc.metadata.finalizers ?? []).to.deep.equal([]);
      const converged = await mcs.waitAvailable('legacy');
      // Once: a restarted operator reconciles it, finds nothing to remove and writes nothing to it.
      await operator.stop();
      const again = await startOperator({ env: { WATCH_NAMESPACE: namespace } });
      try {
        // Each object in the namespace is reconciled at least once on the initial list.
        const objects = (await mcs.list()).length;
        await eventually('the restarted operator to have reconciled every object', async () => {
          const body = (await again.scrapeMetrics()).body;
          const line = body.split('\n').find((l) => l.startsWith('controller_runtime_reconcile_total{') && l.includes('result="success"'));
          return Number(line?.split(' ').at(-1) ?? 0) >= objects ? true : undefined;
        });
        const after = await mcs.get('legacy');
        expect(after?.metadata.resourceVersion, 'no write to the object after the restart').to.equal(converged.metadata.resourceVersion);
      } finally {
        await again.stop();
      }
    } finally {
      await operator.stop();
    }
    // Deleted while it still carries the finalizer (the operator was down at
    // upgrade time): the running operator releases it and the deletion completes.
    legacy('legacy-doomed');
    await mcs.delete('legacy-doomed');
    const third = await startOperator({ env: { WATCH_NAMESPACE: namespace } });
    try {
      await eventually('the legacy object being deleted to be gone', async () => ((await mcs.get('legacy-doomed')) ? undefined : true));
    } finally {
      await third.stop();
    }
  });

  it('survives the apiserver being down for 30 s and converges afterwards without a restart', async () => {
    const { startApiserver, stopApiserver } = await import('../../support/faults.js');
    const operator = await startOperator({ env: { WATCH_NAMESPACE: namespace } });
    try {
      await mcs.create('outage', { size: 1 });
      await mcs.waitAvailable('outage');
      await stopApiserver();
      try {
        // The outage itself is the test: the operator must ride it out.
        await new Promise((resolve) => setTimeout(resolve, 30_000));
        expect(operator.child.exitCode, 'the operator must not exit during the outage').to.equal(null);
      } finally {
        await startApiserver();
      }
      await mcs.patchSpec('outage', { size: 2 });
      // The controller-manager needs a while to trust its caches again after
      // an apiserver restart; the operator itself is back within ~10 s.
      await mcs.waitAvailable('outage', 180_000);
      // A rollout may surge a third pod for a moment; converged means exactly 2.
      const mc = await eventually('readyReplicas to settle at 2', async () => {
        const obj = await mcs.get('outage');
        return obj?.status?.readyReplicas === 2 ? obj : undefined;
      });
      expect(condition(mc, 'Available')?.status).to.equal('True');
      expect(operator.child.exitCode).to.equal(null);
      const healthz = await fetch(`http://127.0.0.1:${operator.healthPort}/healthz`);
      expect(healthz.status).to.equal(200);
    } finally {
      await operator.stop();
    }
  });
});
