// Bind addresses follow controller-runtime flags: ":8081" (all interfaces),
// "127.0.0.1:8080", "[::1]:8080", or "0" to disable the server.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface BindAddress {
  /** undefined means all interfaces. */
  host: string | undefined;
  port: number;
}

export function parseBindAddress(address: string): BindAddress | undefined {
  const trimmed = address.trim();
  if (trimmed === '0') return undefined;
  const invalid = (why: string) => new Error(`invalid bind address "${address}": ${why}; expected "host:port", ":port" or "0" to disable`);
  const colon = trimmed.lastIndexOf(':');
  if (colon < 0) throw invalid('missing ":port"');
  let host = trimmed.slice(0, colon);
  const portText = trimmed.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw invalid(`port "${portText}" is not a number between 0 and 65535`);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) throw invalid('IPv6 hosts must be in brackets');
  if (/\s/.test(host)) throw invalid('host contains whitespace');
  return { host: host === '' ? undefined : host, port: Number(portText) };
}

/** PEM certificate chain and key for HTTPS. */
export interface TlsMaterial {
  cert: string;
  key: string;
}

/**
 * An HTTP (or, given `tls`, HTTPS) server that can be started and closed as a
 * unit; close() also drops idle keep-alive sockets.
 */
export class ManagedHttpServer {
  private readonly server: http.Server | https.Server;
  private listening = false;

  constructor(
    readonly bind: BindAddress,
    handler: http.RequestListener,
    tls?: TlsMaterial,
  ) {
    this.server = tls ? https.createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, handler) : http.createServer(handler);
  }

  /** Replaces the certificate for new connections (a rotated mounted Secret). */
  setTls(tls: TlsMaterial): void {
    if (this.server instanceof https.Server) this.server.setSecureContext({ cert: tls.cert, key: tls.key });
  }

  async start(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.bind.port, this.bind.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.listening = true;
    return this.server.address() as AddressInfo;
  }

  address(): AddressInfo | undefined {
    return this.listening ? (this.server.address() as AddressInfo) : undefined;
  }

  async close(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await closed;
  }
}
