// A resilient informer over client-node's ListWatch. ListWatch keeps a watch
// open and relists on 410 Gone by itself, but on any other error it reports
// once and stops for good; a handler that throws is silently swallowed. This
// wrapper restarts it with capped exponential backoff, keeps its own cache so
// events carry the previous object and late subscribers get a replay, isolates
// handler failures, and re-delivers the cache periodically (resync). Its
// lists come in pages of 500 as plain JSON, each page transformed as it
// arrives (pagedlist.ts), not as one response deserialised into the client
// library's model classes.
import type { Informer as ClientInformer, KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { lazyLibraryInformer } from './libraryinformer.js';
import type { Logger } from './logger.js';
import { realClock, type Clock } from './clock.js';
import type { EventHandlers, EventSource } from './source.js';
import { errorMessage, statusCode } from './errors.js';
import { isResourceExpired, listAllPages, pageFetcher, type PagingOptions } from './pagedlist.js';
import { StreamingListInformer } from './watchlist.js';

export { isResourceExpired } from './pagedlist.js';

export interface ResourceDescriptor {
  /** "v1" for the core group, otherwise "group/version". */
  apiVersion: string;
  kind: string;
  /** Lower-case plural resource name, as in the URL ("deployments", "memcacheds"). */
  plural: string;
  namespaced: boolean;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

// Capped at 10 s rather than client-go's 30 s: after an apiserver outage the
// operator should be back within seconds, and a watch request is cheap.
export const DEFAULT_RESTART_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 10_000, factor: 2 };
export const DEFAULT_RESYNC_PERIOD_MS = 10 * 60 * 1000;

/** Pure: delay before restart number `consecutiveFailures` (1-based), capped. */
export function restartDelayMs(consecutiveFailures: number, policy: BackoffPolicy = DEFAULT_RESTART_BACKOFF): number {
  const exponent = Math.max(0, consecutiveFailures - 1);
  const delay = policy.initialMs * Math.pow(policy.factor, exponent);
  return Number.isFinite(delay) ? Math.min(delay, policy.maxMs) : policy.maxMs;
}

export interface RestartPlan {
  delayMs: number;
  /** Start from a fresh list instead of resuming the watch at the last resource version. */
  relist: boolean;
}

/**
 * Pure restart policy. An expired resource version can only be cured by a
 * relist, which is worth trying at once the first time; anything else resumes
 * the watch after a capped exponential backoff.
 */
export function planRestart(err: unknown, consecutiveFailures: number, policy: BackoffPolicy = DEFAULT_RESTART_BACKOFF): RestartPlan {
  if (isResourceExpired(err)) {
    return { relist: true, delayMs: consecutiveFailures <= 1 ? 0 : restartDelayMs(consecutiveFailures - 1, policy) };
  }
  return { relist: false, delayMs: restartDelayMs(consecutiveFailures, policy) };
}

/**
 * Failures a list/watch is expected to meet now and then, logged at info the
 * first times: 429, the apiserver's back-pressure, which it also answers
 * while a just-established CRD's storage initializes. Sustained, or any other
 * failure, is an error.
 */
export const THROTTLED_FAILURES_AT_INFO = 3;

export function restartLogLevel(err: unknown, consecutiveFailures: number): 'info' | 'error' {
  return statusCode(err) === 429 && consecutiveFailures < THROTTLED_FAILURES_AT_INFO ? 'info' : 'error';
}

/** URL path of a resource collection, optionally within one namespace. */
export function resourcePath(resource: ResourceDescriptor, namespace?: string): string {
  const root = resource.apiVersion.includes('/') ? `/apis/${resource.apiVersion}` : `/api/${resource.apiVersion}`;
  if (resource.namespaced && namespace) return `${root}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`;
  return `${root}/${resource.plural}`;
}

export type ListFunc<T extends KubernetesObject> = (namespace: string | undefined) => Promise<KubernetesListObject<T>>;

/** Builds the underlying client-node informer; replaceable so the wrapper can be exercised without a cluster. */
export type ClientInformerFactory<T extends KubernetesObject> = (
  path: string,
  listFn: () => Promise<KubernetesListObject<T>>,
  labelSelector: string | undefined,
) => ClientInformer<T>;

export interface InformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  resource: ResourceDescriptor;
  logger: Logger;
  /** Watch only these namespaces, one watch each. All namespaces when empty or omitted. */
  namespaces?: string[];
  labelSelector?: string;
  /** Period of re-delivering every cached object as an update; 0 disables. */
  resyncPeriodMs?: number;
  restartBackoff?: BackoffPolicy;
  clock?: Clock;
  listFn?: ListFunc<T>;
  clientInformerFactory?: ClientInformerFactory<T>;
  /**
   * How the first state arrives: "stream" (default) as WatchList events
   * (watchlist.ts), where the apiserver serves it, else in pages; "pages"
   * always lists in pages (pagedlist.ts). A custom listFn or
   * clientInformerFactory always lists.
   */
  initialList?: 'stream' | 'pages';
  /**
   * Applied to every object as it arrives (listed, page by page, or
   * watched), before it is cached or handed to a handler, like controller-runtime's cache
   * TransformFunc: strip what no reader needs (managedFields, see
   * stripManagedFields) to cut memory. Best done in place, returning the same
   * object: client-node's ListWatch keeps its own reference to it, which then
   * shrinks too. Must keep metadata.name, namespace and resourceVersion.
   */
  transform?: (obj: T) => T;
  /**
   * Called when a list or watch answers 404: the resource is no longer
   * served (its CRD was removed). When set, that answer is the caller's to
   * act on (OptionalInformer probes the API at once) and is logged at info,
   * not as a failure; the informer still retries after its backoff.
   */
  onNotFound?: () => void;
}

/** The usual transform: drops metadata.managedFields (server-side apply's bookkeeping, often most of an object's size), in place. */
export function stripManagedFields<T extends KubernetesObject>(obj: T): T {
  if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
  return obj;
}

function objectKey(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

function resourceVersionOf(obj: KubernetesObject): string | undefined {
  return obj.metadata?.resourceVersion;
}


interface StreamHost<T extends KubernetesObject> {
  readonly resource: ResourceDescriptor;
  readonly labelSelector: string | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly backoff: BackoffPolicy;
  readonly factory: ClientInformerFactory<T>;
  /** Set when the first state may arrive as a WatchList stream. */
  readonly streaming: { kubeConfig: KubeConfig; supported: { value: boolean } } | undefined;
  readonly listFn: ListFunc<T>;
  readonly transform: ((obj: T) => T) | undefined;
  readonly onNotFound: (() => void) | undefined;
  emitAdd(obj: T): void;
  emitUpdate(obj: T, old: T): void;
  emitDelete(obj: T): void;
  streamSynced(): void;
}

/** One list+watch (all namespaces, or one namespace) and its slice of the cache. */
class WatchStream<T extends KubernetesObject> {
  readonly objects = new Map<string, T>();
  private current: ClientInformer<T> | undefined;
  private consecutiveFailures = 0;
  private restartTimer: unknown;
  private errorSinceConnect = false;
  private stopped = false;
  private everSynced = false;
  private readonly log: Logger;

  constructor(
    private readonly host: StreamHost<T>,
    readonly namespace: string | undefined,
  ) {
    this.log = host.logger.child({ resource: host.resource.plural, ...(namespace ? { watchNamespace: namespace } : {}) });
  }

  start(): void {
    this.stopped = false;
    void this.connect(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer !== undefined) this.host.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const informer = this.current;
    this.current = undefined;
    if (informer) await this.stopQuietly(informer);
  }

  private async connect(fresh: boolean): Promise<void> {
    if (this.stopped) return;
    let informer = this.current;
    if (fresh || !informer) {
      const previous = informer;
      informer = this.createClientInformer();
      this.current = informer;
      if (previous) await this.stopQuietly(previous);
    }
    this.errorSinceConnect = false;
    try {
      await informer.start();
    } catch (err) {
      this.onError(informer, err);
    }
    if (!this.errorSinceConnect && informer === this.current && !this.stopped) {
      this.consecutiveFailures = 0;
      if (!this.everSynced) {
        this.everSynced = true;
        this.log.debug('informer synced', { objects: this.objects.size });
        this.host.streamSynced();
      }
    }
  }

  private createClientInformer(): ClientInformer<T> {
    const path = resourcePath(this.host.resource, this.namespace);
    let informer: ClientInformer<T> | undefined = undefined;
    const listFn = async (): Promise<KubernetesListObject<T>> => {
      // Listed objects arrive transformed (page by page on the default path).
      const list = await this.host.listFn(this.namespace);
      // Only the live informer may rewrite the cache; a replaced one could still be listing.
      if (informer === this.current) this.pruneMissing(list.items ?? []);
      return list;
    };
    informer = this.host.streaming ? this.streamingInformer(path, listFn, this.host.streaming) : this.host.factory(path, listFn, this.host.labelSelector);
    const own = informer;
    const live = (): boolean => own === this.current && !this.stopped;
    const transform = this.host.transform ?? ((obj: T) => obj);
    informer.on('add', (obj) => {
      if (live()) this.upsert(transform(obj));
    });
    informer.on('update', (obj) => {
      if (live()) this.upsert(transform(obj));
    });
    informer.on('delete', (obj) => {
      if (live()) this.remove(obj);
    });
    informer.on('error', (err) => this.onError(own, err));
    return informer;
  }

  private streamingInformer(path: string, listFn: () => Promise<KubernetesListObject<T>>, streaming: NonNullable<StreamHost<T>['streaming']>): ClientInformer<T> {
    const informer: ClientInformer<T> = new StreamingListInformer<T>({
      kubeConfig: streaming.kubeConfig,
      path,
      labelSelector: this.host.labelSelector,
      supported: streaming.supported,
      // Objects not in the stream's initial events were deleted while we were not watching.
      onListed: (keys) => {
        if (informer === this.current) this.pruneMissingKeys(keys);
      },
      fallback: () => this.host.factory(path, listFn, this.host.labelSelector),
      onUnsupported: (err) => this.log.info('the apiserver does not serve WatchList; listing in pages', { error: errorMessage(err) }),
    });
    return informer;
  }

  private onError(informer: ClientInformer<T>, err: unknown): void {
    // Errors from an informer we replaced or stopped on purpose (an aborted watch) are expected.
    if (informer !== this.current || this.stopped) return;
    this.errorSinceConnect = true;
    if (this.restartTimer !== undefined) return;
    this.consecutiveFailures++;
    const plan = planRestart(err, this.consecutiveFailures, this.host.backoff);
    const fields = { error: errorMessage(err), consecutiveFailures: this.consecutiveFailures, retryInMs: plan.delayMs, relist: plan.relist };
    if (statusCode(err) === 404 && this.host.onNotFound) {
      this.log.info('list/watch answered 404: the API may have gone away', fields);
      this.host.onNotFound();
    } else if (restartLogLevel(err, this.consecutiveFailures) === 'info') {
      this.log.info('list/watch throttled (429); restarting', fields);
    } else {
      this.log.error('list/watch failed; restarting', fields);
    }
    this.restartTimer = this.host.clock.setTimeout(() => {
      this.restartTimer = undefined;
      void this.connect(plan.relist);
    }, plan.delayMs);
  }

  private async stopQuietly(informer: ClientInformer<T>): Promise<void> {
    try {
      await informer.stop();
    } catch (err) {
      this.log.debug('stopping a replaced watch failed', { error: errorMessage(err) });
    }
  }

  private upsert(obj: T): void {
    const key = objectKey(obj);
    const old = this.objects.get(key);
    if (old && resourceVersionOf(old) !== undefined && resourceVersionOf(old) === resourceVersionOf(obj)) return;
    this.objects.set(key, obj);
    if (old) this.host.emitUpdate(obj, old);
    else this.host.emitAdd(obj);
  }

  private remove(obj: T): void {
    const key = objectKey(obj);
    const cached = this.objects.get(key);
    if (!cached) return;
    this.objects.delete(key);
    this.host.emitDelete(cached);
  }

  /** After a (re)list, objects that are no longer listed were deleted while we were not watching. */
  private pruneMissing(listed: T[]): void {
    this.pruneMissingKeys(new Set(listed.map(objectKey)));
  }

  private pruneMissingKeys(present: ReadonlySet<string>): void {
    for (const [key, obj] of [...this.objects]) {
      if (!present.has(key)) {
        this.objects.delete(key);
        this.host.emitDelete(obj);
      }
    }
  }
}

export class ResilientInformer<T extends KubernetesObject> implements EventSource<T> {
  readonly name: string;
  readonly resource: ResourceDescriptor;
  readonly synced: Promise<void>;
  private readonly streams: WatchStream<T>[];
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly resyncPeriodMs: number;
  private resyncTimer: unknown;
  private syncedStreams = 0;
  private resolveSynced: () => void = () => undefined;
  private started = false;

  constructor(options: InformerOptions<T>) {
    const namespaces = [...new Set(options.namespaces ?? [])].filter((ns) => ns !== '');
    if (!options.resource.namespaced && namespaces.length > 0) {
      throw new Error(`${options.resource.kind} is cluster-scoped; it cannot be watched in namespaces ${namespaces.join(', ')}`);
    }
    const resyncPeriodMs = options.resyncPeriodMs ?? DEFAULT_RESYNC_PERIOD_MS;
    if (!(resyncPeriodMs >= 0)) throw new RangeError(`resyncPeriodMs must be >= 0, got ${resyncPeriodMs}`);
    this.name = `${options.resource.plural}.${options.resource.apiVersion}`;
    this.resource = options.resource;
    this.clock = options.clock ?? realClock;
    this.logger = options.logger.child({ informer: options.resource.kind });
    this.resyncPeriodMs = resyncPeriodMs;
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));

    const kubeConfig = options.kubeConfig;
    const listFn: ListFunc<T> = options.listFn
      ? transformedListFunc(options.listFn, options.transform)
      : pagedListFunc<T>(kubeConfig, options.resource, { labelSelector: options.labelSelector, transform: options.transform, logger: this.logger });
    const factory: ClientInformerFactory<T> =
      options.clientInformerFactory ?? ((path, list, selector) => lazyLibraryInformer<T>(kubeConfig, path, list, selector));
    const host: StreamHost<T> = {
      resource: options.resource,
      labelSelector: options.labelSelector,
      clock: this.clock,
      logger: this.logger,
      backoff: options.restartBackoff ?? DEFAULT_RESTART_BACKOFF,
      factory,
      streaming:
        (options.initialList ?? 'stream') === 'stream' && !options.listFn && !options.clientInformerFactory
          ? { kubeConfig, supported: { value: true } }
          : undefined,
      listFn,
      transform: options.transform,
      onNotFound: options.onNotFound,
      emitAdd: (obj) => this.dispatch('onAdd', (h) => h.onAdd?.(obj), obj),
      emitUpdate: (obj, old) => this.dispatch('onUpdate', (h) => h.onUpdate?.(obj, old), obj),
      emitDelete: (obj) => this.dispatch('onDelete', (h) => h.onDelete?.(obj), obj),
      streamSynced: () => this.onStreamSynced(),
    };
    const scopes: (string | undefined)[] = namespaces.length > 0 ? namespaces : [undefined];
    this.streams = scopes.map((ns) => new WatchStream<T>(host, ns));
  }

  addEventHandlers(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
    for (const obj of this.list()) this.callSafely('onAdd', () => handlers.onAdd?.(obj), obj);
  }

  /** Starts listing and watching; returns at once (see `synced`). Errors never escape: they trigger restarts. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const stream of this.streams) stream.start();
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.resyncTimer !== undefined) this.clock.clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
    await Promise.all(this.streams.map((stream) => stream.stop()));
  }

  hasSynced(): boolean {
    return this.syncedStreams === this.streams.length;
  }

  get(namespace: string, name: string): T | undefined {
    const key = `${namespace}/${name}`;
    for (const stream of this.streams) {
      if (stream.namespace === undefined || stream.namespace === namespace) {
        const found = stream.objects.get(key);
        if (found) return found;
      }
    }
    return undefined;
  }

  list(namespace?: string): T[] {
    const result: T[] = [];
    for (const stream of this.streams) {
      if (namespace !== undefined && stream.namespace !== undefined && stream.namespace !== namespace) continue;
      for (const obj of stream.objects.values()) {
        if (namespace === undefined || (obj.metadata?.namespace ?? '') === namespace) result.push(obj);
      }
    }
    return result;
  }

  private onStreamSynced(): void {
    this.syncedStreams++;
    if (!this.hasSynced()) return;
    this.logger.info('informer synced', { objects: this.list().length });
    this.resolveSynced();
    this.scheduleResync();
  }

  private scheduleResync(): void {
    if (this.resyncPeriodMs === 0 || !this.started) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      this.resyncTimer = undefined;
      for (const obj of this.list()) this.dispatch('onUpdate', (h) => h.onUpdate?.(obj, obj), obj);
      this.scheduleResync();
    }, this.resyncPeriodMs);
  }

  private dispatch(event: string, call: (handlers: EventHandlers<T>) => void, obj: T): void {
    for (const handlers of this.handlers) this.callSafely(event, () => call(handlers), obj);
  }

  /** One faulty handler must neither break the watch nor starve the other handlers. */
  private callSafely(event: string, call: () => void, obj: T): void {
    try {
      call();
    } catch (err) {
      this.logger.error('event handler failed', { event, error: errorMessage(err), object: objectKey(obj) });
    }
  }
}

/** A caller's list function, with the informer's transform applied to what it returns. */
function transformedListFunc<T extends KubernetesObject>(listFn: ListFunc<T>, transform: ((obj: T) => T) | undefined): ListFunc<T> {
  if (!transform) return listFn;
  return async (namespace) => {
    const list = await listFn(namespace);
    if (list.items) list.items = list.items.map((item) => transform(item));
    return list;
  };
}

export interface PagedListOptions<T extends KubernetesObject> extends PagingOptions {
  labelSelector?: string;
  /** Applied to each item as its page arrives (see InformerOptions.transform). */
  transform?: (obj: T) => T;
  /** Where a list restarted on an expired continue token is reported. */
  logger?: Logger;
}

/**
 * The informer's list: pages of 500 as plain JSON (pagedlist.ts), each
 * item given its apiVersion and kind and transformed as its page arrives.
 */
export function pagedListFunc<T extends KubernetesObject>(kubeConfig: KubeConfig, resource: ResourceDescriptor, options: PagedListOptions<T> = {}): ListFunc<T> {
  const transform = options.transform ?? ((obj: T) => obj);
  // A list's items carry no apiVersion/kind (watch events do). Cached objects
  // must look the same whichever way they arrived, or a compare-before-apply
  // sees every listed child as different and rewrites it on every restart.
  const onPage = (items: unknown[]): T[] =>
    items.map((raw) => {
      const item = raw as T;
      item.apiVersion ??= resource.apiVersion;
      item.kind ??= resource.kind;
      return transform(item);
    });
  return async (namespace) => {
    const fetchPage = pageFetcher(kubeConfig, resourcePath(resource, namespace), options.labelSelector);
    const list = await listAllPages(fetchPage, onPage, {
      ...options,
      onRestart: (err, pages) => {
        options.onRestart?.(err, pages);
        options.logger?.info('list continue token expired; listing again from the first page', { resource: resource.plural, pages, error: errorMessage(err) });
      },
    });
    return { apiVersion: resource.apiVersion, kind: `${resource.kind}List`, metadata: { resourceVersion: list.resourceVersion }, items: list.items };
  };
}
