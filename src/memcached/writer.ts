// The reconciler's only path to the apiserver for writes. Children are
// written with server-side apply under one fixed field manager, so fields
// other actors own (an HPA's replicas aside, labels added by admission, ...)
// are left alone. Every write first checks the reconcile's AbortSignal: once
// leadership is lost or shutdown aborts the reconcile, nothing more is sent.
import type * as k8s from '@kubernetes/client-node';
import { API_VERSION, PLURAL, type Memcached, type MemcachedStatus } from '../api/types.js';
import { callWithDeadline, clientFor, statusCode, type ApiClient } from '@memcached-operator/runtime';

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

function bounded<T>(what: string, signal: AbortSignal, fn: (callSignal: AbortSignal) => Promise<T>): Promise<T> {
  check(signal);
  return callWithDeadline(what, WRITE_TIMEOUT_MS, fn, { signal });
}

/** The plural (URL) name of each kind the operator writes. */
const PLURALS: Record<string, string> = {
  ConfigMap: 'configmaps',
  Deployment: 'deployments',
  Memcached: PLURAL,
  Pod: 'pods',
  PodDisruptionBudget: 'poddisruptionbudgets',
  PodMonitor: 'podmonitors',
  PrometheusRule: 'prometheusrules',
  Secret: 'secrets',
  Service: 'services',
  StatefulSet: 'statefulsets',
};

/** Pure: the URL path of a namespaced object the operator writes; a kind it does not write is a programming error, said clearly. */
export function objectPath(obj: k8s.KubernetesObject, subresource?: string): string {
  const { apiVersion, kind } = obj;
  const name = obj.metadata?.name;
  const namespace = obj.metadata?.namespace;
  const plural = kind === undefined ? undefined : PLURALS[kind];
  if (!apiVersion || !plural || !name || !namespace) {
    throw new Error(`cannot write ${apiVersion ?? '?'} ${kind ?? '?'} ${namespace ?? '?'}/${name ?? '?'}: the operator writes only namespaced ${Object.keys(PLURALS).join(', ')}, named`);
  }
  const group = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return `${group}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
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
  private readonly api: ApiClient;

  constructor(
    kc: k8s.KubeConfig,
    private readonly identity: string,
  ) {
    this.api = clientFor(kc);
  }

  async apply<T extends k8s.KubernetesObject>(obj: T, signal: AbortSignal): Promise<T> {
    const stamped: T = {
      ...obj,
      metadata: { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [LAST_WRITER_ANNOTATION]: this.identity } },
    };
    return bounded(`apply ${obj.kind} ${obj.metadata?.name}`, signal, (callSignal) =>
      this.api.patch<T>(objectPath(stamped), 'apply', stamped, { query: { fieldManager: FIELD_MANAGER, force: true }, signal: callSignal }),
    );
  }

  async delete(obj: k8s.KubernetesObject, signal: AbortSignal): Promise<void> {
    try {
      await bounded(`delete ${obj.kind} ${obj.metadata?.name}`, signal, (callSignal) =>
        this.api.delete(objectPath(obj), {
          body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: obj.metadata?.uid } },
          signal: callSignal,
        }),
      );
    } catch (err) {
      if (statusCode(err) === 404) return;
      throw err;
    }
  }

  async patchStatus(mc: Memcached, status: MemcachedStatus, signal: AbortSignal): Promise<void> {
    // status.conditions is replaced whole: a merge patch replaces lists.
    // A key the new status drops is sent as null, or the merge would keep it.
    await bounded(`status of ${mc.metadata.name}`, signal, (callSignal) =>
      this.api.patch(objectPath({ ...mc, apiVersion: API_VERSION, kind: 'Memcached' }, 'status'), 'merge', { status: mergePatchFrom(mc.status, status) }, {
        query: { fieldManager: FIELD_MANAGER },
        signal: callSignal,
      }),
    );
  }

  async setFinalizers(mc: Memcached, finalizers: string[], signal: AbortSignal): Promise<Memcached> {
    // The resourceVersion makes this an optimistic-concurrency write.
    const body = { apiVersion: API_VERSION, metadata: { finalizers, resourceVersion: mc.metadata.resourceVersion } };
    return bounded(`finalizers of ${mc.metadata.name}`, signal, (callSignal) =>
      this.api.patch<Memcached>(objectPath({ ...mc, apiVersion: API_VERSION, kind: 'Memcached' }), 'merge', body, { query: { fieldManager: FIELD_MANAGER }, signal: callSignal }),
    );
  }

  async patchPod(pod: k8s.V1Pod, patch: object, signal: AbortSignal, subresource?: 'resize'): Promise<k8s.V1Pod> {
    const name = pod.metadata!.name!;
    const body = { ...patch, metadata: { ...(patch as { metadata?: object }).metadata, uid: pod.metadata?.uid } };
    return bounded(`${subresource ?? 'patch'} pod ${name}`, signal, (callSignal) =>
      this.api.patch<k8s.V1Pod>(objectPath({ ...pod, apiVersion: 'v1', kind: 'Pod' }, subresource), 'strategic', body, { query: { fieldManager: FIELD_MANAGER }, signal: callSignal }),
    );
  }
}
