// What the operator asks of its memcached pods, in one place: whether a pod
// serves (Ready and not on its way out) and whether a selector picks it.
import type { V1Pod } from '@kubernetes/client-node';

/** Ready and not being deleted: a pod that serves clients. */
export function isServing(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && !!pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Whether every label of an equality selector is on the pod. */
export function matchesSelector(pod: V1Pod, selector: Record<string, string>): boolean {
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
