// Decides whether a desired child object must be written. A converged object
// must cause zero writes, so the reconciler compares before it applies:
//   - every field we set must hold the value we want (this catches hand-made
//     drift such as an edited image), while fields the apiserver defaulted or
//     other actors own are ignored;
//   - a hash of the desired object, kept in an annotation, catches what a
//     subset check cannot: a field we stopped setting (say, anti-affinity
//     removed after a topology change) must be removed from the live object.
import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';

export const DESIRED_HASH_ANNOTATION = 'cache.example.com/desired-hash';

/** JSON with object keys sorted, so equal objects hash equally. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function desiredHash(obj: unknown): string {
  return createHash('sha256').update(stableStringify(obj)).digest('hex').slice(0, 16);
}

/** Returns the object with its desired-hash annotation set. */
export function withDesiredHash<T extends KubernetesObject>(obj: T): T & { metadata: { annotations: Record<string, string> } } {
  const hash = desiredHash(obj);
  return {
    ...obj,
    metadata: { ...obj.metadata, annotations: { ...obj.metadata?.annotations, [DESIRED_HASH_ANNOTATION]: hash } },
  };
}

/**
 * True when every value in `desired` is present and equal in `live`. Arrays
 * must have the same length and match element by element; values the
 * apiserver canonicalises (numbers written as strings, such as "1" vs 1 in
 * int-or-string fields) compare as equal.
 */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (desired === undefined) return true;
  // The apiserver omits zero values (Go's omitempty): false, 0, "", [] and {}
  // we ask for read back as absent.
  if (live === undefined && isZeroValue(desired)) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => isSubset(d, live[i]));
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    const liveRecord = live as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(([k, v]) => isSubset(v, liveRecord[k]));
  }
  if (desired === live) return true;
  return (typeof desired === 'number' || typeof desired === 'string') && String(desired) === String(live);
}

function isZeroValue(v: unknown): boolean {
  if (v === false || v === 0 || v === '' || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && v !== null && Object.values(v).every((x) => x === undefined || isZeroValue(x));
}

/** Whether the desired object (already carrying its hash annotation) must be applied over `live`. */
export function needsApply(desired: KubernetesObject, live: KubernetesObject | undefined): boolean {
  if (live === undefined) return true;
  const want = desired.metadata?.annotations?.[DESIRED_HASH_ANNOTATION];
  if (want !== undefined && live.metadata?.annotations?.[DESIRED_HASH_ANNOTATION] !== want) return true;
  return !isSubset(desired, live);
}
