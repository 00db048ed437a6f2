// The multi-target exporter: Prometheus asks /scrape?target=<pod-ip>:11211
// and gets that memcached's metrics, the way blackbox-exporter probes. One
// exporter serves every pod, so a cache pays no sidecar (docs/monitoring.md).
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManagedHttpServer, type BindAddress, type Logger } from '@memcached-operator/runtime';
import { renderExposition } from './metrics.js';
import { fetchStats, type Endpoint } from '../protocol/client.js';
import { parseTarget } from './scrape.js';

export interface ExporterOptions {
  bind: BindAddress;
  /** Ports a target may name; unset leaves the whole check to `refuse`. */
  allowedPorts?: readonly number[];
  /**
   * Why this target may not be scraped, or undefined when it may. The
   * operator refuses anything but a memcached port of a pod it manages.
   */
  refuse?: (target: Endpoint) => string | undefined;
  /**
   * Prometheus HTTP service discovery at /targets?namespace=&name=: the
   * target groups of one Memcached, or undefined when there is no such
   * Memcached (404). Unset: no /targets.
   */
  discover?: (namespace: string, name: string) => unknown[] | undefined;
  /** How long one scrape may wait on memcached. */
  timeoutMs: number;
  /** Scrapes in flight at once; more get 503 so a slow memcached cannot pile up sockets. */
  maxConcurrentScrapes: number;
  logger: Logger;
  /** Test seam: how stats are read. */
  fetch?: (target: Endpoint, timeoutMs: number) => Promise<Map<string, string>>;
}

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };
const EXPOSITION = { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' };

export class Exporter {
  private readonly server: ManagedHttpServer;
  private inFlight = 0;

  constructor(private readonly options: ExporterOptions) {
    this.server = new ManagedHttpServer(options.bind, (req, res) => void this.handle(req, res));
  }

  async start(): Promise<AddressInfo> {
    const address = await this.server.start();
    this.options.logger.info('exporter listening', { address: address.address, port: address.port });
    return address;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://exporter.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, TEXT).end('only GET\n');
    if (url.pathname === '/healthz' || url.pathname === '/readyz') return void res.writeHead(200, TEXT).end('ok\n');
    if (url.pathname === '/targets' && this.options.discover) {
      const namespace = url.searchParams.get('namespace');
      const name = url.searchParams.get('name');
      if (!namespace || !name) return void res.writeHead(400, TEXT).end('use /targets?namespace=<namespace>&name=<memcached>\n');
      const groups = this.options.discover(namespace, name);
      if (!groups) return void res.writeHead(404, TEXT).end(`no Memcached ${namespace}/${name}\n`);
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(groups));
    }
    if (url.pathname !== '/scrape') return void res.writeHead(404, TEXT).end('not found: use /scrape?target=<host>:<port>\n');

    const target = parseTarget(url.searchParams.get('target'), this.options.allowedPorts);
    if (typeof target === 'string') return void res.writeHead(400, TEXT).end(`${target}\n`);
    const refusal = this.options.refuse?.(target);
    if (refusal !== undefined) return void res.writeHead(403, TEXT).end(`${refusal}\n`);
    if (this.inFlight >= this.options.maxConcurrentScrapes) return void res.writeHead(503, TEXT).end('too many scrapes in flight\n');

    this.inFlight++;
    let stats: Map<string, string> | undefined;
    try {
      stats = await (this.options.fetch ?? fetchStats)(target, this.options.timeoutMs);
    } catch (err) {
      // memcached_up 0 is the answer, not an HTTP error: Prometheus keeps the
      // series and alerts on it.
      this.options.logger.debug('scrape failed', { target: `${target.host}:${target.port}`, error: (err as Error).message });
    } finally {
      this.inFlight--;
    }
    res.writeHead(200, EXPOSITION).end(renderExposition(stats));
  }
}
