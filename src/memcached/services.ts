// The two Services of a Memcached: `<name>` (ClusterIP, for clients that want
// one address) and `<name>-headless` (one DNS record per ready pod, for
// clients that hash keys over the memcached nodes themselves).
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec } from '../api/types.js';
import { DEFAULT_PORT } from './args.js';
import { PORT_NAME } from './deployment.js';
import { crName, selectorLabels } from './labels.js';
import { objectMeta } from './owner.js';

export const HEADLESS_SUFFIX = '-headless';

export function headlessServiceName(mc: Memcached): string {
  return `${crName(mc)}${HEADLESS_SUFFIX}`;
}

function servicePorts(spec: MemcachedSpec): V1ServicePort[] {
  return [{ name: PORT_NAME, port: spec.containerPort ?? DEFAULT_PORT, targetPort: PORT_NAME, protocol: 'TCP' }];
}

/** ClusterIP Service `<name>`. clusterIP itself is left to the apiserver (it is immutable once allocated). */
export function buildService(mc: Memcached, spec: MemcachedSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(mc, crName(mc)),
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
