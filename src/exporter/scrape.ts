// What a scrape asks for: the target memcached, parsed and checked. Reading
// it is the memcached client's (src/protocol).
import { parseBindAddress } from '@memcached-operator/runtime';
import type { Endpoint } from '../protocol/client.js';

/**
 * Parses a scrape target "host:port" (IPv6 in brackets) and checks the port
 * against the allowed ones, so the exporter cannot be used to probe other
 * services on the pod network. Returns an error message or the target.
 */
export function parseTarget(target: string | null, allowedPorts?: readonly number[]): Endpoint | string {
  if (!target) return 'missing target: use /scrape?target=<host>:<port>';
  let bind;
  try {
    bind = parseBindAddress(target);
  } catch (err) {
    return (err as Error).message.replace('bind address', 'target');
  }
  if (!bind || bind.host === undefined) return `invalid target "${target}": expected "<host>:<port>"`;
  // Without a port list the caller checks the target itself (the operator: a managed pod's memcached port).
  if (allowedPorts && !allowedPorts.includes(bind.port)) return `target port ${bind.port} is not a memcached port this exporter may scrape (allowed: ${allowedPorts.join(', ')})`;
  return { host: bind.host, port: bind.port };
}
