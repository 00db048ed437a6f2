// memcached's meta commands (mg, ms, md), the part keep the cache uses to
// copy items between servers, as pure functions: the commands, and the
// replies read one at a time out of what has arrived. Received text is
// latin1 (one char per byte, as client.ts reads it), so values and keys stay
// byte-exact. The connection that uses them is client.ts.
import { CRLF, isErrorLine } from './text.js';

/** memcached's longest key, in bytes (after base64 decoding for the b flag). */
export const MAX_KEY_BYTES = 250;

/** A key as a meta command carries it: as is, or base64 with the b flag when its bytes can't go in a text token. */
export interface MetaKey {
  token: string;
  base64: boolean;
}

/** How ms stores: E (add: only if the key is absent) or S (set: always). */
export type MetaSetMode = 'E' | 'S';

export interface MetaSetItem {
  key: MetaKey;
  value: Buffer;
  /** Client flags (32 bit). */
  flags: number;
  /** memcached's exptime: 0 never, up to 30 days relative seconds, beyond that an absolute unix time. */
  exptime: number;
  mode: MetaSetMode;
}

/** A reply to one meta command: its code (VA, EN, HD, NS, NF, EX, or an error line), its flags, and the value of VA. */
export interface MetaReply {
  code: string;
  flags: Map<string, string>;
  value?: Buffer;
}

/** Whether a byte can stand in a text-protocol key token (no space, no control character). */
function isTokenByte(byte: number): boolean {
  return byte > 0x20 && byte !== 0x7f;
}

/** The key for a meta command, or undefined when memcached can't take it (empty or over 250 bytes). */
export function metaKey(key: Buffer): MetaKey | undefined {
  if (key.length === 0 || key.length > MAX_KEY_BYTES) return undefined;
  if (key.every(isTokenByte)) return { token: key.toString('latin1'), base64: false };
  return { token: key.toString('base64'), base64: true };
}

/** The key and, for base64, the b flag: mg and md take flags right after the key. */
function keyPart(key: MetaKey): string {
  return key.base64 ? `${key.token} b` : key.token;
}

/** mg: the value, its client flags and its remaining TTL (t-1: none). A miss answers EN. */
export function metaGetCommand(key: MetaKey): string {
  return `mg ${keyPart(key)} v f t${CRLF}`;
}

/** ms: HD stored, NS not stored (mode E and the key exists). */
export function metaSetCommand(item: MetaSetItem): Buffer {
  // ms takes the data length right after the key, its flags (b too) after that.
  const head = `ms ${item.key.token} ${item.value.length}${item.key.base64 ? ' b' : ''} T${item.exptime} F${item.flags} M${item.mode}${CRLF}`;
  return Buffer.concat([Buffer.from(head, 'latin1'), item.value, Buffer.from(CRLF, 'latin1')]);
}

/** mn, sent after a batch: memcached answers MN once it has answered everything before it. */
export const META_NOOP = `mn${CRLF}`;

/** md: HD deleted, NF not found. */
export function metaDeleteCommand(key: MetaKey): string {
  return `md ${keyPart(key)}${CRLF}`;
}

function parseFlags(tokens: string[]): Map<string, string> {
  return new Map(tokens.filter((t) => t.length > 0).map((t) => [t[0], t.slice(1)]));
}

/**
 * Reads the meta reply that starts at `from` in received: undefined until
 * all of it (a VA line's data too) has arrived, else the reply and where it
 * ends. Throws on a VA line whose length is not a number, since nothing after
 * it could be read.
 */
export function takeMetaReply(received: string, from: number): { reply: MetaReply; end: number } | undefined {
  const lineEnd = received.indexOf(CRLF, from);
  if (lineEnd < 0) return undefined;
  const line = received.slice(from, lineEnd);
  const afterLine = lineEnd + CRLF.length;
  if (isErrorLine(line)) return { reply: { code: line, flags: new Map() }, end: afterLine };
  const [code, ...rest] = line.split(' ');
  if (code !== 'VA') return { reply: { code, flags: parseFlags(rest) }, end: afterLine };
  const length = Number(rest[0]);
  if (!/^\d+$/.test(rest[0] ?? '')) throw new Error(`memcached sent a VA line without a length: "${line}"`);
  const end = afterLine + length + CRLF.length;
  if (received.length < end) return undefined;
  if (received.slice(end - CRLF.length, end) !== CRLF) throw new Error(`memcached's value for "${line}" does not end with CRLF`);
  const value = Buffer.from(received.slice(afterLine, afterLine + length), 'latin1');
  return { reply: { code, flags: parseFlags(rest.slice(1)), value }, end };
}
