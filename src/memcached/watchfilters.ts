// What the reconciler reads of each watched kind, as pure functions: the
// informers keep only that (transforms, applied on ingest), and an update
// that changes none of it is not enqueued (predicates). The benchmark found
// ~36 queue adds and 3 reconciles per Memcached, most of them pod and
// StatefulSet status churn and the echo of the operator's own status write,
// and the caches holding every field of every pod, managedFields included.
// Keep these in step with reconciler.ts, status.ts and pods.ts: a field
// they start reading must be added here (the table tests list them).
import type { KubernetesObject, V1Pod, V1StatefulSet, V1StatefulSetStatus } from '@kubernetes/client-node';
import { metadataProjection, projectionChanged, type Predicate } from '@memcached-operator/runtime';
import { CACHE_VOLUME } from './children/statefulset.js';
import { isServing } from './pods.js';

/** The operator's annotations on its pods (servers/). */
const OWN_ANNOTATION_PREFIX = 'cache.example.com/';

/**
 * How long pod and StatefulSet events wait before they enqueue their
 * Memcached, so that a burst (pods turning Ready one after another) is one
 * reconcile and one status write. Short against the seconds a pod takes to
 * start; measured at N=1 without it: 14 reconciles and 6 status writes.
 */
export const CHILD_STATUS_COALESCE_MS = 1000;

/**
 * Whether a StatefulSet update lost ready replicas: enqueued at once, not
 * coalesced, so a pod that dies and is replaced within the coalescing window
 * still shows as Available=False (a lost replica is news; gains can wait).
 */
export function statefulSetLostReadiness(d: V1StatefulSet, old: V1StatefulSet | undefined): boolean {
  return old !== undefined && (d.status?.readyReplicas ?? 0) < (old.status?.readyReplicas ?? 0);
}

/**
 * Whether a StatefulSet's rollout is complete: its controller has seen the
 * latest spec, and every desired replica is updated, Ready and available,
 * with no old replica left (what status.ts reports as Available and
 * RolloutComplete).
 */
function rolloutComplete(d: V1StatefulSet): boolean {
  const s: Partial<V1StatefulSetStatus> = d.status ?? {};
  const desired = d.spec?.replicas ?? 1;
  return (
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (s.updatedReplicas ?? 0) === desired &&
    (s.readyReplicas ?? 0) === desired &&
    (s.availableReplicas ?? 0) === desired &&
    (s.replicas ?? 0) === desired
  );
}

/**
 * Whether a StatefulSet update finished its rollout: the burst it belonged to
 * is over, so waiting for quiet only delays the Available the user waits for
 * (the benchmark's N=1 took the 1 s coalescing wait longer than the Go peer).
 */
export function statefulSetCompletedRollout(d: V1StatefulSet, old: V1StatefulSet | undefined): boolean {
  return old !== undefined && rolloutComplete(d) && !rolloutComplete(old);
}

/** StatefulSet updates that skip the coalescing wait: a replica lost, or the rollout done. */
export function statefulSetUrgent(d: V1StatefulSet, old: V1StatefulSet | undefined): boolean {
  return statefulSetLostReadiness(d, old) || statefulSetCompletedRollout(d, old);
}

/** Whether a Pod update took a Ready pod out of service (not Ready any more, or being deleted). */
export function podLostReadiness(pod: V1Pod, old: V1Pod | undefined): boolean {
  return old !== undefined && isServing(old) && !isServing(pod);
}

/** The pod's projection without what a Ready gain changes: the conditions and the containers' ready, running and waiting states. */
function withoutReadiness(pod: V1Pod): unknown {
  const p = podProjection(pod) as { containers: { ready?: boolean; running?: boolean; waiting?: string }[] };
  return { ...p, conditions: undefined, containers: p.containers.map(({ ready: _r, running: _s, waiting: _w, ...rest }) => rest) };
}

/**
 * Whether a Pod update is only a pod turning Ready (nothing else the
 * reconciler reads changed: no label, node, image, restart or deletion).
 * It is dropped from the pod watch: the StatefulSet's readyReplicas update
 * that follows brings the same news, and enqueuing both made a third
 * reconcile per new cache (see servers/steps.ts for a StatefulSet event that
 * overtakes the pod's). Losses, restarts and trouble still pass.
 */
export function podGainedReadinessOnly(pod: V1Pod, old: V1Pod | undefined): boolean {
  if (old === undefined || isServing(old) || !isServing(pod)) return false;
  return JSON.stringify(withoutReadiness(pod)) === JSON.stringify(withoutReadiness(old));
}

const metadataChanged = projectionChanged<KubernetesObject>(metadataProjection);

/**
 * A Memcached update is reconciled when its spec (generation) or metadata
 * (finalizers, deletion, labels, annotations) changed, or on the periodic
 * resync (the same resourceVersion again). A status-only update is the
 * operator's own write coming back, and is dropped.
 */
export function memcachedUpdateMatters<T extends KubernetesObject>(): Predicate<T> {
  return {
    update: (obj, old) => obj.metadata?.resourceVersion === old.metadata?.resourceVersion || metadataChanged.update!(obj, old),
  };
}

/**
 * A Pod reduced, in place, to what the reconciler reads: identity, labels,
 * owners, deletion, the node, and the status that readiness and
 * podTrouble() use. The rest (the whole pod spec, most of all) is dropped.
 */
export function projectPod(pod: V1Pod): V1Pod {
  const m = pod.metadata;
  if (m) {
    delete m.managedFields;
    // The operator's own annotations say what each server runs (servers/changes.ts).
    const ours = Object.entries(m.annotations ?? {}).filter(([k]) => k.startsWith(OWN_ANNOTATION_PREFIX));
    if (ours.length > 0) m.annotations = Object.fromEntries(ours);
    else delete m.annotations;
  }
  if (pod.spec) {
    // The stats poll, the exporter's target check and certificate rotation
    // connect to a container port at the pod's IP: names and ports stay; the
    // servers' in-place changes compare images, resources and the RAM disk.
    const nodeName = pod.spec.nodeName;
    const containers = pod.spec.containers.map(({ name, ports, image, resources }) => ({ name, image, ...(ports ? { ports } : {}), ...(resources ? { resources } : {}) }));
    const volumes = (pod.spec.volumes ?? []).filter((v) => v.name === CACHE_VOLUME);
    const affinity = pod.spec.affinity;
    pod.spec = { containers, ...(nodeName ? { nodeName } : {}), ...(volumes.length > 0 ? { volumes } : {}), ...(affinity ? { affinity } : {}) };
  }
  if (pod.status) {
    const { phase, conditions, containerStatuses, podIP, podIPs } = pod.status;
    pod.status = {
      ...(phase ? { phase } : {}),
      ...(podIP ? { podIP } : {}),
      ...(podIPs ? { podIPs } : {}),
      ...(conditions ? { conditions: conditions.map(({ type, status, reason, message, lastTransitionTime }) => ({ type, status, reason, message, lastTransitionTime })) } : {}),
      ...(containerStatuses
        ? { containerStatuses: containerStatuses.map(({ name, image, imageID, ready, restartCount, state, lastState }) => ({ name, image, imageID, ready, restartCount, state, lastState })) }
        : {}),
    };
  }
  return pod;
}

/** What a change of a Pod must touch to matter: its labels, node, deletion, readiness and the troubles podTrouble() reports. */
export function podProjection(pod: V1Pod): unknown {
  return {
    labels: pod.metadata?.labels,
    annotations: pod.metadata?.annotations,
    images: pod.spec?.containers.map((c) => c.image),
    deletionTimestamp: pod.metadata?.deletionTimestamp,
    nodeName: pod.spec?.nodeName,
    conditions: (pod.status?.conditions ?? [])
      .filter((c) => c.type === 'Ready' || c.type === 'PodScheduled')
      .map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
    containers: (pod.status?.containerStatuses ?? []).map((c) => ({
      name: c.name,
      ready: c.ready,
      restartCount: c.restartCount,
      running: c.state?.running?.startedAt !== undefined,
      waiting: c.state?.waiting?.reason,
      lastTerminated: c.lastState?.terminated?.reason,
    })),
  };
}

/** A StatefulSet's metadata, spec (drift is repaired) and the status fields status.ts reads. */
export function statefulSetProjection(d: V1StatefulSet): unknown {
  const s: Partial<V1StatefulSetStatus> = d.status ?? {};
  return {
    metadata: metadataProjection(d),
    spec: d.spec,
    status: {
      observedGeneration: s.observedGeneration,
      replicas: s.replicas,
      updatedReplicas: s.updatedReplicas,
      readyReplicas: s.readyReplicas,
      availableReplicas: s.availableReplicas,
      // The revision the operator labels each server with once it runs the template (servers/).
      updateRevision: s.updateRevision,
    },
  };
}

/**
 * Whether a StatefulSet's add event tells the reconciler anything. The add of
 * a StatefulSet the operator has just created carries no status (only the
 * StatefulSet controller writes it, in later updates), and the pass that
 * created it already wrote what it knew: it is dropped. One that arrives
 * with status (a relist after a watch gap) is news and passes; on a restart
 * every Memcached is enqueued by its own add anyway.
 */
export function statefulSetAddMatters(d: V1StatefulSet): boolean {
  const s: Partial<V1StatefulSetStatus> = d.status ?? {};
  return s.observedGeneration !== undefined || (s.replicas ?? 0) > 0 || (s.availableReplicas ?? 0) > 0;
}

/**
 * Whether a Pod's add event tells the reconciler anything: a pod the
 * ReplicaSet has just created is not bound, has no conditions and no
 * container statuses, so there is no readiness or trouble to report yet
 * (the scheduler's and kubelet's updates bring them). One that arrives
 * bound, or with status (a relist after a watch gap), passes.
 */
export function podAddMatters(pod: V1Pod): boolean {
  return !!pod.spec?.nodeName || (pod.status?.conditions ?? []).length > 0 || (pod.status?.containerStatuses ?? []).length > 0;
}

/**
 * Services and PodDisruptionBudgets: their add event is the echo of the
 * operator's own creation (the pass that wrote them reads nothing back from
 * them), so it is dropped; updates and deletions (drift, a deleted child to
 * recreate) pass.
 */
export function childAddMatters(): boolean {
  return false;
}

/** Services and PodDisruptionBudgets: metadata and spec; their status is nothing the reconciler reads. */
export function childProjection(obj: KubernetesObject & { spec?: unknown }): unknown {
  return { metadata: metadataProjection(obj), spec: obj.spec };
}
