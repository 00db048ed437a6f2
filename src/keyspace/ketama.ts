// Keep the cache: which server of the published server list a client looks a
// key up on. Clients hash keys with libmemcached's libketama-compatible ring
// (pylibmc {"ketama_weighted": True}, PHP Memcached OPT_LIBKETAMA_COMPATIBLE),
// so the operator copies each key to exactly the server the client will ask.
// Pure; test/fixtures/ketama holds vectors from a real pylibmc that this must
// reproduce key for key.
import { createHash } from 'node:crypto';

/** A consistent-hash ring over a server list. */
export interface Ring {
  /** The servers, as given. */
  readonly servers: readonly string[];
  /** The server (the string as given) a libketama-compatible client sends key to. */
  ownerOf(key: string | Buffer): string;
}

/** libmemcached's points per server in weighted (libketama) mode; each MD5 digest yields four. */
const POINTS_PER_SERVER = 160;
const POINTS_PER_DIGEST = 4;
/** The port libmemcached leaves out of a server's point names. */
const DEFAULT_PORT = 11211;

interface Point {
  value: number;
  server: number;
}

/** A `host:port` string split at its last colon. */
export function parseServer(server: string): { host: string; port: number } {
  const colon = server.lastIndexOf(':');
  const host = server.slice(0, colon);
  const portText = server.slice(colon + 1);
  const port = Number(portText);
  if (colon <= 0 || !/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new Error(`server "${server}" is not host:port with a port from 1 to 65535`);
  }
  return { host, port };
}

/**
 * The name libmemcached hashes for a server's points: `host-i`, but
 * `host:port-i` when the port is not 11211 (so a list written without ports
 * and one with :11211 hash alike).
 */
export function pointName(server: string, index: number): string {
  const { host, port } = parseServer(server);
  return port === DEFAULT_PORT ? `${host}-${index}` : `${host}:${port}-${index}`;
}

/**
 * How many points each of `count` equally weighted servers gets. libmemcached
 * computes floor(weight share * 160 / 4 * servers + 1e-10) * 4 in single
 * precision, so at some counts (25, 47, 50, 100, ...) the rounding loses a
 * digest and every server gets 156 points; clients see that ring, so this
 * one must too.
 */
export function pointsPerServer(count: number): number {
  const f = Math.fround;
  const share = f(f(1) / f(count));
  const quarter = f(f(f(f(share * POINTS_PER_SERVER) / POINTS_PER_DIGEST) * f(count)) + f(0.0000000001));
  return Math.floor(quarter) * POINTS_PER_DIGEST;
}

function md5(data: string | Buffer): Buffer {
  return createHash('md5').update(data).digest();
}

function serverPoints(server: string, serverIndex: number, points: number): Point[] {
  const result: Point[] = [];
  for (let i = 0; i < points / POINTS_PER_DIGEST; i++) {
    const digest = md5(pointName(server, i));
    for (let j = 0; j < POINTS_PER_DIGEST; j++) result.push({ value: digest.readUInt32LE(j * 4), server: serverIndex });
  }
  return result;
}

/** Where a key hashes on the ring: the first four bytes of its MD5, little-endian. */
export function keyHash(key: string | Buffer): number {
  return md5(key).readUInt32LE(0);
}

/** The index of the first point at or after hash, wrapping to the first point. */
function firstPointAtOrAfter(points: readonly Point[], hash: number): number {
  let left = 0;
  let right = points.length;
  while (left < right) {
    const middle = (left + right) >>> 1;
    if (points[middle].value < hash) left = middle + 1;
    else right = middle;
  }
  return right === points.length ? 0 : right;
}

/** The ring a libketama-compatible client builds over servers (`host:port` strings, in the published order). */
export function ketamaRing(servers: readonly string[]): Ring {
  if (servers.length === 0) throw new Error('a ketama ring needs at least one server');
  const seen = new Set<string>();
  for (const server of servers) {
    parseServer(server);
    if (seen.has(server)) throw new Error(`server "${server}" is listed twice`);
    seen.add(server);
  }
  const perServer = pointsPerServer(servers.length);
  // Equal values (rare) order by server index, as libmemcached 1.1 sorts them.
  const points = servers.flatMap((server, i) => serverPoints(server, i, perServer)).sort((a, b) => a.value - b.value || a.server - b.server);
  const list = [...servers];
  return {
    servers: list,
    ownerOf: (key) => list[points[firstPointAtOrAfter(points, keyHash(key))].server],
  };
}
