// The Manager owns the process-wide pieces: kubeconfig, metrics registry,
// logger, informers (run on every replica so a new leader starts warm),
// leader-only runnables such as controllers, the probe and metrics servers, and
// an orderly shutdown. Leader election itself is pluggable (src/leaderelection).
import type { KubeConfig } from '@kubernetes/client-node';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { realClock, type Clock } from './clock.js';
import type { StopOptions } from './controller.js';
import { HealthProbeServer, type HealthCheck } from './health.js';
import { MetricsServer } from './metrics.js';
import { apiReviewClient, MetricsAuthorizer } from './metricsauth.js';
import { parseBindAddress } from './httpserver.js';
import { errorMessage } from './errors.js';
import type { LeaderElector } from './leaderelection/elector.js';

/** Something the manager starts and stops: an informer, a controller, or any background loop. */
export interface Runnable {
  readonly name?: string;
  start(): void | Promise<void>;
  stop(options: StopOptions): Promise<void>;
}

/** Informers additionally report whether their cache is synced (used by /readyz). */
export interface CacheRunnable extends Runnable {
  hasSynced(): boolean;
}

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Defaults to a fresh Registry (never prom-client's global one). */
  registry?: Registry;
  /** Default ":8081"; "0" disables. */
  healthProbeBindAddress?: string;
  /** Default ":8080"; "0" disables. */
  metricsBindAddress?: string;
  /**
   * HTTPS with TokenReview + SubjectAccessReview on /metrics (see MetricsServer).
   * Default false, as in a controller-runtime Manager; an operator's main
   * turns it on by default the way kubebuilder's scaffold does.
   */
  metricsSecure?: boolean;
  /** With metricsSecure: a directory with tls.crt and tls.key; unset means a self-signed certificate made at startup. */
  metricsCertPath?: string;
  /** With metricsSecure: how long an authentication/authorization decision is cached. Default 10 s. */
  metricsAuthCacheTtlMs?: number;
  /** Leader-only runnables start once this elects us; its healthCheck() becomes the "leader-election" /healthz check. */
  leaderElection?: LeaderElector;
  /** How long in-flight reconciles may finish on shutdown before they are aborted. */
  gracefulShutdownTimeoutMs?: number;
  /** After aborting, how long to wait for reconciles to return before giving up on them. */
  abortGraceMs?: number;
  /** Called once when leadership is lost while running; main should exit non-zero. */
  onLeadershipLost?: (reason: string) => void;
  clock?: Clock;
}

export const DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT_MS = 30_000;
export const DEFAULT_ABORT_GRACE_MS = 5_000;

type ManagerState = 'new' | 'running' | 'shutting-down' | 'stopped';

export class Manager {
  readonly kubeConfig: KubeConfig;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly health: HealthProbeServer;
  readonly metrics: MetricsServer;
  private readonly clock: Clock;
  private readonly leaderElection: LeaderElector | undefined;
  private readonly gracefulShutdownTimeoutMs: number;
  private readonly abortGraceMs: number;
  private readonly onLeadershipLost: ((reason: string) => void) | undefined;
  private readonly caches: CacheRunnable[] = [];
  private readonly leaderRunnables: Runnable[] = [];
  private state: ManagerState = 'new';
  private leading = false;
  private leadershipLost = false;
  private shutdownPromise: Promise<void> | undefined;
  private leaderRunnablesStarted: Promise<void> | undefined;

  constructor(options: ManagerOptions) {
    // Validate both addresses before constructing anything that could bind.
    parseBindAddress(options.healthProbeBindAddress ?? ':8081');
    parseBindAddress(options.metricsBindAddress ?? ':8080');
    this.kubeConfig = options.kubeConfig;
    this.logger = options.logger;
    this.registry = options.registry ?? new Registry();
    this.clock = options.clock ?? realClock;
    this.leaderElection = options.leaderElection;
    this.gracefulShutdownTimeoutMs = options.gracefulShutdownTimeoutMs ?? DEFAULT_GRACEFUL_SHUTDOWN_TIMEOUT_MS;
    this.abortGraceMs = options.abortGraceMs ?? DEFAULT_ABORT_GRACE_MS;
    this.onLeadershipLost = options.onLeadershipLost;
    this.health = new HealthProbeServer({ bindAddress: options.healthProbeBindAddress ?? ':8081', logger: this.logger });
    this.metrics = new MetricsServer({
      bindAddress: options.metricsBindAddress ?? ':8080',
      registry: this.registry,
      logger: this.logger,
      clock: this.clock,
      ...(options.metricsSecure
        ? {
            secure: true,
            authorizer: new MetricsAuthorizer({ reviews: apiReviewClient(this.kubeConfig), clock: this.clock, ...(options.metricsAuthCacheTtlMs !== undefined ? { cacheTtlMs: options.metricsAuthCacheTtlMs } : {}) }),
            ...(options.metricsCertPath ? { certPath: options.metricsCertPath } : {}),
          }
        : {}),
    });
    this.health.addHealthzCheck('ping', () => undefined);
    const elector = options.leaderElection;
    if (elector) this.health.addHealthzCheck('leader-election', () => elector.healthCheck());
    this.health.addReadyzCheck('informers-synced', () => {
      const unsynced = this.caches.filter((c) => !c.hasSynced()).map((c) => c.name ?? 'unnamed');
      if (unsynced.length > 0) throw new Error(`not synced: ${unsynced.join(', ')}`);
    });
  }

  /** Informers run on every replica so a newly elected leader starts with a warm cache. */
  addCache(cache: CacheRunnable): void {
    this.assertNotStarted();
    this.caches.push(cache);
  }

  /** Leader-only work, typically controllers. Started once leadership is acquired (at once without election). */
  addLeaderRunnable(runnable: Runnable): void {
    this.assertNotStarted();
    this.leaderRunnables.push(runnable);
  }

  addHealthzCheck(name: string, check: HealthCheck): void {
    this.health.addHealthzCheck(name, check);
  }

  addReadyzCheck(name: string, check: HealthCheck): void {
    this.health.addReadyzCheck(name, check);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Starts servers and informers, then leader-only runnables (now, or when elected). Resolves once started. */
  async start(): Promise<{ healthAddress?: AddressInfo; metricsAddress?: AddressInfo }> {
    this.assertNotStarted();
    this.state = 'running';
    const [healthAddress, metricsAddress] = await Promise.all([this.health.start(), this.metrics.start()]);
    for (const cache of this.caches) await cache.start();
    if (this.leaderElection) {
      void this.leaderElection
        .run({
          onStartedLeading: (signal) => this.startedLeading(signal),
          onStoppedLeading: () => this.loseLeadership('leader election lost'),
        })
        .catch((err: unknown) => {
          this.logger.error('leader election failed', { error: errorMessage(err) });
          this.loseLeadership('leader election failed');
        });
    } else {
      this.startedLeading(undefined);
    }
    return { healthAddress, metricsAddress };
  }

  /**
   * Graceful shutdown (idempotent): stop handing out work, let in-flight
   * reconciles finish within the timeout (then abort them), release
   * leadership, stop informers, close servers.
   */
  shutdown(reason = 'shutdown requested'): Promise<void> {
    this.shutdownPromise ??= this.runShutdown(reason);
    return this.shutdownPromise;
  }

  private async runShutdown(reason: string): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'shutting-down';
    this.logger.info('shutting down', { reason, gracefulShutdownTimeoutMs: this.gracefulShutdownTimeoutMs });
    if (wasRunning) {
      await this.leaderRunnablesStarted;
      await this.stopLeaderRunnables({ timeoutMs: this.gracefulShutdownTimeoutMs });
      if (this.leaderElection) {
        try {
          await this.leaderElection.release();
        } catch (err) {
          this.logger.error('releasing leadership failed', { error: errorMessage(err) });
        }
      }
      this.leading = false;
      await Promise.all(this.caches.map((cache) => cache.stop({})));
    }
    await Promise.all([this.health.close(), this.metrics.close()]);
    this.state = 'stopped';
    this.logger.info('shutdown complete');
  }

  private startedLeading(signal: AbortSignal | undefined): void {
    if (this.state !== 'running' || this.leadershipLost) return;
    this.leading = true;
    this.logger.info('starting leader-only runnables', { count: this.leaderRunnables.length });
    signal?.addEventListener('abort', () => this.loseLeadership('leadership signal aborted'), { once: true });
    this.leaderRunnablesStarted = Promise.all(
      this.leaderRunnables.map(async (runnable) => {
        try {
          await runnable.start();
        } catch (err) {
          this.logger.error('runnable failed to start', { runnable: runnable.name, error: errorMessage(err) });
        }
      }),
    ).then(() => undefined);
  }

  /** Another replica may already be acting: stop reconciling at once, then let main exit non-zero. */
  private loseLeadership(reason: string): void {
    if (this.state !== 'running' || this.leadershipLost) return;
    this.leadershipLost = true;
    const wasLeading = this.leading;
    this.leading = false;
    this.logger.error('leadership lost; aborting in-flight reconciles', { reason, wasLeading });
    void this.stopLeaderRunnables({ abort: true }).then(() => this.onLeadershipLost?.(reason));
  }

  /** Stops leader runnables; bounded even if a reconcile ignores its abort signal. */
  private async stopLeaderRunnables(options: StopOptions): Promise<void> {
    const stopped = Promise.all(
      this.leaderRunnables.map(async (runnable) => {
        try {
          await runnable.stop(options);
        } catch (err) {
          this.logger.error('runnable failed to stop', { runnable: runnable.name, error: errorMessage(err) });
        }
      }),
    ).then(() => true);
    const deadlineMs = (options.abort ? 0 : (options.timeoutMs ?? 0)) + this.abortGraceMs;
    let timer: unknown;
    const gaveUp = new Promise<boolean>((resolve) => (timer = this.clock.setTimeout(() => resolve(false), deadlineMs)));
    const finished = await Promise.race([stopped, gaveUp]);
    this.clock.clearTimeout(timer);
    if (!finished) this.logger.warn('some reconciles ignored their abort signal; not waiting for them any longer', { waitedMs: deadlineMs });
  }

  private assertNotStarted(): void {
    if (this.state !== 'new') throw new Error('manager already started');
  }
}

export interface SignalHandlerOptions {
  signals?: NodeJS.Signals[];
  /** Called on a second signal while shutting down; defaults to exiting with code 1. */
  onSecondSignal?: () => void;
  processLike?: Pick<NodeJS.Process, 'on' | 'off'>;
}

/** First SIGTERM/SIGINT shuts down gracefully; a second one exits at once. Returns an uninstaller. */
export function installSignalHandlers(manager: Pick<Manager, 'shutdown' | 'logger'>, options: SignalHandlerOptions = {}): () => void {
  const proc = options.processLike ?? process;
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let received = 0;
  const handler = (signal: NodeJS.Signals): void => {
    received++;
    if (received === 1) {
      manager.logger.info('signal received; shutting down', { signal });
      void manager.shutdown(`received ${signal}`);
      return;
    }
    manager.logger.warn('second signal received; exiting immediately', { signal });
    (options.onSecondSignal ?? (() => process.exit(1)))();
  };
  for (const signal of signals) proc.on(signal, handler);
  return () => {
    for (const signal of signals) proc.off(signal, handler);
  };
}
