// The PodDisruptionBudget of a Memcached, when the placement wants one.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { Memcached } from '../../api/types.js';
import type { Placement } from '../../topology/types.js';
import { crName, objectMeta, selectorLabels } from './metadata.js';

/**
 * PDB `<name>` with maxUnavailable 1: drains take one cache node at a time.
 * unhealthyPodEvictionPolicy AlwaysAllow lets a drain evict pods that are not
 * Ready anyway (crash-looping, or on a failed node) instead of blocking on them.
 * undefined when the placement has no PDB (one replica, or HA disabled):
 * a PDB a single pod can never satisfy would block every node drain.
 */
export function buildPodDisruptionBudget(mc: Memcached, placement: Placement): V1PodDisruptionBudget | undefined {
  if (!placement.podDisruptionBudget) return undefined;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(mc, crName(mc)),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(mc) },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}
