// Keep the cache: what `lru_crawler metadump all` says about each key, read
// from one line of its output. Pure; the protocol client streams the lines.
//   key=<url-encoded> exp=<-1|unix time> la=<unix time> cas=<n> fetch=<yes|no> cls=<n> size=<n>

/** One key of a metadump. */
export interface MetadumpEntry {
  /** The key's bytes (the dump URL-encodes them). */
  key: Buffer;
  /** When the item expires, a unix time in the server's clock; -1: never. */
  exp: number;
  /** Last access, a unix time in the server's clock. */
  lastAccess?: number;
  /** The item's size in memcached, header included (not the value's length). */
  size?: number;
  /** The slab class. */
  slabClass?: number;
}

/** Decodes %XX escapes into bytes; anything else is taken byte for byte (latin1, as the client reads). */
export function decodeDumpKey(encoded: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const char = encoded.charCodeAt(i);
    if (char !== 0x25) {
      bytes.push(char & 0xff);
      continue;
    }
    const hex = encoded.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error(`key "${encoded}" has a bad escape at ${i}`);
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes);
}

function fields(line: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const part of line.split(' ')) {
    const equals = part.indexOf('=');
    if (equals > 0) result.set(part.slice(0, equals), part.slice(equals + 1));
  }
  return result;
}

function optionalInteger(value: string | undefined): number | undefined {
  return value !== undefined && /^-?\d+$/.test(value) ? Number(value) : undefined;
}

/** One line of the dump; throws a clear error for a line without a key or an expiry. */
export function parseMetadumpLine(line: string): MetadumpEntry {
  const named = fields(line);
  const encodedKey = named.get('key');
  const exp = optionalInteger(named.get('exp'));
  if (!encodedKey) throw new Error(`metadump line without a key: "${line}"`);
  if (exp === undefined) throw new Error(`metadump line without a numeric exp: "${line}"`);
  return {
    key: decodeDumpKey(encodedKey),
    exp,
    lastAccess: optionalInteger(named.get('la')),
    size: optionalInteger(named.get('size')),
    slabClass: optionalInteger(named.get('cls')),
  };
}

/** Whether the entry has expired at `now` (unix seconds, the server's clock). */
export function isExpired(entry: Pick<MetadumpEntry, 'exp'>, now: number): boolean {
  return entry.exp !== -1 && entry.exp <= now;
}
