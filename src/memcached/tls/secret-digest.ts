// The Secrets a Memcached references (serving certificate, client CA,
// authfile), reduced to what the operator needs to decide anything, and the
// checks that decide whether memcached can start from them. Pure.
//
// The operator's Secret cache keeps only these digests, never key material:
// the certificate's serial and validity, whether the private key matches it,
// and hashes that change when the data changes. digestSecret runs once per
// Secret version as it arrives from the watch.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec } from '../../api/types.js';
import { AUTHFILE_KEY, servingCertSecretName, tlsEnabled } from '../children/secret-mounts.js';

/** What the operator keeps of a serving certificate. */
export interface CertificateDigest {
  /** Upper-case hex without leading zeros, as Node's getPeerCertificate().serialNumber reports it. */
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  subject: string;
  /** Whether tls.key is the private key of tls.crt. */
  keyMatches: boolean;
}

/** A Secret as the operator caches it: identity plus a digest of its data. */
export interface SecretDigest extends KubernetesObject {
  metadata: { name: string; namespace: string; resourceVersion?: string; uid?: string };
  digest: {
    /** The data keys present and non-empty, sorted. */
    keys: string[];
    /** A hash of every data key and value: changes whenever the data does. */
    dataHash: string;
    /** The serving certificate when tls.crt and tls.key parse; parseError says why not. */
    certificate?: CertificateDigest;
    parseError?: string;
    /** A hash of the authfile (keyed by the Secret's uid) for the pod template: changes when the users do. */
    authfileHash?: string;
  };
}

/** Upper-case hex without leading zeros (X509Certificate keeps them, the TLS peer view does not). */
export function normalizeSerial(serial: string): string {
  const hex = serial.replace(/[^0-9a-fA-F]/g, '').toUpperCase().replace(/^0+(?=.)/, '');
  return hex;
}

function sha256(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(p);
    h.update('\0');
  }
  return h.digest('hex');
}

function decode(value: string | undefined): Buffer | undefined {
  if (value === undefined || value === '') return undefined;
  return Buffer.from(value, 'base64');
}

/** Reads tls.crt/tls.key into a CertificateDigest, or says why it cannot. */
export function digestCertificate(certPem: Buffer, keyPem: Buffer): { certificate?: CertificateDigest; parseError?: string } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    return { parseError: `tls.crt is not a PEM certificate (${(err as Error).message})` };
  }
  let keyMatches: boolean;
  try {
    keyMatches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    return { parseError: `tls.key is not a PEM private key (${(err as Error).message})` };
  }
  return {
    certificate: {
      serialNumber: normalizeSerial(cert.serialNumber),
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      subject: cert.subject.replace(/\n/g, ', '),
      keyMatches,
    },
  };
}

/** The digest of a Secret; the data itself is dropped. Idempotent (a digest passes through). */
export function digestSecret(secret: V1Secret | SecretDigest): SecretDigest {
  if ('digest' in secret) return secret;
  const s: V1Secret = secret;
  const data = s.data ?? {};
  const keys = Object.keys(data).filter((k) => data[k] !== undefined && data[k] !== '').sort();
  const digest: SecretDigest['digest'] = { keys, dataHash: sha256(keys.flatMap((k) => [k, data[k]])).slice(0, 32) };
  const crt = decode(data['tls.crt']);
  const key = decode(data['tls.key']);
  if (crt && key) Object.assign(digest, digestCertificate(crt, key));
  const authfile = decode(data[AUTHFILE_KEY]);
  // Keyed by the Secret's uid so the value in the pod template is not a bare
  // hash of the passwords; truncated: it only has to notice a change.
  if (authfile) digest.authfileHash = sha256([s.metadata?.uid ?? '', authfile]).slice(0, 16);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: s.metadata?.name ?? '',
      namespace: s.metadata?.namespace ?? '',
      ...(s.metadata?.resourceVersion ? { resourceVersion: s.metadata.resourceVersion } : {}),
      ...(s.metadata?.uid ? { uid: s.metadata.uid } : {}),
    },
    digest,
  };
}

/** Names of the Secrets a Memcached's spec references, in a fixed order. */
export function referencedSecrets(mc: Memcached, spec: MemcachedSpec | undefined): string[] {
  if (!spec) return [];
  const names: string[] = [];
  if (tlsEnabled(spec)) {
    names.push(servingCertSecretName(mc, spec));
    if (spec.tls?.clientCASecretName) names.push(spec.tls.clientCASecretName);
  }
  if (spec.auth?.secretName) names.push(spec.auth.secretName);
  return [...new Set(names)];
}

/** Why memcached cannot start (or restart) from the referenced Secrets. */
export interface SecretProblem {
  reason: 'SecretNotFound' | 'SecretKeyMissing' | 'CertificateInvalid' | 'CertificateKeyMismatch' | 'CertificateExpired' | 'CertificateNotYetValid';
  message: string;
}

export interface SecretsCheck {
  /** The first problem found, in the order serving certificate, client CA, authfile. */
  problem?: SecretProblem;
  /** The serving certificate, when TLS is on and it is usable. */
  certificate?: CertificateDigest;
  /** The authfile's hash, when auth is on and the Secret has one. */
  authfileHash?: string;
}

/** How far in the future a certificate's notBefore may be before it counts as not yet valid. */
export const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60 * 1000;

type Lookup = (name: string) => SecretDigest | undefined;

function missingKeys(secret: SecretDigest, keys: string[]): string[] {
  return keys.filter((k) => !secret.digest.keys.includes(k));
}

/**
 * Checks the Secrets a valid spec references, as looked up by name in the
 * Memcached's namespace. A problem means memcached would not start (or would
 * serve something broken), so the caller must leave the running pods alone.
 */
export function checkSecrets(mc: Memcached, spec: MemcachedSpec, lookup: Lookup, now: Date): SecretsCheck {
  const result: SecretsCheck = {};
  const notFound = (name: string, what: string): SecretProblem => ({
    reason: 'SecretNotFound',
    message: `Secret ${name} (${what}) does not exist in namespace ${mc.metadata.namespace}; the running pods are left as they are`,
  });
  if (tlsEnabled(spec)) {
    const name = servingCertSecretName(mc, spec);
    const secret = lookup(name);
    const what = spec.tls?.secretName ? 'spec.tls.secretName' : 'the default serving certificate Secret';
    if (!secret) return { problem: notFound(name, what) };
    const missing = missingKeys(secret, ['tls.crt', 'tls.key']);
    if (missing.length > 0) {
      return { problem: { reason: 'SecretKeyMissing', message: `Secret ${name} has no ${missing.join(' and no ')}; a kubernetes.io/tls Secret needs tls.crt and tls.key` } };
    }
    const cert = secret.digest.certificate;
    if (!cert) return { problem: { reason: 'CertificateInvalid', message: `Secret ${name}: ${secret.digest.parseError ?? 'tls.crt and tls.key cannot be read'}` } };
    if (!cert.keyMatches) {
      return { problem: { reason: 'CertificateKeyMismatch', message: `Secret ${name}: tls.key is not the private key of the certificate in tls.crt (serial ${cert.serialNumber})` } };
    }
    // The certificate is kept beside these two problems: status shows its dates.
    if (Date.parse(cert.notAfter) <= now.getTime()) {
      return { certificate: cert, problem: { reason: 'CertificateExpired', message: `Secret ${name}: the certificate (serial ${cert.serialNumber}) expired at ${cert.notAfter}` } };
    }
    // Issuers stamp notBefore with their own clock: allow it some skew.
    if (Date.parse(cert.notBefore) > now.getTime() + CLOCK_SKEW_ALLOWANCE_MS) {
      return { certificate: cert, problem: { reason: 'CertificateNotYetValid', message: `Secret ${name}: the certificate (serial ${cert.serialNumber}) is not valid before ${cert.notBefore}` } };
    }
    result.certificate = cert;
    const caName = spec.tls?.clientCASecretName;
    if (caName) {
      const ca = lookup(caName);
      if (!ca) return { problem: notFound(caName, 'spec.tls.clientCASecretName') };
      if (missingKeys(ca, ['ca.crt']).length > 0) {
        return { problem: { reason: 'SecretKeyMissing', message: `Secret ${caName} has no ca.crt, the CA that signs client certificates` } };
      }
    }
  }
  if (spec.auth) {
    const name = spec.auth.secretName;
    const secret = lookup(name);
    if (!secret) return { problem: notFound(name, 'spec.auth.secretName') };
    if (!secret.digest.authfileHash) {
      return { problem: { reason: 'SecretKeyMissing', message: `Secret ${name} has no ${AUTHFILE_KEY} key (one user:password line per user)` } };
    }
    result.authfileHash = secret.digest.authfileHash;
  }
  return result;
}

/** How long before expiry the operator warns. */
export const EXPIRY_WARNING_MS = 14 * 24 * 60 * 60 * 1000;

export type ExpiryState = 'Valid' | 'ExpiringSoon' | 'Expired';

/** The certificate's state at now, and when that state next changes (ms from now), if it does. */
export function certificateExpiry(notAfter: string, now: Date, warningMs = EXPIRY_WARNING_MS): { state: ExpiryState; nextChangeInMs?: number } {
  const end = Date.parse(notAfter);
  const t = now.getTime();
  if (end <= t) return { state: 'Expired' };
  if (end - warningMs <= t) return { state: 'ExpiringSoon', nextChangeInMs: end - t };
  return { state: 'Valid', nextChangeInMs: end - warningMs - t };
}

/** The Memcacheds among mcs whose spec references the Secret `name` (the map from a Secret event to reconcile requests). */
export function memcachedsReferencing(mcs: Memcached[], name: string): Memcached[] {
  return mcs.filter((mc) => referencedSecrets(mc, mc.spec).includes(name));
}

/** The CertificateExpiring condition (True when the certificate expires within 14 days or has expired) and when to look again. */
export function expiryCondition(
  cert: CertificateDigest,
  now: Date,
): { condition: { type: string; status: 'True' | 'False'; reason: string; message: string }; recheckInMs?: number } {
  const { state, nextChangeInMs } = certificateExpiry(cert.notAfter, now);
  const type = 'CertificateExpiring';
  const days = Math.floor((Date.parse(cert.notAfter) - now.getTime()) / (24 * 60 * 60 * 1000));
  const condition =
    state === 'Expired'
      ? { type, status: 'True' as const, reason: 'CertificateExpired', message: `The serving certificate (serial ${cert.serialNumber}) expired at ${cert.notAfter}` }
      : state === 'ExpiringSoon'
        ? { type, status: 'True' as const, reason: 'CertificateExpiresSoon', message: `The serving certificate (serial ${cert.serialNumber}) expires at ${cert.notAfter}, in ${days} days; renew its Secret` }
        : { type, status: 'False' as const, reason: 'CertificateValid', message: `The serving certificate (serial ${cert.serialNumber}) is valid until ${cert.notAfter}` };
  return { condition, ...(nextChangeInMs !== undefined ? { recheckInMs: nextChangeInMs } : {}) };
}
