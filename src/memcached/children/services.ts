// The Services of a Memcached: `<name>` (ClusterIP, for clients that want
// one address), `<name>-headless` (one DNS record per ready pod, for clients
// that discover the ready servers themselves) and `<name>-servers` (the
// StatefulSet's, giving every server a stable name whether ready or not: the
// names of the published server list, for clients that hash keys over it).
import type { V1ObjectMeta, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec } from '../../api/types.js';
import { DEFAULT_PORT } from './args.js';
import { PLAINTEXT_PORT_NAME, PORT_NAME } from './statefulset.js';
import { crName, objectMeta, selectorLabels, serversServiceName } from './metadata.js';
import { serviceCaAnnotations, tlsEnabled } from './secret-mounts.js';

export const HEADLESS_SUFFIX = '-headless';

export function headlessServiceName(mc: Memcached): string {
  return `${crName(mc)}${HEADLESS_SUFFIX}`;
}

function servicePorts(spec: MemcachedSpec): V1ServicePort[] {
  const ports: V1ServicePort[] = [{ name: PORT_NAME, port: spec.containerPort ?? DEFAULT_PORT, targetPort: PORT_NAME, protocol: 'TCP' }];
  if (tlsEnabled(spec) && spec.tls?.plaintextPort !== undefined) {
    ports.push({ name: PLAINTEXT_PORT_NAME, port: spec.tls.plaintextPort, targetPort: PLAINTEXT_PORT_NAME, protocol: 'TCP' });
  }
  return ports;
}

function withAnnotations(meta: V1ObjectMeta, annotations: Record<string, string> | undefined): V1ObjectMeta {
  return annotations ? { ...meta, annotations } : meta;
}

/** ClusterIP Service `<name>` (with TLS on and no Secret named, it asks OpenShift's service CA for the certificate). clusterIP itself is left to the apiserver (it is immutable once allocated). */
export function buildService(mc: Memcached, spec: MemcachedSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: withAnnotations(objectMeta(mc, crName(mc)), serviceCaAnnotations(mc, spec)),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(mc),
      ports: servicePorts(spec),
    },
  };
}

/** Headless Service `<name>-headless`: only Ready pods are published, so clients never hash onto a dead node. */
export function buildHeadlessService(mc: Memcached, spec: MemcachedSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(mc, headlessServiceName(mc)),
    spec: {
      type: 'ClusterIP',
      clusterIP: 'None',
      publishNotReadyAddresses: false,
      selector: selectorLabels(mc),
      ports: servicePorts(spec),
    },
  };
}

/**
 * Headless Service `<name>-servers`, the StatefulSet's: it publishes not-ready
 * pods too, so a server's name resolves while it restarts and the clients'
 * hash ring never changes with readiness.
 */
export function buildServersService(mc: Memcached, spec: MemcachedSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(mc, serversServiceName(mc)),
    spec: {
      type: 'ClusterIP',
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(mc),
      ports: servicePorts(spec),
    },
  };
}
