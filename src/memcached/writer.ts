// The reconciler's only path to the apiserver for writes. Children are
// written with server-side apply under one fixed field manager, so fields
// other actors own (an HPA's replicas aside, labels added by admission, ...)
// are left alone. Every write first checks the reconcile's AbortSignal: once
// leadership is lost or shutdown aborts the reconcile, nothing more is sent.
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURAL, VERSION, type Memcached, type MemcachedStatus } from '../api/types.js';
import { callWithDeadline, librarySignalOptions } from '@memcached-operator/runtime';

export const FIELD_MANAGER = 'memcached-operator';
/** Which operator instance last wrote a child; kept out of the desired-state comparison. */
export const LAST_WRITER_ANNOTATION = 'cache.example.com/last-writer';

export class AbortedError extends Error {
  override name = 'AbortedError';
  constructor() {
    super('reconcile aborted before a write (leadership lost or shutting down)');
  }
}

export interface ClusterWriter {
  apply<T extends k8s.KubernetesObject>(obj: T, signal: AbortSignal): Promise<T>;
  delete(obj: k8s.KubernetesObject, signal: AbortSignal): Promise<void>;
  patchStatus(mc: Memcached, status: MemcachedStatus, signal: AbortSignal): Promise<void>;
  /** Sets metadata.finalizers, failing with 409 if the object changed since it was read. */
  setFinalizers(mc: Memcached, finalizers: string[], signal: AbortSignal): Promise<Memcached>;
  /**
   * A strategic merge patch of a running pod (containers merge by name), or
   * of its resize subresource: the in-place changes of servers/.
   */
  patchPod(pod: k8s.V1Pod, patch: object, signal: AbortSignal, subresource?: 'resize'): Promise<k8s.V1Pod>;
}

function check(signal: AbortSignal): void {
  if (signal.aborted) throw new AbortedError();
}

/**
 * No single write may hang a worker: a request that neither answers nor
 * fails (a half-open connection) is abandoned after this long and the
 * reconcile is retried with backoff.
 */
export const WRITE_TIMEOUT_MS = 30_000;

function bounded<T>(what: string, signal: AbortSignal, fn: (options: k8s.ConfigurationOptions) => Promise<T>): Promise<T> {
  check(signal);
  return callWithDeadline(what, WRITE_TIMEOUT_MS, (callSignal) => fn(librarySignalOptions(callSignal)), { signal });
}

const strategicPatchHeader = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
function strategicPatch(options: k8s.ConfigurationOptions): k8s.ConfigurationOptions {
  return { ...options, middleware: [...(strategicPatchHeader.middleware ?? []), ...(options.middleware ?? [])], middlewareMergeStrategy: 'append' };
}

const mergePatchHeader = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
/** Merge-patch content type plus the per-call abort middleware. */
function mergePatch(options: k8s.ConfigurationOptions): k8s.ConfigurationOptions {
  return { ...options, middleware: [...(mergePatchHeader.middleware ?? []), ...(options.middleware ?? [])], middlewareMergeStrategy: 'append' };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON merge patch (RFC 7386) that turns `before` into `after`: `after`, with null for each key it no longer has. */
export function mergePatchFrom(before: unknown, after: unknown): unknown {
  if (!isPlainObject(before) || !isPlainObject(after)) return after;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(before)) if (!(key in after) || after[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(after)) if (value !== undefined) patch[key] = mergePatchFrom(before[key], value);
  return patch;
}

export class ApiClusterWriter implements ClusterWriter {
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;

  constructor(
    kc: k8s.KubeConfig,
    private readonly identity: string,
  ) {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  async apply<T extends k8s.KubernetesObject>(obj: T, signal: AbortSignal): Promise<T> {
    const stamped: T = {
      ...obj,
      metadata: { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [LAST_WRITER_ANNOTATION]: this.identity } },
    };
    return bounded(`apply ${obj.kind} ${obj.metadata?.name}`, signal, () =>
      this.objects.patch(stamped, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply),
    );
  }

  async delete(obj: k8s.KubernetesObject, signal: AbortSignal): Promise<void> {
    try {
      await bounded(`delete ${obj.kind} ${obj.metadata?.name}`, signal, () => this.objects.delete(obj, undefined, undefined, undefined, undefined, 'Background', {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid: obj.metadata?.uid },
      }));
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return;
      throw err;
    }
  }

  async patchStatus(mc: Memcached, status: MemcachedStatus, signal: AbortSignal): Promise<void> {
    await bounded(`status of ${mc.metadata.name}`, signal, (options) => this.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: mc.metadata.namespace!,
        plural: PLURAL,
        name: mc.metadata.name!,
        // status.conditions is replaced whole: a merge patch replaces lists.
        // A key the new status drops is sent as null, or the merge would keep it.
        body: { status: mergePatchFrom(mc.status, status) },
        fieldManager: FIELD_MANAGER,
      },
      mergePatch(options),
    ));
  }

  async setFinalizers(mc: Memcached, finalizers: string[], signal: AbortSignal): Promise<Memcached> {
    const updated: unknown = await bounded(`finalizers of ${mc.metadata.name}`, signal, (options) => this.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: mc.metadata.namespace!,
        plural: PLURAL,
        name: mc.metadata.name!,
        // The resourceVersion makes this an optimistic-concurrency write.
        body: { apiVersion: API_VERSION, metadata: { finalizers, resourceVersion: mc.metadata.resourceVersion } },
        fieldManager: FIELD_MANAGER,
      },
      mergePatch(options),
    ));
    return updated as Memcached;
  }

  async patchPod(pod: k8s.V1Pod, patch: object, signal: AbortSignal, subresource?: 'resize'): Promise<k8s.V1Pod> {
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    const body = { ...patch, metadata: { ...(patch as { metadata?: object }).metadata, uid: pod.metadata?.uid } };
    const request = { name, namespace, body, fieldManager: FIELD_MANAGER };
    return bounded(`${subresource ?? 'patch'} pod ${name}`, signal, (options) =>
      subresource === 'resize' ? this.core.patchNamespacedPodResize(request, strategicPatch(options)) : this.core.patchNamespacedPod(request, strategicPatch(options)),
    );
  }
}
