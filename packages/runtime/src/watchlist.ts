// The informer's initial list as a stream (WatchList, as client-go's
// reflector does it): one watch with sendInitialEvents=true and
// resourceVersionMatch=NotOlderThan delivers every existing object as an
// ADDED event, one at a time, then a BOOKMARK annotated
// k8s.io/initial-events-end; from there it is the ordinary watch. No list
// response is ever held, in pages or whole. A resumed watch (after a
// timeout or the server closing it) continues from the last resource
// version; 410 Gone streams everything again.
//
// An apiserver that does not serve it (the WatchList feature off: 400 or
// 422 for sendInitialEvents) gets the paged list instead, for the life of
// the process.
import type { Informer as ClientInformer, KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { clientFor } from './client/shared.js';

export const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

/** Pure: the query of a watch that streams every object first (no resourceVersion yet), or resumes at one. */
export function watchQuery(resourceVersion: string | undefined, labelSelector?: string): Record<string, string> {
  const query: Record<string, string> = { allowWatchBookmarks: 'true' };
  if (labelSelector) query.labelSelector = labelSelector;
  if (resourceVersion === undefined) return { ...query, sendInitialEvents: 'true', resourceVersionMatch: 'NotOlderThan', resourceVersion: '' };
  return { ...query, resourceVersion };
}

/** Pure: the bookmark that closes the initial events. */
export function isInitialEventsEnd(type: string, obj: KubernetesObject | undefined): boolean {
  return type === 'BOOKMARK' && obj?.metadata?.annotations?.[INITIAL_EVENTS_END] === 'true';
}

function statusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; code?: unknown } | null;
  const code = e?.statusCode ?? e?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Pure: a failed streaming watch that means the apiserver does not serve WatchList (use the paged list). */
export function watchListUnsupported(err: unknown): boolean {
  const code = statusOf(err);
  return code === 400 || code === 422;
}

/** Pure: the pause before re-opening a watch that ended; grows while watches end without delivering anything. */
export function reopenDelayMs(previousMs: number, delivered: boolean): number {
  if (delivered) return 0;
  return previousMs > 0 ? Math.min(previousMs * 2, 30_000) : 1_000;
}

type Verb = 'add' | 'update' | 'delete' | 'error' | 'connect';
type Callback<T> = ((obj: T) => void) | ((err?: unknown) => void);

export interface StreamingListOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Collection URL path. */
  path: string;
  labelSelector?: string;
  /** After each complete set of initial events: the keys (namespace/name) it held, so the cache can drop the rest. */
  onListed(keys: ReadonlySet<string>): void;
  /** The paged list-then-watch informer, for an apiserver without WatchList. */
  fallback(): ClientInformer<T>;
  /** Told once when the apiserver turns out not to serve WatchList. */
  onUnsupported?(err: unknown): void;
  /** Remembered across informers of one resource: once unsupported, the fallback at once. */
  supported?: { value: boolean };
}

const keyOf = (obj: KubernetesObject): string => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;

/** client-node's Informer interface over a WatchList stream. */
export class StreamingListInformer<T extends KubernetesObject> implements ClientInformer<T> {
  private readonly callbacks: Record<Verb, Array<Callback<T>>> = { add: [], update: [], delete: [], error: [], connect: [] };
  private delegate: ClientInformer<T> | undefined;
  /** Where a resumed watch continues; undefined until the initial events have ended. */
  private resourceVersion: string | undefined;
  private controller: AbortController | undefined;
  private stopped = false;
  private delayMs = 0;
  private readonly supported: { value: boolean };

  constructor(private readonly options: StreamingListOptions<T>) {
    this.supported = options.supported ?? { value: true };
  }

  on(verb: 'add' | 'update' | 'delete' | 'change' | 'error' | 'connect', cb: Callback<T>): void {
    for (const v of verb === 'change' ? (['add', 'update', 'delete'] as const) : [verb]) {
      this.callbacks[v].push(cb);
      this.delegate?.on(v as 'add', cb);
    }
  }

  off(verb: 'add' | 'update' | 'delete' | 'change' | 'error' | 'connect', cb: Callback<T>): void {
    for (const v of verb === 'change' ? (['add', 'update', 'delete'] as const) : [verb]) {
      const list = this.callbacks[v];
      if (list.includes(cb)) list.splice(list.indexOf(cb), 1);
      this.delegate?.off(v as 'add', cb);
    }
  }

  async start(): Promise<void> {
    this.stopped = false;
    if (!this.supported.value) this.useFallback();
    if (this.delegate) return this.delegate.start();
    return new Promise<void>((resolve) => void this.open(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    this.controller = undefined;
    await this.delegate?.stop();
  }

  private emit(verb: Verb, arg?: unknown): void {
    for (const cb of this.callbacks[verb].slice()) (cb as (arg: unknown) => void)(arg);
  }

  private useFallback(): void {
    if (this.delegate) return;
    this.delegate = this.options.fallback();
    for (const [verb, list] of Object.entries(this.callbacks)) for (const cb of list) this.delegate.on(verb as 'add', cb);
  }

  /** Opens one watch; `live` resolves once it delivers current state (initial events ended, or resumed). */
  private async open(live: () => void): Promise<void> {
    // Streaming the initial events until their closing bookmark; from then on an ordinary watch.
    let initial = this.resourceVersion === undefined;
    const streaming = initial;
    const seen = new Set<string>();
    let delivered = false;
    let expired = false;
    this.emit('connect');
    const onEvent = (type: string, obj: T): void => {
      // The watch ends next; done() acts on it.
      if (type === 'ERROR') {
        expired ||= (obj as { code?: unknown }).code === 410;
        return;
      }
      delivered = true;
      if (type !== 'BOOKMARK') {
        if (initial) seen.add(keyOf(obj));
        this.emit(type === 'DELETED' ? 'delete' : type === 'ADDED' ? 'add' : 'update', obj);
      }
      const rv = obj?.metadata?.resourceVersion;
      if (initial && isInitialEventsEnd(type, obj)) {
        initial = false;
        this.resourceVersion = rv ?? '';
        this.options.onListed(seen);
        live();
      } else if (!initial && rv) {
        // A resumed watch continues after the last event delivered, never from the stream's end.
        this.resourceVersion = rv;
      }
    };
    const done = (err: unknown): void => void this.ended(expired ? Object.assign(new Error('resource version expired'), { code: 410 }) : err, streaming, delivered, live);
    const controller = new AbortController();
    this.controller = controller;
    const watching = clientFor(this.options.kubeConfig).watch(this.options.path, watchQuery(this.resourceVersion, this.options.labelSelector), (event) => onEvent(event.type, event.object as T), {
      signal: controller.signal,
      onOpen: () => {
        if (!streaming) live();
      },
    });
    if (this.stopped) controller.abort();
    await watching.then(() => done(null), done);
  }

  private async ended(err: unknown, streaming: boolean, delivered: boolean, live: () => void): Promise<void> {
    if (this.stopped) return live();
    const code = statusOf(err);
    if (streaming && this.resourceVersion === undefined && watchListUnsupported(err)) {
      this.supported.value = false;
      this.options.onUnsupported?.(err);
      this.useFallback();
      await this.delegate!.start();
      return live();
    }
    const timedOut = (err as { name?: string } | null)?.name === 'TimeoutError';
    if (code === 410) this.resourceVersion = undefined;
    else if (err && !timedOut) {
      // Anything else: the resilient informer above backs off and calls start() again.
      this.emit('error', err);
      return live();
    }
    // A client-side timeout already waited out its 30 s of silence: re-open at once, as ListWatch does.
    this.delayMs = reopenDelayMs(this.delayMs, delivered || timedOut);
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.stopped) return live();
    void this.open(live);
  }
}
