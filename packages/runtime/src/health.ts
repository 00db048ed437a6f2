// /healthz (liveness) and /readyz (readiness) with named checks, answering like
// controller-runtime's healthz handler: 200 "ok", or 500 naming what failed;
// "?verbose" lists every check.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';
import { ManagedHttpServer, parseBindAddress } from './httpserver.js';
import { errorMessage } from './errors.js';

/** A check fails by throwing (or rejecting) or by returning false. */
export type HealthCheck = () => void | boolean | Promise<void | boolean>;

export interface CheckOutcome {
  name: string;
  ok: boolean;
  reason?: string;
}

export async function runChecks(checks: ReadonlyMap<string, HealthCheck>): Promise<CheckOutcome[]> {
  return Promise.all(
    [...checks].map(async ([name, check]): Promise<CheckOutcome> => {
      try {
        const result = await check();
        return result === false ? { name, ok: false, reason: 'check returned false' } : { name, ok: true };
      } catch (err) {
        return { name, ok: false, reason: errorMessage(err) };
      }
    }),
  );
}

/** Pure: the HTTP status and body for a set of check outcomes. */
export function renderChecks(endpoint: string, outcomes: CheckOutcome[], verbose: boolean): { status: number; body: string } {
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length === 0 && !verbose) return { status: 200, body: 'ok' };
  const lines = (verbose ? outcomes : failed).map((o) => (o.ok ? `[+]${o.name} ok` : `[-]${o.name} failed: ${o.reason ?? 'unknown'}`));
  lines.push(failed.length === 0 ? `${endpoint} check passed` : `${endpoint} check failed: ${failed.map((o) => o.name).join(', ')}`);
  return { status: failed.length === 0 ? 200 : 500, body: lines.join('\n') + '\n' };
}

export interface HealthProbeServerOptions {
  bindAddress: string;
  logger: Logger;
}

export class HealthProbeServer {
  private readonly healthz = new Map<string, HealthCheck>();
  private readonly readyz = new Map<string, HealthCheck>();
  private readonly server: ManagedHttpServer | undefined;
  private readonly logger: Logger;

  constructor(options: HealthProbeServerOptions) {
    const bind = parseBindAddress(options.bindAddress);
    this.logger = options.logger;
    this.server = bind ? new ManagedHttpServer(bind, (req, res) => void this.handle(req, res)) : undefined;
  }

  addHealthzCheck(name: string, check: HealthCheck): void {
    addCheck(this.healthz, name, check);
  }

  addReadyzCheck(name: string, check: HealthCheck): void {
    addCheck(this.readyz, name, check);
  }

  /** Starts listening; undefined when disabled by bind address "0". */
  async start(): Promise<AddressInfo | undefined> {
    if (!this.server) return undefined;
    const address = await this.server.start();
    this.logger.info('health probe server listening', { address: address.address, port: address.port });
    return address;
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://probe.invalid');
    const endpoint = url.pathname.replace(/\/+$/, '');
    const checks = endpoint === '/healthz' ? this.healthz : endpoint === '/readyz' ? this.readyz : undefined;
    if (!checks || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    const outcomes = await runChecks(checks);
    const { status, body } = renderChecks(endpoint.slice(1), outcomes, url.searchParams.has('verbose'));
    if (status !== 200) this.logger.info(`${endpoint} failing`, { failed: outcomes.filter((o) => !o.ok).map((o) => o.name) });
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }).end(body);
  }
}

function addCheck(checks: Map<string, HealthCheck>, name: string, check: HealthCheck): void {
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) throw new Error(`invalid health check name "${name}"`);
  if (checks.has(name)) throw new Error(`health check "${name}" is already registered`);
  checks.set(name, check);
}
