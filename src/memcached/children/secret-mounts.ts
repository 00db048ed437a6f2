// TLS and client authentication for memcached (spec.tls, spec.auth): where the Secrets
// are mounted, the flags that point memcached at them, and the volumes. Pure.
//
// memcached reads the certificate files at start and again on the
// `refresh_certs` command, so the Secret volumes are mounted whole (not with
// subPath, which the kubelet never updates): a rotated Secret reaches the
// running container without a restart.
import type { V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec } from '../../api/types.js';
import { crName } from './metadata.js';

export const TLS_DIR = '/etc/memcached/tls';
export const CLIENT_CA_DIR = '/etc/memcached/client-ca';
export const AUTH_DIR = '/etc/memcached/auth';
/** The key of spec.auth's Secret: memcached's authfile, one `user:password` per line. */
export const AUTHFILE_KEY = 'authfile';
/** OpenShift's service CA writes a serving certificate into the Secret this annotation names. */
export const SERVICE_CA_ANNOTATION = 'service.beta.openshift.io/serving-cert-secret-name';

/** memcached's ssl_verify_mode: 1 checks a certificate when the client sends one, 2 requires one. */
const VERIFY_MODE = { Request: 1, Require: 2 } as const;

export function tlsEnabled(spec: MemcachedSpec): boolean {
  return spec.tls?.enabled === true;
}

/**
 * The kubernetes.io/tls Secret memcached serves from: the one named in the
 * spec, else `<name>-tls`, which OpenShift's service CA fills through the
 * Service annotation (elsewhere the user, or cert-manager, creates it).
 */
export function servingCertSecretName(mc: Memcached, spec: MemcachedSpec): string {
  return spec.tls?.secretName ?? `${crName(mc)}-tls`;
}

/** The Service annotation asking OpenShift's service CA for a certificate, when TLS is on and no Secret is named. */
export function serviceCaAnnotations(mc: Memcached, spec: MemcachedSpec): Record<string, string> | undefined {
  if (!tlsEnabled(spec) || spec.tls?.secretName) return undefined;
  return { [SERVICE_CA_ANNOTATION]: servingCertSecretName(mc, spec) };
}

/**
 * memcached flags for TLS and authentication. With TLS on, the main port
 * (-p) serves TLS; a plaintext port, when asked for, is a second listener
 * marked notls. `-l` pins memcached to the addresses it names, so that case
 * lists the IPv4 wildcard for both.
 */
export function securityArgs(spec: MemcachedSpec): string[] {
  const args: string[] = [];
  if (tlsEnabled(spec)) {
    const options = [`ssl_chain_cert=${TLS_DIR}/tls.crt`, `ssl_key=${TLS_DIR}/tls.key`];
    if (spec.tls?.clientCASecretName) {
      options.push(`ssl_ca_cert=${CLIENT_CA_DIR}/ca.crt`, `ssl_verify_mode=${VERIFY_MODE[spec.tls.clientCertificates ?? 'Require']}`);
    }
    args.push('-Z', '-o', options.join(','));
    if (spec.tls?.plaintextPort !== undefined) args.push('-l', `0.0.0.0,notls:0.0.0.0:${spec.tls.plaintextPort}`);
  }
  if (spec.auth) args.push('-Y', `${AUTH_DIR}/${AUTHFILE_KEY}`);
  return args;
}

/** The Secret volumes and their read-only mounts, in a fixed order. */
export function securityVolumes(mc: Memcached, spec: MemcachedSpec): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  const add = (name: string, secretName: string, keys: string[], mountPath: string) => {
    volumes.push({ name, secret: { secretName, items: keys.map((key) => ({ key, path: key })) } });
    mounts.push({ name, mountPath, readOnly: true });
  };
  if (tlsEnabled(spec)) {
    add('tls', servingCertSecretName(mc, spec), ['tls.crt', 'tls.key'], TLS_DIR);
    if (spec.tls?.clientCASecretName) add('client-ca', spec.tls.clientCASecretName, ['ca.crt'], CLIENT_CA_DIR);
  }
  if (spec.auth) add('auth', spec.auth.secretName, [AUTHFILE_KEY], AUTH_DIR);
  return { volumes, mounts };
}
