// Container resources: the spec's, completed from the placement's profile,
// with the memory limit derived from memoryLimitMB.
import type { V1ResourceRequirements } from '@kubernetes/client-node';
import type { MemcachedSpec } from '../../api/types.js';
import type { Placement } from '../../topology/types.js';
import { DEFAULT_MEMORY_LIMIT_MB } from './args.js';

/**
 * Headroom above memcached -m. -m caps item storage only; the process also
 * holds the hash table (8 bytes a bucket, doubled as items grow, so it scales
 * with the item count and hence with -m), per-connection read/write buffers,
 * per-thread caches and slab bookkeeping (roughly proportional: the 25%), plus
 * the binary, libevent and stacks (a fixed 32Mi). Without it the container
 * is OOM-killed as the cache fills, losing every item.
 */
export const MEMORY_HEADROOM_FRACTION = 0.25;
export const MEMORY_HEADROOM_MI = 32;

/** CPU requested per profile. No CPU limit is set: CFS throttling shows up as cache latency. */
export const PROFILE_CPU_REQUEST: Readonly<Record<Placement['resourceProfile'], string>> = {
  Small: '50m',
  Standard: '250m',
};

/** Memory limit (MiB) of the container for memcached -m memoryLimitMB. */
export function containerMemoryMi(memoryLimitMB: number): number {
  return Math.ceil(memoryLimitMB * (1 + MEMORY_HEADROOM_FRACTION)) + MEMORY_HEADROOM_MI;
}

const BINARY_SUFFIX: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL_SUFFIX: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** The value of a Kubernetes quantity ("128Mi", "1.5G", "1e9", 512), or undefined when it is not one. */
export function quantityValue(q: string | number): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([KMGTPE]i)|([numkMGTPE]?)|[eE]([+-]?\d+))$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2]) return n * BINARY_SUFFIX[m[2]];
  if (m[4] !== undefined) return n * 10 ** Number(m[4]);
  return n * DECIMAL_SUFFIX[m[3] ?? ''];
}

function asQuantityMap(m: Record<string, string | number> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(m ?? {}).sort()) out[key] = String(m![key]);
  return out;
}

function sortedKeys(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]]));
}

/**
 * Requests and limits of the memcached container, in sorted key order.
 * Starting from the spec's own values:
 * - a resource with a limit but no request gets the limit as its request
 *   (as the apiserver would, and so the profile never asks above the limit);
 * - CPU request otherwise comes from the profile;
 * - memory limit, when unset, is memoryLimitMB plus headroom (but never below
 *   the memory request), and the memory request defaults to the same value:
 *   a cache evicted under node memory pressure loses its contents.
 */
export function buildResources(spec: MemcachedSpec, profile: Placement['resourceProfile']): V1ResourceRequirements {
  const userRequests = asQuantityMap(spec.resources?.requests);
  const userLimits = asQuantityMap(spec.resources?.limits);
  const requests: Record<string, string> = { ...userRequests };
  const limits: Record<string, string> = { ...userLimits };

  for (const [name, limit] of Object.entries(userLimits)) {
    if (requests[name] === undefined) requests[name] = limit;
  }
  if (requests.cpu === undefined) requests.cpu = PROFILE_CPU_REQUEST[profile];
  if (limits.memory === undefined) {
    const derived = `${containerMemoryMi(spec.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB)}Mi`;
    const requested = requests.memory;
    const derivedBytes = quantityValue(derived) ?? 0;
    const requestedBytes = requested === undefined ? undefined : quantityValue(requested);
    limits.memory = requested !== undefined && (requestedBytes === undefined || requestedBytes > derivedBytes) ? requested : derived;
  }
  if (requests.memory === undefined) requests.memory = limits.memory;
  return { limits: sortedKeys(limits), requests: sortedKeys(requests) };
}
