// A self-signed serving certificate for the metrics endpoint when no
// certificate is mounted, as controller-runtime generates one in memory.
// node:crypto makes keys and signs but has no X.509 builder, so this file
// holds a minimal DER encoder (only the types a certificate needs) and the
// TBSCertificate layout of RFC 5280. Keys are ECDSA P-256: small and fast.
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// ------------------------------------------------------------ DER (X.690) --

/** Tag, definite length, content. */
export function derTlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  let length: number[];
  if (n < 0x80) length = [n];
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    length = [0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

export const derSequence = (...items: Uint8Array[]): Buffer => derTlv(0x30, Buffer.concat(items));
export const derSet = (...items: Uint8Array[]): Buffer => derTlv(0x31, Buffer.concat(items));
export const derBoolean = (value: boolean): Buffer => derTlv(0x01, Buffer.from([value ? 0xff : 0x00]));
export const derOctetString = (bytes: Uint8Array): Buffer => derTlv(0x04, bytes);
export const derUtf8String = (text: string): Buffer => derTlv(0x0c, Buffer.from(text, 'utf8'));
/** A BIT STRING with no unused bits (keys, signatures). */
export const derBitString = (bytes: Uint8Array): Buffer => derTlv(0x03, Buffer.concat([Buffer.from([0]), bytes]));
/** [n] EXPLICIT (constructed, context-specific). */
export const derExplicit = (n: number, inner: Uint8Array): Buffer => derTlv(0xa0 | n, inner);

/** A non-negative INTEGER from big-endian magnitude bytes (minimal, with a 0x00 when the top bit is set). */
export function derUnsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let bytes = Buffer.from(magnitude.subarray(start));
  if (bytes.length === 0) bytes = Buffer.from([0]);
  if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return derTlv(0x02, bytes);
}

export function derSmallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`derSmallInteger: ${value} is out of range`);
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return derUnsignedInteger(Buffer.from(bytes.length ? bytes : [0]));
}

/** OBJECT IDENTIFIER from dotted text ("1.2.840.10045.2.1"). */
export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`derOid: "${dotted}" is not a dotted OID`);
    return Number(a);
  });
  if (arcs.length < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39)) throw new Error(`derOid: "${dotted}" is not a valid OID`);
  const out: number[] = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const base128: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift((v & 0x7f) | 0x80);
    out.push(...base128);
  }
  return derTlv(0x06, Buffer.from(out));
}

/** UTCTime for years 1950..2049, GeneralizedTime after (RFC 5280 4.1.2.5), always UTC to the second. */
export function derTime(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-11-26T01:22:27.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, ''); // 20261126012227
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return derTlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'));
  return derTlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

// ------------------------------------------------------ certificate shape --

const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

function name(commonName: string, organization: string): Buffer {
  const rdn = (oid: string, value: string) => derSet(derSequence(derOid(oid), derUtf8String(value)));
  return derSequence(rdn(OID.organization, organization), rdn(OID.commonName, commonName));
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return derSequence(derOid(oid), ...(critical ? [derBoolean(true)] : []), derOctetString(value));
}

/** GeneralNames: dNSName [2] and iPAddress [7], both IMPLICIT primitive. */
export function subjectAltNames(dnsNames: readonly string[], ipAddresses: readonly string[]): Buffer {
  const names: Buffer[] = dnsNames.map((d) => derTlv(0x82, Buffer.from(d, 'ascii')));
  for (const ip of ipAddresses) names.push(derTlv(0x87, ipBytes(ip)));
  return derSequence(...names);
}

function ipBytes(ip: string): Buffer {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) throw new Error(`"${ip}" is not an IP address`);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export interface SelfSignedOptions {
  commonName: string;
  /** Default [commonName, "localhost"]. */
  dnsNames?: readonly string[];
  /** Default ["127.0.0.1", "::1"]. */
  ipAddresses?: readonly string[];
  /** Start of validity (backdated one hour against clock skew). */
  now: Date;
  /** Default 365. */
  validityDays?: number;
}

export interface KeyAndCertificate {
  /** PEM "CERTIFICATE". */
  cert: string;
  /** PEM PKCS#8 "PRIVATE KEY". */
  key: string;
}

/** The DER TBSCertificate (RFC 5280 4.1) for an ECDSA P-256 public key; pure given its inputs. */
export function tbsCertificate(options: SelfSignedOptions & { serial: Uint8Array; spkiDer: Uint8Array }): Buffer {
  const notBefore = new Date(options.now.getTime() - 60 * 60_000);
  const notAfter = new Date(options.now.getTime() + (options.validityDays ?? 365) * 86_400_000);
  const issuerAndSubject = name(options.commonName, 'memcached-operator self-signed');
  const algorithm = derSequence(derOid(OID.ecdsaWithSha256));
  const extensions = derSequence(
    extension(OID.basicConstraints, true, derSequence()), // cA defaults to FALSE
    extension(OID.keyUsage, true, derTlv(0x03, Buffer.from([0x07, 0x80]))), // digitalSignature (bit 0), 7 unused bits
    extension(OID.extKeyUsage, false, derSequence(derOid(OID.serverAuth))),
    extension(OID.subjectAltName, false, subjectAltNames(options.dnsNames ?? [options.commonName, 'localhost'], options.ipAddresses ?? ['127.0.0.1', '::1'])),
  );
  return derSequence(
    derExplicit(0, derSmallInteger(2)), // v3
    derUnsignedInteger(options.serial),
    algorithm,
    issuerAndSubject,
    derSequence(derTime(notBefore), derTime(notAfter)),
    issuerAndSubject,
    options.spkiDer,
    derExplicit(3, extensions),
  );
}

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** A fresh P-256 key and a self-signed server certificate for it. */
export function selfSignedCertificate(options: SelfSignedOptions): KeyAndCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return certificateFor(privateKey, publicKey.export({ type: 'spki', format: 'der' }), options);
}

function certificateFor(privateKey: KeyObject, spkiDer: Uint8Array, options: SelfSignedOptions): KeyAndCertificate {
  const serial = randomBytes(16);
  serial[0] &= 0x7f; // positive, at most 20 octets
  const tbs = tbsCertificate({ ...options, serial, spkiDer });
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const cert = derSequence(tbs, derSequence(derOid(OID.ecdsaWithSha256)), derBitString(signature));
  return { cert: pem('CERTIFICATE', cert), key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
