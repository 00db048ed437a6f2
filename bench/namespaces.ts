// The run's namespaces: one per contender and N, created empty and, once
// that contender is measured and stopped, deleted and waited for.
//
// A contender may have put finalizers on its Memcacheds (every Operator SDK
// scaffold adds cache.example.com/finalizer) and only it can take them off.
// It has been stopped by the time its namespace goes (its idle cost is
// measured without it, and a contender that crashed could not help anyway),
// so the harness takes off what it left behind before deleting: no finalizer
// logic runs on a benchmark's objects, and the deletion never waits on a
// process that is gone. What still holds the namespace is named in the log.
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../src/api/types.js';
import { waitUntil, withDeadline } from './wait.js';

const REQUEST_TIMEOUT_MS = 30_000;

export async function createNamespace(kc: k8s.KubeConfig, name: string): Promise<string> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await withDeadline(`namespace ${name} to be created`, REQUEST_TIMEOUT_MS, core.createNamespace({ body: { metadata: { name, labels: { 'memcached-bench': 'true' } } } }));
  return name;
}

interface Named {
  metadata?: { name?: string; finalizers?: string[] };
}

/** Takes every finalizer off the Memcacheds in `namespace`; returns how many objects had any. */
export async function removeMemcachedFinalizers(kc: k8s.KubeConfig, namespace: string): Promise<number> {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const list = (await withDeadline(
    `the Memcacheds in ${namespace} to be listed`,
    REQUEST_TIMEOUT_MS,
    custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL }),
  )) as { items?: Named[] };
  const held = (list.items ?? []).filter((o) => (o.metadata?.finalizers?.length ?? 0) > 0 && o.metadata?.name);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < held.length) {
      const name = held[next++].metadata!.name!;
      const patch = custom.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { metadata: { finalizers: null } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await withDeadline(`the finalizers of ${namespace}/${name} to be removed`, REQUEST_TIMEOUT_MS, patch).catch((err: unknown) => {
        // Deleted meanwhile: nothing holds it any more.
        if (!(err instanceof k8s.ApiException && err.code === 404)) throw err;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, held.length) }, worker));
  return held.length;
}

/** The namespace's True conditions (what its deletion still waits on), or "" once it is gone. */
async function whatHoldsNamespace(core: k8s.CoreV1Api, name: string): Promise<string> {
  const ns = await core.readNamespace({ name }).catch(() => undefined);
  const held = (ns?.status?.conditions ?? []).filter((c) => c.status === 'True').map((c) => `${c.type}: ${c.message ?? ''}`);
  return held.length > 0 ? held.join('; ') : `phase ${ns?.status?.phase ?? 'unknown'}`;
}

/**
 * Deletes a namespace whose contender has stopped and waits until it is
 * gone, saying what holds it while it takes long. Returns false at the
 * deadline, which the caller notes.
 */
export async function deleteNamespace(kc: k8s.KubeConfig, name: string, timeoutMs: number, log: (msg: string) => void): Promise<boolean> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const released = await removeMemcachedFinalizers(kc, name);
  if (released > 0) log(`namespace ${name}: took the finalizers off ${released} Memcacheds its stopped contender left behind`);
  await withDeadline(`namespace ${name} to be deleted`, REQUEST_TIMEOUT_MS, core.deleteNamespace({ name })).catch((err: unknown) => {
    if (!(err instanceof k8s.ApiException && err.code === 404)) throw err;
  });
  const gone = async (): Promise<true | undefined> => {
    try {
      await core.readNamespace({ name });
      return undefined;
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return true;
      return undefined;
    }
  };
  try {
    await waitUntil(`namespace ${name} to go`, gone, { timeoutMs, intervalMs: 500, log, progress: () => whatHoldsNamespace(core, name) });
    return true;
  } catch (err) {
    log(err instanceof Error ? err.message : String(err));
    return false;
  }
}
