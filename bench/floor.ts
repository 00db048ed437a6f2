// The floor: the least a controller must do to converge Memcached objects,
// run as its own process like the operator. For each object it makes exactly
// the writes a converged object needs, with the operator's own builders and
// writer (same bodies, same server-side apply, same status merge patch):
//   StatefulSet, Service, headless Service, servers Service, the servers
//   ConfigMap (the published list, from the replica count), PodDisruptionBudget
//   (where the placement has one), then one status write (with the server
//   list) once the StatefulSet reports every replica ready — the operator's
//   Available signal.
// No finalizer, no Events, no intermediate status, no compare-before-apply;
// an object's children are applied in parallel (they are independent).
// Concurrency: --concurrency workers over a de-duplicating queue, the same
// bound as the operator's --max-concurrent-reconciles.
//
//   node .build/bench/floor.js --kubeconfig K --namespace NS --concurrency 4
// prints {"ready":true} once its caches are synced, and runs until SIGTERM.
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Memcached } from '../src/api/types.js';
import { DEFAULT_MEMCACHED_IMAGE, validateMemcached } from '../src/api/validator.js';
import { buildStatefulSet } from '../src/memcached/children/statefulset.js';
import { withDesiredHash } from '../src/memcached/diff.js';
import { selectorLabels, MANAGED_BY } from '../src/memcached/children/metadata.js';
import { buildPodDisruptionBudget } from '../src/memcached/children/pdb.js';
import { buildHeadlessService, buildServersService, buildService } from '../src/memcached/children/services.js';
import { buildServersConfigMap, serverList } from '../src/memcached/servers/serverlist.js';
import { computeStatus } from '../src/memcached/status.js';
import { ApiClusterWriter } from '../src/memcached/writer.js';
import { clusterTopology, countZones, schedulableNodes } from '../src/topology/detect.js';
import { placementFor } from '../src/topology/sizing.js';

const flags = (() => {
  try {
    return parseArgs({
      options: { kubeconfig: { type: 'string' }, namespace: { type: 'string' }, concurrency: { type: 'string', default: '4' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`floor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
})();

function flag(name: keyof typeof flags): string {
  const value = flags[name];
  if (value === undefined) {
    process.stderr.write(`floor: --${name} is required\n`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(flag('kubeconfig'));
  const namespace = flag('namespace');
  const concurrency = Number(flag('concurrency'));
  const writer = new ApiClusterWriter(kc, 'memcached-bench-floor');
  const signal = new AbortController().signal;

  // The cluster's shape, read once: the floor's objects are sized as the operator sizes them.
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const nodes = (await core.listNode()).items;
  const infrastructure: unknown = await custom
    .getClusterCustomObject({ group: 'config.openshift.io', version: 'v1', plural: 'infrastructures', name: 'cluster' })
    .catch(() => undefined);
  const detected = clusterTopology({ infrastructure, nodes });

  const owned = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const memcacheds = k8s.makeInformer<Memcached & k8s.KubernetesObject>(
    kc,
    `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
    () => custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL }) as Promise<k8s.KubernetesListObject<Memcached & k8s.KubernetesObject>>,
  );
  const statefulSets = k8s.makeInformer<k8s.V1StatefulSet>(kc, `/apis/apps/v1/namespaces/${namespace}/statefulsets`, () => apps.listNamespacedStatefulSet({ namespace, labelSelector: owned }), owned);
  const pods = k8s.makeInformer<k8s.V1Pod>(kc, `/api/v1/namespaces/${namespace}/pods`, () => core.listNamespacedPod({ namespace, labelSelector: owned }), owned);

  const applied = new Set<string>();
  const statusWritten = new Set<string>();
  const queue: string[] = [];
  const queued = new Set<string>();
  const active = new Set<string>();
  const dirty = new Set<string>();
  const waiters: Array<() => void> = [];
  const wake = (): void => {
    for (const resolve of waiters.splice(0)) resolve();
  };

  const enqueue = (name: string | undefined): void => {
    if (!name || statusWritten.has(name)) return;
    if (active.has(name)) {
      dirty.add(name);
      return;
    }
    if (queued.has(name)) return;
    queued.add(name);
    queue.push(name);
    wake();
  };

  const process1 = async (name: string): Promise<void> => {
    const mc = memcacheds.get(name, namespace);
    if (!mc) return;
    const validation = validateMemcached(mc);
    if (!validation.valid) return;
    const spec = validation.spec;
    const eligible = schedulableNodes(nodes, spec.tolerations ?? [], spec.nodeSelector ?? {});
    const placement = placementFor(spec, detected.topology, eligible.length, countZones(eligible));
    const statefulSet = withDesiredHash(buildStatefulSet(mc, spec, placement, { defaultImage: DEFAULT_MEMCACHED_IMAGE, replicas: placement.replicas }));
    const servers = serverList(mc, spec, placement.replicas);
    if (!applied.has(name)) {
      // The children do not depend on one another: one round trip, not six.
      const pdb = buildPodDisruptionBudget(mc, placement);
      const children: k8s.KubernetesObject[] = [
        statefulSet,
        withDesiredHash(buildService(mc, spec)),
        withDesiredHash(buildHeadlessService(mc, spec)),
        withDesiredHash(buildServersService(mc, spec)),
        withDesiredHash(buildServersConfigMap(mc, servers)),
      ];
      if (pdb) children.push(withDesiredHash(pdb));
      await Promise.all(children.map((child) => writer.apply(child, signal)));
      applied.add(name);
    }
    const live = statefulSets.get(name, namespace);
    const desired = statefulSet.spec?.replicas ?? 0;
    if (!live || (live.status?.readyReplicas ?? 0) < desired || desired === 0) return;
    const selector = selectorLabels(mc);
    const readyPods = pods
      .list(namespace)
      .filter((p) => Object.entries(selector).every(([k, v]) => p.metadata?.labels?.[k] === v))
      .filter((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      .map((p) => p.metadata!.name!);
    const status = computeStatus({
      mc,
      statefulSet: live,
      readyPods,
      servers: { serverList: servers, servers: readyPods.sort().map((pod) => ({ name: pod, state: 'Warm' as const })) },
      placement,
      topology: {
        controlPlane: placement.effectiveTopology.controlPlane,
        infrastructure: placement.effectiveTopology.infrastructure,
        source: placement.source,
        schedulableNodes: eligible.length,
      },
      now: new Date(),
    });
    await writer.patchStatus(mc, status, signal);
    statusWritten.add(name);
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      const name = queue.shift();
      if (name === undefined) {
        await new Promise<void>((resolve) => waiters.push(resolve));
        continue;
      }
      queued.delete(name);
      active.add(name);
      try {
        await process1(name);
      } catch (err) {
        process.stderr.write(`floor: ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
        dirty.add(name);
        await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        active.delete(name);
        if (dirty.delete(name)) enqueue(name);
      }
    }
  };

  memcacheds.on('add', (o) => enqueue(o.metadata?.name));
  memcacheds.on('update', (o) => enqueue(o.metadata?.name));
  statefulSets.on('add', (o) => enqueue(o.metadata?.name));
  statefulSets.on('update', (o) => enqueue(o.metadata?.name));
  for (const inf of [memcacheds, statefulSets, pods] as k8s.Informer<k8s.KubernetesObject>[]) {
    inf.on('error', () => setTimeout(() => void inf.start().catch(() => undefined), 500));
  }
  await Promise.all([pods.start(), statefulSets.start(), memcacheds.start()]);
  for (let i = 0; i < concurrency; i++) void worker();
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve));
  await Promise.all([memcacheds.stop(), statefulSets.stop(), pods.stop()]);
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`floor: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
