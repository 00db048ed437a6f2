// Event filters for Controller.watches/for/owns, in the shape of
// controller-runtime's predicate package: an event reaches the work queue
// only if every predicate lets it through. They cut queue adds (and so
// reconciles) for changes the reconciler does not read: a child's status
// churn, a resync that changed nothing, the echo of the controller's own
// status write.
import type { KubernetesObject } from '@kubernetes/client-node';

/** A missing method lets that kind of event through. */
export interface Predicate<T extends KubernetesObject> {
  create?(obj: T): boolean;
  update?(obj: T, old: T): boolean;
  delete?(obj: T): boolean;
}

export interface WatchOptions<T extends KubernetesObject> {
  /** The source's name in controller_watch_enqueues_total (e.g. its kind). */
  name?: string;
  /** Every one must let an event through for it to be enqueued. */
  predicates?: Predicate<T>[];
  /**
   * Enqueue this watch's events once they have paused for this many
   * milliseconds instead of at once: a burst for one key (three pods turning
   * Ready, a Deployment's status steps) then costs one reconcile, not one
   * per step or per window. The last event of a burst still waits only this
   * long. An immediate add of the key drops the pending one.
   */
  coalesceMs?: number;
  /**
   * The longest a burst can postpone its key, from its first event, so a
   * steady stream cannot hold it back forever. Default: 5 × coalesceMs.
   */
  coalesceMaxMs?: number;
  /**
   * Events this says yes to skip the coalescing wait and enqueue at once
   * (old is undefined for creations and deletions). For what must not hide
   * in a burst: a replica lost is news, replicas gained can wait a moment.
   */
  urgent?: (obj: T, old: T | undefined) => boolean;
}

/** Drops periodic resyncs (the same resourceVersion re-delivered), as controller-runtime's ResourceVersionChangedPredicate. */
export function resourceVersionChanged<T extends KubernetesObject>(): Predicate<T> {
  return { update: (obj, old) => obj.metadata?.resourceVersion === undefined || obj.metadata.resourceVersion !== old.metadata?.resourceVersion };
}

/** Stable JSON: object keys sorted, so two projections compare by content. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * Lets an update through only when `project` (what the reconciler reads of
 * the object) differs between the old and the new object. Creates and
 * deletes always pass.
 */
export function projectionChanged<T extends KubernetesObject>(project: (obj: T) => unknown): Predicate<T> {
  return { update: (obj, old) => stableJson(project(obj)) !== stableJson(project(old)) };
}

/**
 * What any controller reads of an object's metadata: labels, annotations,
 * owners, finalizers, generation and deletion. Status is left out: for a
 * primary resource its changes are the controller's own writes (as
 * controller-runtime's GenerationChangedPredicate leaves them out).
 */
export function metadataProjection(obj: KubernetesObject): unknown {
  const m = obj.metadata ?? {};
  return {
    generation: m.generation,
    labels: m.labels,
    annotations: m.annotations,
    ownerReferences: m.ownerReferences,
    finalizers: m.finalizers,
    deletionTimestamp: m.deletionTimestamp,
  };
}
