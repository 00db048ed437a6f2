// Reads `stats` from one memcached over its text protocol, with a deadline.
import net from 'node:net';
import tls from 'node:tls';
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

/** How to reach a memcached that runs with TLS (spec.tls) or authentication (spec.auth). Omitted: plaintext, no auth. */
export interface ScrapeSecurity {
  /**
   * Connect with TLS, with these options (ca to verify the server, cert and
   * key when memcached requires a client certificate). Node's defaults
   * apply: the server's certificate is verified unless ca or
   * rejectUnauthorized says otherwise.
   */
  tls?: tls.ConnectionOptions;
  /** Authenticate first as this authfile user (memcached -Y). */
  auth?: { username: string; password: string };
  /**
   * With tls: checks the server's certificate before anything is sent (for
   * a caller that accepts any chain but knows which certificates its pods
   * serve); returns why the server is not trusted, or undefined.
   */
  verifyServer?: (certificate: tls.PeerCertificate) => string | undefined;
}

/** The text-protocol authentication of memcached -Y: a set whose data is "user password". */
export function authCommand(auth: { username: string; password: string }): string {
  const token = `${auth.username} ${auth.password}`;
  return `set auth 0 0 ${Buffer.byteLength(token)}\r\n${token}\r\n`;
}

/**
 * Sends `stats` and resolves with the parsed fields; rejects on timeout, a
 * closed socket or a malformed reply. security adds TLS and authentication;
 * callers that pass only target and timeout get plaintext as before.
 */
export function fetchStats(target: Target, timeoutMs: number, security: ScrapeSecurity = {}): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const socket = security.tls
      ? tls.connect({ servername: net.isIP(target.host) ? undefined : target.host, ...security.tls, host: target.host, port: target.port })
      : net.connect({ host: target.host, port: target.port });
    const request = `${security.auth ? authCommand(security.auth) : ''}stats\r\n`;
    // The authentication's reply comes first; it must be STORED.
    let authPending = security.auth !== undefined;
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
    socket.on(security.tls ? 'secureConnect' : 'connect', () => {
      const distrust = security.tls && security.verifyServer?.((socket as tls.TLSSocket).getPeerCertificate());
      if (distrust) return finish(new Error(`${target.host}:${target.port}: ${distrust}; nothing sent`));
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) return finish(new Error(`reply from ${target.host}:${target.port} is larger than ${MAX_REPLY_BYTES} bytes`));
      let text = Buffer.concat(chunks).toString('latin1');
      if (authPending) {
        const line = text.indexOf('\r\n');
        if (line < 0) return;
        const reply = text.slice(0, line);
        if (reply !== 'STORED') return finish(new Error(`${target.host}:${target.port} refused the authentication: ${reply}`));
        authPending = false;
        chunks.splice(0, chunks.length, Buffer.from(text.slice(line + 2), 'latin1'));
        text = text.slice(line + 2);
      }
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
