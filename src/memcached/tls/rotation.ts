// Certificate rotation without a restart. When the serving
// certificate's Secret changes, the kubelet rewrites the mounted files in
// every pod within its sync period (about a minute); memcached keeps serving
// the certificate it loaded until it is told `refresh_certs`. So, for each
// Ready pod, the operator:
//   1. reads the serial the pod serves, from a TLS handshake;
//   2. if it is not the Secret's, sends `refresh_certs` and reads it again;
//   3. if the files were not updated yet, memcached reloaded the old ones:
//      the pod stays pending and the reconcile is requeued with backoff,
//      until a deadline after which the condition says RotationTimedOut.
// No pod is restarted: the pod template does not depend on the certificate.
//
// The control connection is TLS to the memcached port. With a client CA it
// presents the serving certificate's own key pair (the client CA must trust
// it: see docs/security.md), and with auth it authenticates as the
// authfile's first user. The handshake alone shows the served certificate
// even when memcached then refuses the client, so verification needs neither.
import type { ConditionUpdate } from '@memcached-operator/runtime';
import { MemcachedSession, type ConnectionSecurity } from '../../protocol/client.js';
import type { Credentials } from '../../protocol/text.js';
import { normalizeSerial } from './secret-digest.js';

export const CONDITION_CERTIFICATE_SERVED = 'CertificateServed';
export const CONDITION_CERTIFICATE_EXPIRING = 'CertificateExpiring';
/** How long the operator waits for every pod to serve a new certificate before it says RotationTimedOut. */
export const ROTATION_DEADLINE_MS = 5 * 60 * 1000;
const CONTROL_TIMEOUT_MS = 3000;

/** What the control connection needs, read from the Secrets only when a pod must be told to reload. */
export interface ControlCredentials {
  /** The key pair presented when memcached asks for a client certificate. */
  clientCert?: { cert: string; key: string };
  /** The authfile user to authenticate as, when memcached runs with -Y. */
  auth?: Credentials;
}

export interface PodTarget {
  name: string;
  uid: string;
  ip: string;
}

/** The network side of rotation; a fake in unit tests would prove nothing, so tests use a real memcached. */
export interface TlsControl {
  servedSerial(host: string, port: number): Promise<string>;
  /** Sends refresh_certs, but only to a pod presenting one of trustedSerials (credentials go nowhere else). */
  refreshCerts(host: string, port: number, credentials: ControlCredentials, trustedSerials: string[]): Promise<string>;
}

/** The first `user:password` line of an authfile. */
export function firstAuthfileUser(authfile: string): Credentials | undefined {
  for (const line of authfile.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) return { username: line.slice(0, at), password: line.slice(at + 1) };
  }
  return undefined;
}

/** A TLS session that accepts any server certificate (the operator checks the serial itself). */
function openControl(host: string, port: number, security: ConnectionSecurity = {}): Promise<MemcachedSession> {
  return MemcachedSession.open({ host, port }, { ...security, tls: { rejectUnauthorized: false, ...security.tls } }, { timeoutMs: CONTROL_TIMEOUT_MS });
}

/** The real control connection. */
export const networkTlsControl: TlsControl = {
  async servedSerial(host, port) {
    const session = await openControl(host, port);
    try {
      return normalizeSerial(session.peerCertificate()?.serialNumber ?? '');
    } finally {
      session.close();
    }
  },
  async refreshCerts(host, port, credentials, trustedSerials) {
    // The chain is not verified (the operator may not know the issuing CA),
    // so the certificate must be one the operator knows from the Secret:
    // a stranger at the pod's address gets neither key pair nor password.
    const session = await openControl(host, port, {
      ...(credentials.clientCert ? { tls: { cert: credentials.clientCert.cert, key: credentials.clientCert.key } } : {}),
      ...(credentials.auth ? { auth: credentials.auth } : {}),
      verifyServer: (certificate) => {
        const presented = normalizeSerial(certificate.serialNumber ?? '');
        return trustedSerials.includes(presented) ? undefined : `presents certificate serial ${presented}, which is neither the Secret's nor the last one served`;
      },
    });
    try {
      await session.refreshCerts();
      return 'OK';
    } finally {
      session.close();
    }
  },
};

export interface PodRotation {
  pod: string;
  /** The serial the pod serves after this pass, when it could be read. */
  served?: string;
  /** refresh_certs was sent in this pass. */
  refreshed: boolean;
  error?: string;
}

/**
 * Brings each pod to the serial, remembering pods already seen serving it
 * (by uid) so a settled instance costs no connection per reconcile.
 * Credentials are loaded only when some pod must be told to reload.
 */
export class CertificateRotator {
  private readonly verified = new Map<string, string>();

  constructor(private readonly control: TlsControl = networkTlsControl) {}

  /** previousSerials: the serials status last recorded (the certificate being replaced), trusted for the control connection. */
  async bringToSerial(pods: PodTarget[], port: number, serial: string, loadCredentials: () => Promise<ControlCredentials>, previousSerials: string[] = []): Promise<PodRotation[]> {
    const trusted = [...new Set([serial, ...previousSerials])];
    let credentials: Promise<ControlCredentials> | undefined;
    const live = new Set(pods.map((p) => p.uid));
    for (const uid of [...this.verified.keys()]) if (!live.has(uid)) this.verified.delete(uid);
    return Promise.all(
      pods.map(async (pod): Promise<PodRotation> => {
        if (this.verified.get(pod.uid) === serial) return { pod: pod.name, served: serial, refreshed: false };
        try {
          let served = await this.control.servedSerial(pod.ip, port);
          let refreshed = false;
          if (served !== serial) {
            credentials ??= loadCredentials();
            await this.control.refreshCerts(pod.ip, port, await credentials, trusted);
            refreshed = true;
            served = await this.control.servedSerial(pod.ip, port);
          }
          if (served === serial) this.verified.set(pod.uid, serial);
          return { pod: pod.name, served, refreshed };
        } catch (err) {
          return { pod: pod.name, refreshed: false, error: (err as Error).message };
        }
      }),
    );
  }
}

/**
 * The CertificateServed condition for one pass, and when to look again.
 * `pendingSince` is when the condition turned False (the rotation's start),
 * from which the deadline runs.
 */
export function rotationCondition(
  results: PodRotation[],
  serial: string,
  pendingSince: Date | undefined,
  now: Date,
  deadlineMs = ROTATION_DEADLINE_MS,
): { condition: ConditionUpdate; requeueAfterMs?: number } {
  const serving = results.filter((r) => r.served === serial);
  if (results.length > 0 && serving.length === results.length) {
    return {
      condition: {
        type: CONDITION_CERTIFICATE_SERVED,
        status: 'True',
        reason: 'CurrentCertificateServed',
        message: `Every Ready pod (${results.length}) serves the certificate with serial ${serial}`,
      },
    };
  }
  if (results.length === 0) {
    return {
      condition: { type: CONDITION_CERTIFICATE_SERVED, status: 'Unknown', reason: 'NoReadyPods', message: 'No Ready pod to verify the served certificate on' },
    };
  }
  const waiting = results
    .filter((r) => r.served !== serial)
    .map((r) => `${r.pod}: ${r.error ?? `serves ${r.served ?? 'unknown'}${r.refreshed ? ' after refresh_certs (the kubelet has not updated the mounted Secret yet)' : ''}`}`);
  const elapsed = pendingSince ? now.getTime() - pendingSince.getTime() : 0;
  const timedOut = elapsed >= deadlineMs;
  const summary = `${serving.length}/${results.length} Ready pods serve the certificate with serial ${serial}; ${waiting.join('; ')}`;
  return {
    condition: {
      type: CONDITION_CERTIFICATE_SERVED,
      status: 'False',
      reason: timedOut ? 'RotationTimedOut' : 'RotationPending',
      message: timedOut ? `Not every pod serves the new certificate ${Math.round(deadlineMs / 1000)} s after the rotation began: ${summary}` : summary,
    },
    // Often enough to finish soon after the kubelet's update, rarely once late.
    requeueAfterMs: timedOut ? 30_000 : Math.min(10_000, Math.max(2000, Math.round(elapsed / 6))),
  };
}
