// Reads `stats` from one memcached over its text protocol, with a deadline.
import net from 'node:net';
import { parseBindAddress } from '@memcached-operator/runtime';
import { parseStats } from './metrics.js';

/** The largest reply we accept; `stats` is about 3 KiB, so this only stops a runaway peer. */
const MAX_REPLY_BYTES = 64 * 1024;

export interface Target {
  host: string;
  port: number;
}

/**
 * Parses a scrape target "host:port" (IPv6 in brackets) and checks the port
 * against the allowed ones, so the exporter cannot be used to probe other
 * services on the pod network. Returns an error message or the target.
 */
export function parseTarget(target: string | null, allowedPorts?: readonly number[]): Target | string {
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

/** Sends `stats` and resolves with the parsed fields; rejects on timeout, a closed socket or a malformed reply. */
export function fetchStats(target: Target, timeoutMs: number): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: Error | undefined, stats?: Map<string, string>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(stats!);
    };
    const timer = setTimeout(() => finish(new Error(`no reply from ${target.host}:${target.port} within ${timeoutMs} ms`)), timeoutMs);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write('stats\r\n'));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) return finish(new Error(`reply from ${target.host}:${target.port} is larger than ${MAX_REPLY_BYTES} bytes`));
      const text = Buffer.concat(chunks).toString('latin1');
      if (text.endsWith('END\r\n') || /^(ERROR|CLIENT_ERROR|SERVER_ERROR)/m.test(text)) {
        try {
          finish(undefined, parseStats(text));
        } catch (err) {
          finish(err as Error);
        }
      }
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error(`${target.host}:${target.port} closed the connection before END`)));
  });
}
