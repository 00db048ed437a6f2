// Container resources: the spec's, completed from the placement's profile,
// with the memory limit derived from memoryLimitMB.
import type { V1ResourceRequirements } from '@kubernetes/client-node';
import type { MemcachedSpec } from '../../api/types.js';
import type { Placement } from '../../topology/types.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MEMORY_LIMIT_MB } from './args.js';

/**
 * What memcached takes beyond -m, measured on the binary the pods run
 * (bench/memcached-memory.ts, bench/results/memcached-memory.md: -m 16 to
 * 1024, with and without -e, filled past full with tiny, small and mid-size
 * values, 200 connections open; the limit below is at least 12% above
 * every peak). -m caps the slabs only; the peak above it was the hash table
 * and a few MiB, nothing else:
 *
 * - the hash table: 8 bytes a bucket, doubled once the items pass 1.5 a
 *   bucket, and while it doubles the old table is held until every item has
 *   moved (so 1.5 times the table at the peak). Its size follows the item
 *   count, which is largest when every item takes memcached's smallest
 *   chunk (96 bytes): about 9.4% of -m at the peak, up to 16.7% just past a
 *   doubling. Computed here as memcached grows it, not guessed.
 * - the rest: the process, its threads, slab and LRU bookkeeping, idle
 *   connections: about 3 MiB plus 0.5% of -m measured.
 * - a connection with a request in flight holds a read buffer of up to
 *   16 KiB (900 connections each holding half a request measured 12.8 KiB
 *   each), so -c counts too.
 *
 * The -e memory file is exactly -m and is charged to the container as the
 * anonymous slabs are: warm and cold peaks differ by noise, one formula
 * serves both. The limit is 10% above the slabs plus the hash table's peak,
 * plus the connections' buffers, plus a fixed 16 MiB (the measured rest,
 * the binary's pages, and kernel memory such as page tables and socket
 * buffers, which cgroup v2 charges too). Without it the container is
 * OOM-killed as the cache fills, losing every item.
 */
/** Above the slabs and the hash table's peak, in percent (a whole number, so the arithmetic is exact). */
export const MEMORY_MARGIN_PERCENT = 10;
export const MEMORY_FIXED_MI = 16;
export const CONNECTION_BUFFER_KIB = 16;
/** memcached's smallest slab chunk (default -n 48, growth factor 1.25): the most items a MB can hold. */
export const SMALLEST_CHUNK_BYTES = 96;
/** memcached's first hash table: 2^16 buckets. */
const HASH_POWER_START = 16;
const HASH_BUCKET_BYTES = 8;
const MiB = 2 ** 20;

/**
 * memcached's hash table at its largest for a cache of memoryMB (MiB): the
 * table for memoryMB full of the smallest items, plus the half-size table
 * it still holds while doubling.
 */
export function hashTablePeakMi(memoryMB: number): number {
  const items = (memoryMB * MiB) / SMALLEST_CHUNK_BYTES;
  let power = HASH_POWER_START;
  while (items > 1.5 * 2 ** power) power++;
  const table = HASH_BUCKET_BYTES * 2 ** power;
  const previous = power > HASH_POWER_START ? table / 2 : 0;
  return (table + previous) / MiB;
}

/** CPU requested per profile. No CPU limit is set: CFS throttling shows up as cache latency. */
export const PROFILE_CPU_REQUEST: Readonly<Record<Placement['resourceProfile'], string>> = {
  Small: '50m',
  Standard: '250m',
};

/** Memory limit (MiB) of the container for memcached -m memoryMB and -c maxConnections: what a full cache takes, with the margin above. */
export function containerMemoryMi(memoryMB: number, maxConnections: number = DEFAULT_MAX_CONNECTIONS): number {
  const slabsAndHash = Math.ceil(((memoryMB + hashTablePeakMi(memoryMB)) * (100 + MEMORY_MARGIN_PERCENT)) / 100);
  const connections = Math.ceil((maxConnections * CONNECTION_BUFFER_KIB) / 1024);
  return slabsAndHash + connections + MEMORY_FIXED_MI;
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
 * - memory limit, when unset, is what a full cache takes (containerMemoryMi; but never below
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
    const derived = `${containerMemoryMi(spec.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB, spec.maxConnections ?? DEFAULT_MAX_CONNECTIONS)}Mi`;
    const requested = requests.memory;
    const derivedBytes = quantityValue(derived) ?? 0;
    const requestedBytes = requested === undefined ? undefined : quantityValue(requested);
    limits.memory = requested !== undefined && (requestedBytes === undefined || requestedBytes > derivedBytes) ? requested : derived;
  }
  if (requests.memory === undefined) requests.memory = limits.memory;
  return { limits: sortedKeys(limits), requests: sortedKeys(requests) };
}
