// The reconciler's hooks for TLS and auth (spec.tls, spec.auth): before any child is
// written, the referenced Secrets must be usable (else the running pods are
// left untouched); the pod template carries the authfile's hash (memcached
// reads the authfile only at start); after the writes, each Ready pod is
// brought to the current certificate without a restart (rotation.ts).
//
// The exporter and the stats poll read `stats` from memcached pods that may
// serve only TLS, require a client certificate, or require authentication:
// securedFetchStats finds the Memcached of the pod at a target address and
// asks SecureServing how to connect, so both use the Secrets the pods mount.
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec, TLSStatus } from '../../api/types.js';
import { validateMemcached } from '../../api/validator.js';
import { findCondition, type ConditionUpdate, type EventRecorder } from '@memcached-operator/runtime';
import { DEFAULT_PORT } from '../children/args.js';
import { INSTANCE_LABEL } from '../children/metadata.js';
import { AUTHFILE_KEY, servingCertSecretName, tlsEnabled } from '../children/secret-mounts.js';
import { fetchStats, type ConnectionSecurity, type Endpoint } from '../../protocol/client.js';
import { managedPodAt } from '../pods.js';
import { checkSecrets, expiryCondition, normalizeSerial, type SecretDigest, type SecretProblem } from './secret-digest.js';
import {
  CONDITION_CERTIFICATE_EXPIRING,
  CONDITION_CERTIFICATE_SERVED,
  CertificateRotator,
  firstAuthfileUser,
  rotationCondition,
  type ControlCredentials,
} from './rotation.js';

/** Pod template annotation whose change rolls the pods when the users in the authfile change. */
export const AUTHFILE_HASH_ANNOTATION = 'cache.example.com/authfile-hash';

export interface SecureServingDeps {
  /** The Secret digests cache. */
  secrets: { get(namespace: string, name: string): SecretDigest | undefined };
  /** Reads one Secret in full, only when a pod must be told to reload (control credentials). */
  readSecret: (namespace: string, name: string) => Promise<V1Secret | undefined>;
  events: EventRecorder;
  rotator?: CertificateRotator;
}

export interface SecurityCheck {
  problem?: SecretProblem;
  conditions: ConditionUpdate[];
  tls?: TLSStatus;
  podAnnotations: Record<string, string>;
  /** When the certificate's expiry state next changes. */
  recheckInMs?: number;
}

function decode(secret: V1Secret | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value ? Buffer.from(value, 'base64').toString('utf8') : undefined;
}

export class SecureServing {
  private readonly scrapeCredentials = new Map<string, { version: string; credentials: Promise<ControlCredentials> }>();

  constructor(private readonly deps: SecureServingDeps) {}

  /** Checks the referenced Secrets; a problem means: write no child. */
  check(mc: Memcached, spec: MemcachedSpec, now: Date): SecurityCheck {
    const namespace = mc.metadata.namespace ?? '';
    const result = checkSecrets(mc, spec, (name) => this.deps.secrets.get(namespace, name), now);
    const check: SecurityCheck = { conditions: [], podAnnotations: {} };
    if (result.problem) check.problem = result.problem;
    if (result.authfileHash) check.podAnnotations[AUTHFILE_HASH_ANNOTATION] = result.authfileHash;
    const cert = result.certificate;
    if (tlsEnabled(spec) && cert) {
      const expiry = expiryCondition(cert, now);
      check.conditions.push(expiry.condition);
      if (expiry.recheckInMs !== undefined) check.recheckInMs = expiry.recheckInMs;
      const previous = mc.status?.tls;
      check.tls = {
        secretName: servingCertSecretName(mc, spec),
        serialNumber: cert.serialNumber,
        notAfter: cert.notAfter,
        ...(previous?.servedSerialNumber ? { servedSerialNumber: previous.servedSerialNumber } : {}),
      };
    }
    return check;
  }

  /**
   * Brings every Ready pod to the certificate in check.tls, adding the
   * CertificateServed condition to check. Returns when to look again, if
   * some pod is not there yet.
   */
  async rotate(mc: Memcached, spec: MemcachedSpec, readyPods: V1Pod[], check: SecurityCheck, now: Date): Promise<number | undefined> {
    const tls = check.tls;
    if (!tls || !this.deps.rotator) return undefined;
    const targets = readyPods
      .filter((p) => p.status?.podIP && p.metadata?.uid)
      .map((p) => ({ name: p.metadata!.name!, uid: p.metadata!.uid!, ip: p.status!.podIP! }));
    const recorded = [mc.status?.tls?.serialNumber, mc.status?.tls?.servedSerialNumber].filter((x): x is string => !!x);
    const results = await this.deps.rotator.bringToSerial(targets, spec.containerPort ?? DEFAULT_PORT, tls.serialNumber, () => this.credentials(mc, spec), recorded);
    const previous = findCondition(mc.status?.conditions, CONDITION_CERTIFICATE_SERVED);
    const pendingSince = previous?.status === 'False' ? new Date(previous.lastTransitionTime) : undefined;
    const { condition, requeueAfterMs } = rotationCondition(results, tls.serialNumber, pendingSince, now);
    check.conditions.push(condition);
    if (condition.status === 'True') tls.servedSerialNumber = tls.serialNumber;
    return requeueAfterMs;
  }

  /** Warning Events when the expiry or rotation conditions turn bad, Normal when a rotation completes. */
  recordTransitions(mc: Memcached, conditions: ConditionUpdate[]): void {
    for (const c of conditions) {
      const before = findCondition(mc.status?.conditions, c.type);
      if (before?.reason === c.reason) continue;
      if (c.type === CONDITION_CERTIFICATE_EXPIRING && c.status === 'True') this.deps.events.event(mc, 'Warning', c.reason, 'CheckCertificate', c.message);
      if (c.type === CONDITION_CERTIFICATE_SERVED && c.reason === 'RotationTimedOut') this.deps.events.event(mc, 'Warning', c.reason, 'RotateCertificate', c.message);
      if (c.type === CONDITION_CERTIFICATE_SERVED && c.status === 'True' && before?.status === 'False') {
        this.deps.events.event(mc, 'Normal', 'CertificateRotated', 'RotateCertificate', c.message);
      }
    }
  }

  /**
   * How the exporter and the stats poll connect to a pod of mc with TLS or auth:
   * TLS on a TLS port, accepting only a certificate serial the operator knows
   * (as the control connection does), with the same client key pair and
   * authfile user. The credentials are read from the Secrets in full and
   * kept, per Memcached, only while the referenced Secrets' data is
   * unchanged, so a scrape every 15 s costs no API call.
   */
  async scrapeSecurity(mc: Memcached, spec: MemcachedSpec, port: number): Promise<ConnectionSecurity> {
    const overTls = tlsEnabled(spec) && port !== spec.tls?.plaintextPort;
    if (!overTls && !spec.auth) return {};
    const namespace = mc.metadata.namespace ?? '';
    const referenced = [tlsEnabled(spec) ? servingCertSecretName(mc, spec) : undefined, spec.auth?.secretName].filter((n): n is string => !!n);
    const version = referenced.map((name) => this.deps.secrets.get(namespace, name)?.digest.dataHash ?? '-').join(',');
    const key = mc.metadata.uid ?? `${namespace}/${mc.metadata.name}`;
    let cached = this.scrapeCredentials.get(key);
    if (cached?.version !== version) {
      cached = { version, credentials: this.credentials(mc, spec) };
      this.scrapeCredentials.set(key, cached);
      cached.credentials.catch(() => this.scrapeCredentials.delete(key)); // read again next time
    }
    const credentials = await cached.credentials;
    const security: ConnectionSecurity = credentials.auth ? { auth: credentials.auth } : {};
    if (overTls) {
      const issued = this.deps.secrets.get(namespace, servingCertSecretName(mc, spec))?.digest.certificate?.serialNumber;
      const trusted = new Set([issued, mc.status?.tls?.servedSerialNumber].filter((x): x is string => !!x).map(normalizeSerial));
      security.tls = { rejectUnauthorized: false, ...(credentials.clientCert ?? {}) };
      security.verifyServer = (certificate) =>
        trusted.has(normalizeSerial(certificate.serialNumber ?? '')) ? undefined : `certificate serial ${certificate.serialNumber} is not one this Memcached's Secret issued`;
    }
    return security;
  }

  /** Forgets the scrape credentials of a Memcached that is gone. */
  forget(uid: string): void {
    this.scrapeCredentials.delete(uid);
  }

  /** The control connection's credentials, read from the Secrets in full (never cached). */
  private async credentials(mc: Memcached, spec: MemcachedSpec): Promise<ControlCredentials> {
    const namespace = mc.metadata.namespace ?? '';
    const credentials: ControlCredentials = {};
    if (spec.tls?.clientCASecretName) {
      const serving = await this.deps.readSecret(namespace, servingCertSecretName(mc, spec));
      const cert = decode(serving, 'tls.crt');
      const key = decode(serving, 'tls.key');
      if (cert && key) credentials.clientCert = { cert, key };
    }
    if (spec.auth) {
      const authfile = decode(await this.deps.readSecret(namespace, spec.auth.secretName), AUTHFILE_KEY);
      const user = authfile ? firstAuthfileUser(authfile) : undefined;
      if (user) credentials.auth = user;
    }
    return credentials;
  }
}

export interface ScrapeSecurityDeps {
  pods: { list(namespace?: string): V1Pod[] };
  memcacheds: { get(namespace: string, name: string): Memcached | undefined };
  secureServing: SecureServing;
}

/** How to connect to target: plaintext unless its pod's Memcached has TLS on that port or auth. */
export async function scrapeSecurityFor(deps: ScrapeSecurityDeps, target: Endpoint): Promise<ConnectionSecurity> {
  const pod = managedPodAt(deps.pods.list(), target.host);
  const name = pod?.metadata?.labels?.[INSTANCE_LABEL];
  const mc = pod?.metadata?.namespace && name ? deps.memcacheds.get(pod.metadata.namespace, name) : undefined;
  const validation = mc ? validateMemcached(mc) : undefined;
  if (!mc || !validation?.valid) return {};
  return deps.secureServing.scrapeSecurity(mc, validation.spec, target.port);
}

/** fetchStats with the connection scrapeSecurityFor chooses: the exporter's and the stats poll's fetch. */
export function securedFetchStats(deps: ScrapeSecurityDeps): (target: Endpoint, timeoutMs: number) => Promise<Map<string, string>> {
  return async (target, timeoutMs) => fetchStats(target, timeoutMs, await scrapeSecurityFor(deps, target));
}
