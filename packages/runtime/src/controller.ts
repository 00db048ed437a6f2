// A controller turns watch events into keyed requests on a work queue and runs
// a Reconciler over them with bounded concurrency, following controller-runtime:
// errors are retried with rate-limited backoff (never dropped), requeueAfter is
// honoured, success forgets the key's failure history.
import { randomUUID } from 'node:crypto';
import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { realClock, type Clock } from './clock.js';
import { errorMessage, isPanic, isTerminalError } from './errors.js';
import type { RateLimiter } from './ratelimiter.js';
import type { EventSource } from './source.js';
import type { WatchOptions } from './predicates.js';
import { WorkQueue } from './workqueue.js';
import { perRegistry } from './metrics.js';

export interface Request {
  namespace: string;
  name: string;
}

export interface Result {
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  signal: AbortSignal;
  log: Logger;
  reconcileId: string;
  /**
   * How many reconciles of this key failed in a row before this one (0 after
   * a success or a terminal error): the rate limiter's requeue count, so a
   * reconciler can report a failure that persists while the retries go on.
   */
  failures: number;
}

export interface Reconciler {
  reconcile(req: Request, ctx: ReconcileContext): Promise<Result | void>;
}

export type MapFunc<T extends KubernetesObject> = (obj: T) => Request[];

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  logger: Logger;
  /** Controller and workqueue metrics go here; none without a registry. */
  registry?: Registry;
  clock?: Clock;
  /** Workers running reconciles in parallel; one key is still never reconciled twice at once. */
  maxConcurrentReconciles?: number;
  rateLimiter?: RateLimiter<string>;
}

export interface StopOptions {
  /** How long in-flight reconciles may run before they are aborted. Unbounded if omitted. */
  timeoutMs?: number;
  /** Abort in-flight reconciles at once (leadership lost). */
  abort?: boolean;
}

export const DEFAULT_MAX_CONCURRENT_RECONCILES = 1;

/** Without WatchOptions.coalesceMaxMs, a burst is cut after this many quiet periods. */
const DEFAULT_COALESCE_MAX_FACTOR = 5;

export const CONTROLLER_METRIC_NAMES = {
  reconcileTotal: 'controller_runtime_reconcile_total',
  reconcileErrors: 'controller_runtime_reconcile_errors_total',
  terminalReconcileErrors: 'controller_runtime_terminal_reconcile_errors_total',
  reconcilePanics: 'controller_runtime_reconcile_panics_total',
  reconcileTime: 'controller_runtime_reconcile_time_seconds',
  activeWorkers: 'controller_runtime_active_workers',
  maxConcurrentReconciles: 'controller_runtime_max_concurrent_reconciles',
  /** Ours, not controller-runtime's: which watch sends the keys, so queue adds can be attributed. */
  watchEnqueues: 'controller_watch_enqueues_total',
} as const;

/** Work queue key of a request: "namespace/name", or "name" when cluster-scoped (as client-go). */
export function requestKey(req: Request): string {
  return req.namespace ? `${req.namespace}/${req.name}` : req.name;
}

export function parseRequestKey(key: string): Request {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function requestForObject(obj: KubernetesObject): Request | undefined {
  const name = obj.metadata?.name;
  return name ? { namespace: obj.metadata?.namespace ?? '', name } : undefined;
}

/** "apps/v1" → "apps", "v1" → "" (the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * The request for `obj`'s controlling owner of the given kind. Like
 * controller-runtime, the owner's API group must match but not its version, and
 * the owner is assumed to live in the owned object's namespace.
 */
export function controllerOwnerRequest(obj: KubernetesObject, ownerKind: string, ownerApiVersion: string): Request | undefined {
  const refs: V1OwnerReference[] = obj.metadata?.ownerReferences ?? [];
  const ref = refs.find((r) => r.controller === true);
  if (!ref || ref.kind !== ownerKind || groupOf(ref.apiVersion) !== groupOf(ownerApiVersion)) return undefined;
  return { namespace: obj.metadata?.namespace ?? '', name: ref.name };
}

class ControllerMetricFamily {
  readonly total: Counter<'controller' | 'result'>;
  readonly errors: Counter<'controller'>;
  readonly terminalErrors: Counter<'controller'>;
  readonly panics: Counter<'controller'>;
  readonly time: Histogram<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly maxConcurrent: Gauge<'controller'>;
  readonly watchEnqueues: Counter<'controller' | 'source' | 'event'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.total = new Counter({ name: CONTROLLER_METRIC_NAMES.reconcileTotal, help: 'Total number of reconciliations per controller', labelNames: ['controller', 'result'], registers });
    this.errors = new Counter({ name: CONTROLLER_METRIC_NAMES.reconcileErrors, help: 'Total number of reconciliation errors per controller', labelNames: ['controller'], registers });
    this.terminalErrors = new Counter({
      name: CONTROLLER_METRIC_NAMES.terminalReconcileErrors,
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.panics = new Counter({ name: CONTROLLER_METRIC_NAMES.reconcilePanics, help: 'Total number of reconciliation panics per controller', labelNames: ['controller'], registers });
    this.time = new Histogram({
      name: CONTROLLER_METRIC_NAMES.reconcileTime,
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60],
      registers,
    });
    this.activeWorkers = new Gauge({ name: CONTROLLER_METRIC_NAMES.activeWorkers, help: 'Number of currently used workers per controller', labelNames: ['controller'], registers });
    this.watchEnqueues = new Counter({
      name: CONTROLLER_METRIC_NAMES.watchEnqueues,
      help: 'Keys a watch handed to the work queue (before the queue dedups or coalesces them), per source and event type',
      labelNames: ['controller', 'source', 'event'],
      registers,
    });
    this.maxConcurrent = new Gauge({ name: CONTROLLER_METRIC_NAMES.maxConcurrentReconciles, help: 'Maximum number of concurrent reconciles per controller', labelNames: ['controller'], registers });
  }
}

const controllerMetrics = perRegistry((registry) => new ControllerMetricFamily(registry));

type ControllerState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue<string>;
  private readonly reconciler: Reconciler;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly maxConcurrentReconciles: number;
  private readonly metrics: ControllerMetricFamily | undefined;
  private readonly sources: EventSource<KubernetesObject>[] = [];
  private readonly abortController = new AbortController();
  private readonly stopRequested: Promise<void>;
  private signalStopRequested: () => void = () => undefined;
  private workers: Promise<void>[] = [];
  private state: ControllerState = 'new';
  private activeWorkers = 0;

  constructor(options: ControllerOptions) {
    const maxConcurrent = options.maxConcurrentReconciles ?? DEFAULT_MAX_CONCURRENT_RECONCILES;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new RangeError(`controller ${options.name}: maxConcurrentReconciles must be a positive integer, got ${maxConcurrent}`);
    }
    this.name = options.name;
    this.reconciler = options.reconciler;
    this.logger = options.logger.child({ controller: options.name });
    this.clock = options.clock ?? realClock;
    this.maxConcurrentReconciles = maxConcurrent;
    this.queue = new WorkQueue<string>({ name: options.name, clock: this.clock, rateLimiter: options.rateLimiter, registry: options.registry });
    this.metrics = options.registry ? controllerMetrics(options.registry) : undefined;
    this.metrics?.maxConcurrent.set({ controller: this.name }, maxConcurrent);
    this.metrics?.activeWorkers.set({ controller: this.name }, 0);
    // Every series exists from the start (at 0), as in controller-runtime, so rates and alerts work before the first error.
    for (const result of ['success', 'error', 'requeue_after'] as const) this.metrics?.total.inc({ controller: this.name, result }, 0);
    for (const counter of [this.metrics?.errors, this.metrics?.terminalErrors, this.metrics?.panics]) counter?.inc({ controller: this.name }, 0);
    this.stopRequested = new Promise((resolve) => (this.signalStopRequested = resolve));
  }

  /** Reconciles the watched objects themselves. */
  for<T extends KubernetesObject>(source: EventSource<T>, options: WatchOptions<T> = {}): this {
    return this.watches(
      source,
      (obj) => {
        const req = requestForObject(obj);
        return req ? [req] : [];
      },
      options,
    );
  }

  /** Reconciles the controlling owner (of `ownerKind` in `ownerApiVersion`'s group) of the watched objects. */
  owns<T extends KubernetesObject>(source: EventSource<T>, ownerKind: string, ownerApiVersion: string, options: WatchOptions<T> = {}): this {
    return this.watches(
      source,
      (obj) => {
        const req = controllerOwnerRequest(obj, ownerKind, ownerApiVersion);
        return req ? [req] : [];
      },
      options,
    );
  }

  /** Reconciles whatever `mapFn` maps each event's object to, for the events every predicate lets through. */
  watches<T extends KubernetesObject>(source: EventSource<T>, mapFn: MapFunc<T>, options: WatchOptions<T> = {}): this {
    if (this.state !== 'new') throw new Error(`controller ${this.name}: watches must be set up before start()`);
    const predicates = options.predicates ?? [];
    const mapped = (obj: T): Request[] => {
      try {
        return mapFn(obj);
      } catch (err) {
        this.logger.error('event mapping failed; event ignored', { error: errorMessage(err), object: objectRef(obj) });
        return [];
      }
    };
    const coalesceMs = options.coalesceMs ?? 0;
    if (!(coalesceMs >= 0)) throw new RangeError(`controller ${this.name}: coalesceMs must be 0 or more, got ${coalesceMs}`);
    const coalesceMaxMs = options.coalesceMaxMs ?? coalesceMs * DEFAULT_COALESCE_MAX_FACTOR;
    const sourceName = options.name ?? 'unnamed';
    const enqueueAll = (requests: Request[], urgent: boolean, event: 'add' | 'update' | 'delete'): void => {
      // One add per distinct key: an update maps both its old and new object.
      const keys = new Set(requests.map(requestKey));
      if (keys.size > 0) this.metrics?.watchEnqueues.inc({ controller: this.name, source: sourceName, event }, keys.size);
      // Which event woke which key: what a "why did this reconcile run" question needs (debug only).
      if (keys.size > 0) this.logger.debug('enqueued', { source: sourceName, event, keys: [...keys], urgent });
      for (const key of keys) {
        if (coalesceMs > 0 && !urgent) this.queue.addCoalesced(key, coalesceMs, coalesceMaxMs);
        else this.queue.add(key);
      }
    };
    const isUrgent = (obj: T, old: T | undefined): boolean => {
      if (coalesceMs === 0 || !options.urgent) return false;
      try {
        return options.urgent(obj, old);
      } catch (err) {
        this.logger.error('urgency check failed; event coalesced', { error: errorMessage(err), object: objectRef(obj) });
        return false;
      }
    };
    source.addEventHandlers({
      onAdd: (obj) => {
        if (predicates.every((p) => p.create?.(obj) ?? true)) enqueueAll(mapped(obj), isUrgent(obj, undefined), 'add');
      },
      onUpdate: (obj, old) => {
        if (!predicates.every((p) => p.update?.(obj, old) ?? true)) return;
        // An update can change the mapping (e.g. owner references); the old target must hear too.
        enqueueAll(old === obj ? mapped(obj) : [...mapped(obj), ...mapped(old)], isUrgent(obj, old), 'update');
      },
      onDelete: (obj) => {
        if (predicates.every((p) => p.delete?.(obj) ?? true)) enqueueAll(mapped(obj), isUrgent(obj, undefined), 'delete');
      },
    });
    this.sources.push(source);
    return this;
  }

  enqueue(req: Request): void {
    this.queue.add(requestKey(req));
  }

  /**
   * Waits for every watched source to sync, then starts the workers. Resolves
   * once the workers run (or at once if stop() was called meanwhile).
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`controller ${this.name} was already started`);
    this.state = 'starting';
    this.logger.info('Starting Controller', { workerCount: this.maxConcurrentReconciles });
    const synced = Promise.all(this.sources.map((source) => source.synced)).then(() => true);
    const proceed = await Promise.race([synced, this.stopRequested.then(() => false)]);
    if (!proceed || this.state !== 'starting') return;
    this.state = 'running';
    this.logger.info('Starting workers', { workerCount: this.maxConcurrentReconciles });
    for (let i = 0; i < this.maxConcurrentReconciles; i++) this.workers.push(this.runWorker());
  }

  isRunning(): boolean {
    return this.state === 'running';
  }

  /**
   * Stops handing out work. In-flight reconciles either finish (within
   * timeoutMs, after which they are aborted) or are aborted at once. Resolves
   * when every worker is idle.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (this.state !== 'stopping' && this.state !== 'stopped') {
      this.state = 'stopping';
      this.signalStopRequested();
      this.queue.shutDown();
      this.logger.info('Stopping controller', { abort: options.abort ?? false, timeoutMs: options.timeoutMs });
    }
    const idle = Promise.all(this.workers).then(() => undefined);
    if (options.abort) {
      this.abortInFlight('controller stopped: in-flight reconciles aborted');
    } else if (options.timeoutMs !== undefined && this.activeWorkers > 0) {
      let timer: unknown;
      const timedOut = new Promise<boolean>((resolve) => (timer = this.clock.setTimeout(() => resolve(true), options.timeoutMs ?? 0)));
      const expired = await Promise.race([idle.then(() => false), timedOut]);
      this.clock.clearTimeout(timer);
      if (expired) {
        this.logger.warn('in-flight reconciles did not finish in time; aborting them', { timeoutMs: options.timeoutMs, activeWorkers: this.activeWorkers });
        this.abortInFlight('controller stop timed out: in-flight reconciles aborted');
      }
    }
    await idle;
    this.state = 'stopped';
  }

  private abortInFlight(reason: string): void {
    if (!this.abortController.signal.aborted) this.abortController.abort(new Error(reason));
  }

  private async runWorker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(key: string): Promise<void> {
    const req = parseRequestKey(key);
    const reconcileId = randomUUID();
    const log = this.logger.child({ namespace: req.namespace, name: req.name, reconcileID: reconcileId });
    const startedAt = this.clock.now();
    this.activeWorkers++;
    this.metrics?.activeWorkers.inc({ controller: this.name });
    try {
      const failures = this.queue.numRequeues(key);
      const result = await this.reconciler.reconcile(req, { signal: this.abortController.signal, log, reconcileId, failures });
      const requeueAfterMs = result?.requeueAfterMs;
      this.queue.forget(key);
      if (requeueAfterMs !== undefined && requeueAfterMs > 0) {
        this.queue.addAfter(key, requeueAfterMs);
        this.countResult('requeue_after');
        log.debug('Reconcile done, requeueing', { durationMs: this.clock.now() - startedAt, requeueAfterMs });
      } else {
        this.countResult('success');
        log.debug('Reconcile done', { durationMs: this.clock.now() - startedAt });
      }
    } catch (err) {
      this.countResult('error');
      this.metrics?.errors.inc({ controller: this.name });
      if (isTerminalError(err)) {
        // Retrying cannot help: forget the key's backoff and wait for the object to change.
        this.queue.forget(key);
        this.metrics?.terminalErrors.inc({ controller: this.name });
        log.error('Reconciler error (terminal; not requeued)', { error: errorMessage(err), durationMs: this.clock.now() - startedAt });
      } else {
        // Never drop a failed key: it comes back with per-key backoff (a no-op once shut down).
        // A programming error (controller-runtime's panic) is counted, then retried alike.
        if (isPanic(err)) this.metrics?.panics.inc({ controller: this.name });
        this.queue.addRateLimited(key);
        log.error(isPanic(err) ? 'Reconciler panic' : 'Reconciler error', {
          error: errorMessage(err),
          ...(isPanic(err) && err instanceof Error ? { stack: err.stack } : {}),
          durationMs: this.clock.now() - startedAt,
          requeues: this.queue.numRequeues(key),
        });
      }
    } finally {
      this.activeWorkers--;
      this.metrics?.activeWorkers.dec({ controller: this.name });
      this.metrics?.time.observe({ controller: this.name }, (this.clock.now() - startedAt) / 1000);
    }
  }

  private countResult(result: 'success' | 'error' | 'requeue_after'): void {
    this.metrics?.total.inc({ controller: this.name, result });
  }
}


function objectRef(obj: KubernetesObject): string {
  return `${obj.kind ?? '?'} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? '?'}`;
}
