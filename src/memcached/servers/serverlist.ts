// The published server list: what clients hash keys over. It is built from
// the replica count the operator has settled on, never from readiness, so a
// server that blips keeps its place on the clients' ring and its keys.
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec } from '../../api/types.js';
import { DEFAULT_PORT } from '../children/args.js';
import { crName, objectMeta, serversServiceName } from '../children/metadata.js';

/** The ConfigMap's key: one `host:port` per line, in order. */
export const SERVERS_KEY = 'servers';

export function serversConfigMapName(mc: Memcached): string {
  return serversServiceName(mc);
}

/** The pod name of server `ordinal`. */
export function serverName(mc: Memcached, ordinal: number): string {
  return `${crName(mc)}-${ordinal}`;
}

/** `<name>-<i>.<name>-servers.<namespace>.svc:<port>` for i in [0, count): the TLS port when TLS is on (it is the container port). */
export function serverList(mc: Memcached, spec: MemcachedSpec, count: number): string[] {
  const port = spec.containerPort ?? DEFAULT_PORT;
  const domain = `${serversServiceName(mc)}.${mc.metadata.namespace ?? ''}.svc`;
  return Array.from({ length: count }, (_, i) => `${serverName(mc, i)}.${domain}:${port}`);
}

export function buildServersConfigMap(mc: Memcached, servers: string[]): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: objectMeta(mc, serversConfigMapName(mc)),
    data: { [SERVERS_KEY]: servers.map((s) => `${s}\n`).join('') },
  };
}

/** The list a ConfigMap publishes; undefined when there is none. */
export function publishedServers(cm: V1ConfigMap | undefined): string[] | undefined {
  const text = cm?.data?.[SERVERS_KEY];
  return text === undefined ? undefined : text.split('\n').filter((l) => l.length > 0);
}

/** The ordinal of a StatefulSet pod of this Memcached, or undefined for another pod (an old Deployment's). */
export function ordinalOf(mc: Memcached, pod: V1Pod): number | undefined {
  const name = pod.metadata?.name ?? '';
  const prefix = `${crName(mc)}-`;
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}
