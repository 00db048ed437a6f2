// Serves an injected prom-client Registry on /metrics. The registry is never
// the global default, so tests and multiple managers stay isolated.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { ManagedHttpServer, parseBindAddress } from './httpserver.js';
import { errorMessage } from './errors.js';

const registriesWithProcessMetrics = new WeakSet<Registry>();

/** Adds Node process metrics (CPU, memory, event loop lag...) to `registry`, once. */
export function registerProcessMetrics(registry: Registry): void {
  if (registriesWithProcessMetrics.has(registry)) return;
  registriesWithProcessMetrics.add(registry);
  collectDefaultMetrics({ register: registry });
}

export interface MetricsServerOptions {
  bindAddress: string;
  registry: Registry;
  logger: Logger;
}

export class MetricsServer {
  private readonly server: ManagedHttpServer | undefined;
  private readonly registry: Registry;
  private readonly logger: Logger;

  constructor(options: MetricsServerOptions) {
    const bind = parseBindAddress(options.bindAddress);
    this.registry = options.registry;
    this.logger = options.logger;
    registerProcessMetrics(options.registry);
    this.server = bind ? new ManagedHttpServer(bind, (req, res) => void this.handle(req, res)) : undefined;
  }

  async start(): Promise<AddressInfo | undefined> {
    if (!this.server) return undefined;
    const address = await this.server.start();
    this.logger.info('metrics server listening', { address: address.address, port: address.port });
    return address;
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://metrics.invalid').pathname;
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    try {
      const body = await this.registry.metrics();
      res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body);
    } catch (err) {
      this.logger.error('collecting metrics failed', { error: errorMessage(err) });
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('collecting metrics failed\n');
    }
  }
}
