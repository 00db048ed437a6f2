// Keep the cache: the one primitive scale-up, scale-down, resize and
// replacement use. It dumps one server's keys, keeps those the ring gives to a
// wanted server other than the source, and copies each (value, client flags,
// remaining TTL) to its owner, in pipelined batches; optionally it deletes
// them from the source once written. Which key goes where is pure (the
// functions before copyKeys); copyKeys does the I/O.
import { MemcachedSession, type ConnectionSecurity, type Endpoint } from '../protocol/client.js';
import { metaKey, type MetaKey, type MetaReply, type MetaSetMode } from '../protocol/meta.js';
import type { Ring } from './ketama.js';
import { parseMetadumpLine, type MetadumpEntry } from './metadump.js';

export interface CopyOptions {
  source: Endpoint;
  ring: Ring;
  /** Whether keys the ring gives to this server (a ring name) are to be copied. */
  wanted: (owner: string) => boolean;
  /** Where the operator reaches a ring name (a pod IP and port). */
  endpointOf: (owner: string) => Endpoint;
  /** add: never overwrite what the owner already has; set: overwrite. */
  mode: 'add' | 'set';
  /** Delete each key from the source once its owner has it. */
  deleteFromSource?: boolean;
  security: ConnectionSecurity;
  signal?: AbortSignal;
  /** Keys per pipelined write. */
  batch?: number;
  /** The deadline for each connection's whole conversation. */
  timeoutMs?: number;
}

export interface CopyResult {
  /** Keys the dump listed. */
  scanned: number;
  /** Keys their owner stored. */
  copied: number;
  /** Keys left alone: not wanted, already home, expired or gone, too long, or (add) already on the owner. */
  skipped: number;
  /** Keys that could not be read or written (an error reply, an unreadable dump line). */
  failed: number;
  /** Value bytes copied. */
  bytes: number;
}

const DEFAULT_BATCH = 500;
const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** memcached reads an exptime beyond 30 days as a unix time. */
const RELATIVE_EXPTIME_LIMIT = 30 * 24 * 3600;
/** Room for a reply's header line beyond the largest item. */
const REPLY_HEADROOM_BYTES = 64 * 1024;

/** A key to copy: its meta form, its dump expiry, and its owner's ring name. */
export interface Move {
  key: MetaKey;
  exp: number;
  owner: string;
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.host === b.host && a.port === b.port;
}

/** The ring name a dumped key moves to, or undefined when it stays (not wanted, or already on the source). */
export function destinationOf(key: Buffer, options: Pick<CopyOptions, 'ring' | 'wanted' | 'endpointOf' | 'source'>): string | undefined {
  const owner = options.ring.ownerOf(key);
  if (!options.wanted(owner) || sameEndpoint(options.endpointOf(owner), options.source)) return undefined;
  return owner;
}

/**
 * The exptime to store with, from mg's remaining TTL (t) and the dump's
 * expiry, or undefined when the item has expired. Beyond 30 days memcached
 * wants a unix time, which the dump's exp already is (the source's clock).
 */
export function exptimeFor(ttl: string | undefined, dumpExp: number): number | undefined {
  const remaining = Number(ttl);
  if (ttl === '-1') return 0;
  if (!Number.isInteger(remaining) || remaining <= 0) return undefined;
  return remaining <= RELATIVE_EXPTIME_LIMIT ? remaining : dumpExp;
}

/** Client flags from mg's f flag (0 when absent). */
export function clientFlags(reply: MetaReply): number {
  const flags = Number(reply.flags.get('f') ?? 0);
  return Number.isInteger(flags) && flags >= 0 ? flags : 0;
}

/** Sorts one dump entry into a move, or counts it. */
function planEntry(entry: MetadumpEntry, options: CopyOptions, result: CopyResult): Move | undefined {
  const owner = destinationOf(entry.key, options);
  const key = metaKey(entry.key);
  if (owner === undefined || key === undefined) {
    result.skipped++;
    return undefined;
  }
  return { key, exp: entry.exp, owner };
}

/** Streams the source's dump into moves grouped by owner. */
async function planMoves(source: MemcachedSession, options: CopyOptions, result: CopyResult): Promise<Map<string, Move[]>> {
  const byOwner = new Map<string, Move[]>();
  await source.metadumpAll((line) => {
    result.scanned++;
    let entry: MetadumpEntry;
    try {
      entry = parseMetadumpLine(line);
    } catch {
      result.failed++;
      return;
    }
    const move = planEntry(entry, options, result);
    if (!move) return;
    const moves = byOwner.get(move.owner);
    if (moves) moves.push(move);
    else byOwner.set(move.owner, [move]);
  });
  return byOwner;
}

async function openSession(name: string, endpoint: Endpoint, options: CopyOptions, maxReplyBytes: number): Promise<MemcachedSession> {
  try {
    return await MemcachedSession.open(endpoint, options.security, { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxReplyBytes });
  } catch (err) {
    throw new Error(`copying keys: cannot reach ${name} at ${endpoint.host}:${endpoint.port}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Reads a batch from the source and writes what is still there to its owner; deletes from the source when asked. */
async function copyBatch(source: MemcachedSession, target: MemcachedSession, moves: Move[], options: CopyOptions, result: CopyResult): Promise<void> {
  const got = await source.metaGet(moves.map((m) => m.key));
  const mode: MetaSetMode = options.mode === 'add' ? 'E' : 'S';
  const writes: { move: Move; value: Buffer }[] = [];
  const items = [];
  for (const [i, reply] of got.entries()) {
    const exptime = reply.code === 'VA' ? exptimeFor(reply.flags.get('t'), moves[i].exp) : undefined;
    if (reply.code !== 'VA' && reply.code !== 'EN') result.failed++;
    else if (exptime === undefined || !reply.value) result.skipped++;
    else {
      writes.push({ move: moves[i], value: reply.value });
      items.push({ key: moves[i].key, value: reply.value, flags: clientFlags(reply), exptime, mode });
    }
  }
  const stored = await target.metaSet(items);
  const home: MetaKey[] = [];
  for (const [i, reply] of stored.entries()) {
    if (reply.code === 'HD') {
      result.copied++;
      result.bytes += writes[i].value.length;
    } else if (reply.code === 'NS') result.skipped++;
    else result.failed++;
    if (reply.code === 'HD' || reply.code === 'NS') home.push(writes[i].move.key);
  }
  if (options.deleteFromSource) await source.metaDelete(home);
}

/** The largest reply one item can make on this server: its item_size_max, plus a header line. */
async function largestReply(source: MemcachedSession): Promise<number> {
  const itemMax = Number((await source.stats('settings')).get('item_size_max'));
  return (Number.isInteger(itemMax) && itemMax > 0 ? itemMax : 1024 * 1024) + REPLY_HEADROOM_BYTES;
}

/**
 * Copies the source's keys that the ring gives to wanted servers other than
 * the source to those servers. Per-key errors are counted; a server that
 * can't be reached, or a connection that fails, throws.
 */
export async function copyKeys(options: CopyOptions): Promise<CopyResult> {
  const result: CopyResult = { scanned: 0, copied: 0, skipped: 0, failed: 0, bytes: 0 };
  const batch = Math.max(1, options.batch ?? DEFAULT_BATCH);
  const sourceName = 'the source';
  // The first connection only learns how large one item may be, for the cap on the one that copies.
  let source = await openSession(sourceName, options.source, options, REPLY_HEADROOM_BYTES);
  const targets = new Map<string, MemcachedSession>();
  try {
    const maxReplyBytes = await largestReply(source);
    source.close();
    source = await openSession(sourceName, options.source, options, maxReplyBytes);
    const byOwner = await planMoves(source, options, result);
    for (const [owner, moves] of byOwner) {
      const target = targets.get(owner) ?? (await openSession(owner, options.endpointOf(owner), options, REPLY_HEADROOM_BYTES));
      targets.set(owner, target);
      for (let i = 0; i < moves.length; i += batch) {
        options.signal?.throwIfAborted();
        await copyBatch(source, target, moves.slice(i, i + batch), options, result);
      }
    }
    return result;
  } finally {
    source.close();
    for (const target of targets.values()) target.close();
  }
}
