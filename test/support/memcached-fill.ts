// Fills a memcached past full, through the operator's one memcached client,
// for the memory sizing's measurement and proof: quiet meta sets (ms ... q)
// in pipelined batches, each closed by mn, so memcached answers only errors
// and the MN; a few connections at once, as many as memcached has threads.
// It keeps going until memcached evicts, and then a part more, and waits
// for a growing hash table to be done, so the item count, the hash table
// and the slabs reach what a full cache holds. Idle
// client connections are held open beside it, as a pod's clients would.
// Batches and their replies are pure functions (table-tested).
import { fetchStats, MemcachedSession, type Endpoint } from '../../src/protocol/client.js';
import { CRLF, isErrorLine } from '../../src/protocol/text.js';
import { eventually } from './cluster.js';

/** Value sizes of one kind of traffic, in bytes. */
export interface Workload {
  name: string;
  minValueBytes: number;
  maxValueBytes: number;
}

/**
 * The worst realistic cases: many tiny and small values (the most items per
 * MB, so the largest hash table: memcached doubles it as items grow), and
 * mid-size ones (the most slab classes in use).
 */
export const WORKLOADS: readonly Workload[] = [
  // Every item in memcached's smallest chunk (96 bytes): counters, flags, rate limits.
  { name: 'tiny', minValueBytes: 1, maxValueBytes: 20 },
  { name: 'small', minValueBytes: 10, maxValueBytes: 50 },
  { name: 'mid', minValueBytes: 1024, maxValueBytes: 10240 },
];

export interface FillOptions {
  workload: Workload;
  /** Filling connections (memcached's threads: each connection is served by one). */
  connections: number;
  /** Sets per batch. */
  batch: number;
  /** After the first eviction, fill this part of what was sent by then again. */
  beyondFull: number;
  /** Give up with an error when nothing was evicted after this many sets (a cache larger than planned). */
  maxSets: number;
  /** The deadline of the whole fill. */
  timeoutMs: number;
  /** The first key's number (default 0): a later fill with new keys starts where the last one ended. */
  firstKey?: number;
}

export interface FillResult {
  sets: number;
  /** Sets sent when the first eviction was seen. */
  setsAtFirstEviction: number;
  /** Error lines memcached answered (such as SERVER_ERROR out of memory), counted by text. */
  errors: Record<string, number>;
}

/** The key of the i-th set: short, so small items are as small as memcached allows. */
export function fillKey(i: number): string {
  return `f:${i.toString(36)}`;
}

/** The i-th value's length: spread evenly over the workload's range, the same on every run. Pure. */
export function valueLength(workload: Workload, i: number): number {
  const span = workload.maxValueBytes - workload.minValueBytes + 1;
  return workload.minValueBytes + ((Math.imul(i, 2654435761) >>> 0) % span);
}

/** Quiet meta sets for keys [first, first + count), then mn. Values are cut from pattern (longer than any value). Pure. */
export function quietSetBatch(workload: Workload, first: number, count: number, pattern: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let i = first; i < first + count; i++) {
    const length = valueLength(workload, i);
    parts.push(Buffer.from(`ms ${fillKey(i)} ${length} q T0${CRLF}`, 'latin1'), pattern.subarray(0, length), Buffer.from(CRLF, 'latin1'));
  }
  parts.push(Buffer.from(`mn${CRLF}`, 'latin1'));
  return Buffer.concat(parts);
}

/** Where the reply to a quiet batch ends: after MN, or undefined while it has not arrived. Pure. */
export function quietBatchEnd(received: string): number | undefined {
  if (received.startsWith(`MN${CRLF}`)) return 4;
  const at = received.indexOf(`${CRLF}MN${CRLF}`);
  return at < 0 ? undefined : at + 6;
}

/** The lines before MN in the reply to a quiet batch: memcached's errors (a quiet set answers only on failure). Pure. */
export function quietBatchErrors(reply: string): string[] {
  return reply
    .split(CRLF)
    .filter((line) => line !== '' && line !== 'MN')
    .map((line) => (isErrorLine(line) ? line : `unexpected reply: ${line}`));
}

const STATS_TIMEOUT_MS = 10_000;
/** How long memcached may take to finish growing its hash table once the fill ends. */
const HASH_SETTLE_MS = 60_000;

async function evictions(endpoint: Endpoint): Promise<number> {
  return Number((await fetchStats(endpoint, STATS_TIMEOUT_MS)).get('evictions'));
}

/**
 * Whether memcached's hash table is as large as its items make it: it
 * doubles the table once the items pass 1.5 a bucket (checked by a
 * background thread about once a second), then moves the items over while
 * holding both tables. Pure.
 */
export function hashGrown(stats: ReadonlyMap<string, string>): boolean {
  const items = Number(stats.get('curr_items'));
  const buckets = 2 ** Number(stats.get('hash_power_level'));
  return stats.get('hash_is_expanding') === '0' && items <= 1.5 * buckets;
}

/** Waits until the hash table has grown for the items memcached holds, so the memory it takes has stopped growing. */
export async function hashSettled(endpoint: Endpoint): Promise<void> {
  await eventually('memcached to finish growing its hash table', async () => (hashGrown(await fetchStats(endpoint, STATS_TIMEOUT_MS)) ? true : undefined), {
    timeoutMs: HASH_SETTLE_MS,
    intervalMs: 50,
  });
}

/** Fills memcached until it evicts, and beyondFull more; rejects when it never evicts within maxSets. */
export async function fillPastFull(endpoint: Endpoint, opts: FillOptions): Promise<FillResult> {
  const pattern = Buffer.alloc(opts.workload.maxValueBytes, 'memcached-memory-');
  const errors: Record<string, number> = {};
  const firstKey = opts.firstKey ?? 0;
  let next = firstKey;
  let firstEviction = 0;
  let stopAt = firstKey + opts.maxSets;
  const sessionOptions = { timeoutMs: opts.timeoutMs, maxReplyBytes: 8 * 2 ** 20 };
  const sessions = await Promise.all(Array.from({ length: opts.connections }, () => MemcachedSession.open(endpoint, {}, sessionOptions)));
  try {
    // Each round sends one batch on every connection, then looks at evictions.
    while (next < stopAt) {
      await Promise.all(
        sessions.map(async (session) => {
          const first = next;
          next += opts.batch;
          const reply = await session.send(quietSetBatch(opts.workload, first, opts.batch, pattern), quietBatchEnd);
          for (const line of quietBatchErrors(reply)) errors[line] = (errors[line] ?? 0) + 1;
        }),
      );
      if (firstEviction === 0 && (await evictions(endpoint)) > 0) {
        firstEviction = next;
        stopAt = Math.ceil(firstKey + (next - firstKey) * (1 + opts.beyondFull));
      }
    }
  } finally {
    for (const session of sessions) session.close();
  }
  if (firstEviction === 0) throw new Error(`memcached evicted nothing after ${next - firstKey} sets of ${opts.workload.name} values: the cache is larger than the fill plans for`);
  await hashSettled(endpoint);
  return { sets: next - firstKey, setsAtFirstEviction: firstEviction - firstKey, errors };
}

/** Idle client connections, each having said one thing (so memcached has set it up fully): close with closeAll. */
export async function openIdleConnections(endpoint: Endpoint, count: number, timeoutMs: number): Promise<{ closeAll: () => void }> {
  const sessions: MemcachedSession[] = [];
  const closeAll = (): void => sessions.forEach((s) => s.close());
  try {
    for (let i = 0; i < count; i++) {
      const session = await MemcachedSession.open(endpoint, {}, { timeoutMs });
      sessions.push(session);
      await session.send(`mn${CRLF}`, quietBatchEnd);
    }
  } catch (err) {
    closeAll();
    throw err;
  }
  return { closeAll };
}
