// Serves an injected prom-client Registry on /metrics. The registry is never
// the global default, so tests and multiple managers stay isolated. Secure
// serving (HTTPS + TokenReview/SubjectAccessReview) is controller-runtime's
// default in a kubebuilder project; plain HTTP is the explicit opt-out.
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { collectDefaultMetrics, type Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { ManagedHttpServer, parseBindAddress, type TlsMaterial } from './httpserver.js';
import { errorMessage } from './errors.js';
import { realClock, type Clock } from './clock.js';
import type { MetricsAuthorizer } from './metricsauth.js';

/**
 * Memoises make per registry: prom-client refuses a metric name registered
 * twice, so every controller or queue on one registry shares its families.
 */
export function perRegistry<T>(make: (registry: Registry) => T): (registry: Registry) => T {
  const made = new WeakMap<Registry, T>();
  return (registry) => {
    let value = made.get(registry);
    if (value === undefined) {
      value = make(registry);
      made.set(registry, value);
    }
    return value;
  };
}
import { selfSignedCertificate } from './x509.js';

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
  /**
   * Serve HTTPS and admit only callers whose bearer token passes a TokenReview
   * and whose user may "get" the non-resource URL (SubjectAccessReview), as
   * controller-runtime's secure metrics serving does. Needs `authorizer`.
   * Default false (plain HTTP, no authentication), like a controller-runtime
   * Manager without SecureServing.
   */
  secure?: boolean;
  /** Decides each request when `secure`; apiReviewClient() builds the usual one. */
  authorizer?: MetricsAuthorizer;
  /**
   * A directory holding tls.crt and tls.key (a mounted kubernetes.io/tls
   * Secret). Re-read when the files change. Without it a secure server
   * generates a self-signed certificate in memory at startup.
   */
  certPath?: string;
  /** How often certPath is checked for a rotated certificate. Default 30 s. */
  certReloadIntervalMs?: number;
  clock?: Clock;
}

/** tls.crt and tls.key from a mounted Secret's directory, with a clear error naming what is missing. */
export function readCertDir(dir: string): TlsMaterial {
  const read = (file: string): string => {
    try {
      return readFileSync(path.join(dir, file), 'utf8');
    } catch (err) {
      throw new Error(`metrics certificate: cannot read ${path.join(dir, file)}: ${errorMessage(err)}`);
    }
  };
  return { cert: read('tls.crt'), key: read('tls.key') };
}

export class MetricsServer {
  private readonly server: ManagedHttpServer | undefined;
  private readonly registry: Registry;
  private readonly logger: Logger;
  private readonly authorizer: MetricsAuthorizer | undefined;
  private readonly certPath: string | undefined;
  private readonly certReloadIntervalMs: number;
  private readonly clock: Clock;
  private currentTls: TlsMaterial | undefined;
  private reloadTimer: unknown;
  readonly secure: boolean;

  constructor(options: MetricsServerOptions) {
    const bind = parseBindAddress(options.bindAddress);
    this.registry = options.registry;
    this.logger = options.logger;
    this.secure = options.secure ?? false;
    this.clock = options.clock ?? realClock;
    this.certPath = options.certPath;
    this.certReloadIntervalMs = options.certReloadIntervalMs ?? 30_000;
    if (this.secure && !options.authorizer) throw new Error('a secure metrics server needs an authorizer');
    this.authorizer = this.secure ? options.authorizer : undefined;
    registerProcessMetrics(options.registry);
    if (bind && this.secure) {
      this.currentTls = this.certPath
        ? readCertDir(this.certPath)
        : selfSignedCertificate({ commonName: 'memcached-operator-metrics', now: new Date(this.clock.now()) });
    }
    this.server = bind ? new ManagedHttpServer(bind, (req, res) => void this.handle(req, res), this.currentTls) : undefined;
  }

  async start(): Promise<AddressInfo | undefined> {
    if (!this.server) return undefined;
    const address = await this.server.start();
    this.logger.info('metrics server listening', {
      address: address.address,
      port: address.port,
      secure: this.secure,
      ...(this.secure ? { certificate: this.certPath ?? 'self-signed (generated in memory)' } : {}),
    });
    if (this.secure && this.certPath) this.scheduleReload();
    return address;
  }

  async close(): Promise<void> {
    if (this.reloadTimer !== undefined) this.clock.clearTimeout(this.reloadTimer);
    this.reloadTimer = undefined;
    await this.server?.close();
  }

  /** Picks up a rotated Secret (the kubelet swaps the files atomically); a bad read keeps the old certificate. */
  private scheduleReload(): void {
    this.reloadTimer = this.clock.setTimeout(() => {
      try {
        const next = readCertDir(this.certPath!);
        if (next.cert !== this.currentTls?.cert || next.key !== this.currentTls?.key) {
          this.server?.setTls(next);
          this.currentTls = next;
          this.logger.info('metrics certificate reloaded', { certPath: this.certPath });
        }
      } catch (err) {
        this.logger.error('metrics certificate reload failed; keeping the previous one', { error: errorMessage(err) });
      }
      this.scheduleReload();
    }, this.certReloadIntervalMs);
    (this.reloadTimer as { unref?: () => void }).unref?.();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://metrics.invalid').pathname;
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (this.authorizer) {
      const decision = await this.authorizer.authorize(req.headers.authorization, req.method, path);
      if (decision.status !== 200) {
        if (decision.status === 500) this.logger.error('metrics authorization failed', { error: decision.reason });
        res.writeHead(decision.status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${decision.reason}\n`);
        return;
      }
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
