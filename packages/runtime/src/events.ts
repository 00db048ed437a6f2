// The one event recorder: events.k8s.io/v1 Events for the operator's objects
// and for leader election alike. Best effort, as in client-go: an Event that
// cannot be written is logged, never retried into the reconcile, and never
// fails it.
//
// Repeats are counted, as Kubernetes' own recorders do: an Event identical
// to one recorded for the same object within the series window becomes a
// series on that Event (series.count and series.lastObservedTime, sent as a
// merge patch), not a new Event and not a silent drop. A flapping condition
// costs at most one patch per series per patch interval, however often it
// flaps: the repeats in between are counted and sent together. The series
// cache is an LRU of bounded size.
import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import type { ApiClient } from './client/client.js';
import { clientFor } from './client/shared.js';
import { callWithDeadline } from './call.js';
import { realClock, type Clock } from './clock.js';
import { errorMessage, statusCode } from './errors.js';
import type { Logger } from './logger.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  /** `action` is what the operator did or failed to do (CamelCase), `note` the human-readable message. */
  event(regarding: k8s.KubernetesObject, type: EventType, reason: string, action: string, note: string): void;
}

export interface ApiEventRecorderOptions {
  /** events.k8s.io reportingController, e.g. "cache.example.com/memcached-operator". */
  controller: string;
  /** reportingInstance: this process's identity. */
  instance: string;
  logger: Logger;
  /**
   * An Event identical to one observed for the same object less than this
   * long ago is counted on that Event's series; after it, a new Event starts.
   * Default 10 min; 0 records every Event as its own.
   */
  seriesWindowMs?: number;
  /** At most one write per series in this interval; repeats in between go out together. Default 60 s. */
  seriesPatchIntervalMs?: number;
  /** Series remembered at most (least recently observed forgotten first). Default 4096, as client-go's. */
  maxSeries?: number;
  /** Deadline of each create or patch. Default 10 s. */
  requestTimeoutMs?: number;
  clock?: Clock;
}

const MAX_NOTE = 1024;

// ------------------------------------------------------------ correlation --

export interface SeriesPolicy {
  windowMs: number;
  patchIntervalMs: number;
  maxSeries: number;
}

export const DEFAULT_SERIES_POLICY: SeriesPolicy = { windowMs: 10 * 60_000, patchIntervalMs: 60_000, maxSeries: 4096 };

/** One Event and the occurrences counted on it. */
export interface EventSeries {
  readonly key: string;
  /** The Event's name and namespace, fixed when the series starts. */
  readonly name: string;
  readonly namespace: string;
  /** When the first occurrence was observed (the Event's eventTime). */
  readonly firstAt: number;
  /** Occurrences observed, the first included. */
  count: number;
  lastObservedAt: number;
  /** The count the apiserver has (0: the Event is not created yet). */
  sentCount: number;
  lastWriteAt: number;
  /** A create or patch is on its way or scheduled; the next waits for it. */
  pending: boolean;
}

export type SeriesWrite = { kind: 'create' } | { kind: 'patch' } | { kind: 'wait'; delayMs: number } | { kind: 'none' };

/** Pure: the Event's identity in the series cache. The note is part of it: a different message is a different Event. */
export function eventKey(regarding: k8s.KubernetesObject, type: EventType, reason: string, action: string, note: string): string {
  const meta = regarding.metadata ?? {};
  const object = meta.uid ?? `${regarding.apiVersion ?? ''}/${regarding.kind ?? ''}/${meta.namespace ?? ''}/${meta.name ?? ''}`;
  return JSON.stringify([object, type, reason, action, note]);
}

/** Pure: what to write for a series now, given what the apiserver already has. */
export function planSeriesWrite(series: EventSeries, now: number, policy: SeriesPolicy): SeriesWrite {
  if (series.pending) return { kind: 'none' };
  if (series.sentCount === 0) return { kind: 'create' };
  if (series.count <= series.sentCount) return { kind: 'none' };
  const dueAt = series.lastWriteAt + policy.patchIntervalMs;
  return now >= dueAt ? { kind: 'patch' } : { kind: 'wait', delayMs: dueAt - now };
}

/**
 * The series cache, without I/O: counts each occurrence on its series,
 * starts a new series after the window, and forgets the least recently
 * observed series beyond maxSeries.
 */
export class EventCorrelator {
  private readonly series = new Map<string, EventSeries>();

  constructor(private readonly policy: SeriesPolicy) {}

  get size(): number {
    return this.series.size;
  }

  /** Counts one occurrence: on its live series, or on a new one named by `place` (then `started` is true). */
  observe(key: string, now: number, place: () => { name: string; namespace: string }): { series: EventSeries; started: boolean } {
    const existing = this.series.get(key);
    this.series.delete(key);
    if (existing && this.policy.windowMs > 0 && now - existing.lastObservedAt < this.policy.windowMs) {
      existing.count++;
      existing.lastObservedAt = now;
      this.series.set(key, existing);
      return { series: existing, started: false };
    }
    const started: EventSeries = { key, ...place(), firstAt: now, count: 1, lastObservedAt: now, sentCount: 0, lastWriteAt: now, pending: false };
    if (this.policy.windowMs > 0) {
      this.series.set(key, started);
      for (const oldest of this.series.keys()) {
        if (this.series.size <= this.policy.maxSeries) break;
        this.series.delete(oldest);
      }
    }
    return { series: started, started: true };
  }

  /** The Event could not be created: forget the series, so the next occurrence tries a new one. */
  forget(series: EventSeries): void {
    if (this.series.get(series.key) === series) this.series.delete(series.key);
  }
}

/** Pure: a Kubernetes MicroTime (RFC 3339 with exactly six fractional digits). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Pure: the merge patch that brings an Event's series up to `count`. */
export function seriesPatch(count: number, lastObservedAt: number): { series: { count: number; lastObservedTime: string } } {
  return { series: { count, lastObservedTime: microTime(lastObservedAt) } };
}

// --------------------------------------------------------------- recorder --

/** Pure: the events.k8s.io/v1 collection of a namespace, or one Event in it. */
export function eventPath(namespace: string, name?: string): string {
  const collection = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}

/** An events.k8s.io/v1 Event as sent: plain JSON, its MicroTime fields already strings. */
type EventBody = Omit<k8s.EventsV1Event, 'eventTime' | 'series'> & { eventTime: string; series?: { count: number; lastObservedTime: string } };

interface Occurrence {
  regarding: k8s.KubernetesObject;
  type: EventType;
  reason: string;
  action: string;
  note: string;
}

export class ApiEventRecorder implements EventRecorder {
  private readonly api: ApiClient;
  private readonly correlator: EventCorrelator;
  private readonly policy: SeriesPolicy;
  private readonly clock: Clock;
  private readonly requestTimeoutMs: number;

  constructor(
    kc: k8s.KubeConfig,
    private readonly options: ApiEventRecorderOptions,
  ) {
    this.api = clientFor(kc);
    this.policy = {
      windowMs: options.seriesWindowMs ?? DEFAULT_SERIES_POLICY.windowMs,
      patchIntervalMs: options.seriesPatchIntervalMs ?? DEFAULT_SERIES_POLICY.patchIntervalMs,
      maxSeries: options.maxSeries ?? DEFAULT_SERIES_POLICY.maxSeries,
    };
    this.correlator = new EventCorrelator(this.policy);
    this.clock = options.clock ?? realClock;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  event(regarding: k8s.KubernetesObject, type: EventType, reason: string, action: string, note: string): void {
    const occurrence: Occurrence = { regarding, type, reason, action, note: note.length > MAX_NOTE ? note.slice(0, MAX_NOTE - 3) + '...' : note };
    const meta = regarding.metadata ?? {};
    const { series } = this.correlator.observe(eventKey(regarding, type, reason, action, occurrence.note), this.clock.now(), () => ({
      // client-go's naming: <regarding name>.<unique hex suffix>.
      name: `${meta.name ?? 'object'}.${randomBytes(8).toString('hex')}`,
      namespace: meta.namespace ?? 'default',
    }));
    this.flush(series, occurrence);
  }

  /** Writes what the series needs now, or once its patch interval has passed. */
  private flush(series: EventSeries, occurrence: Occurrence): void {
    const plan = planSeriesWrite(series, this.clock.now(), this.policy);
    if (plan.kind === 'none') return;
    series.pending = true;
    if (plan.kind === 'wait') {
      // One timer per waiting series: the repeats until it fires go out in one patch.
      const timer = this.clock.setTimeout(() => {
        series.pending = false;
        this.flush(series, occurrence);
      }, plan.delayMs);
      // A count still to send must not hold a stopping process open.
      (timer as { unref?: () => void } | undefined)?.unref?.();
      return;
    }
    const count = series.count;
    const write = plan.kind === 'create' ? this.create(series, occurrence, count) : this.patch(series, occurrence, count);
    void write.then((written) => {
      series.pending = false;
      if (!written) {
        if (series.sentCount === 0) this.correlator.forget(series);
        return;
      }
      series.sentCount = count;
      series.lastWriteAt = this.clock.now();
      this.flush(series, occurrence);
    });
  }

  private body(series: EventSeries, o: Occurrence, count: number): EventBody {
    const meta = o.regarding.metadata ?? {};
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: series.name, namespace: series.namespace },
      eventTime: microTime(series.firstAt),
      ...(count > 1 ? { series: { count, lastObservedTime: microTime(series.lastObservedAt) } } : {}),
      type: o.type,
      reason: o.reason,
      action: o.action,
      note: o.note,
      reportingController: this.options.controller,
      reportingInstance: this.options.instance.slice(0, 128),
      regarding: {
        apiVersion: o.regarding.apiVersion,
        kind: o.regarding.kind,
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
      },
    };
  }

  private async create(series: EventSeries, o: Occurrence, count: number): Promise<boolean> {
    const body = this.body(series, o, count);
    const { namespace } = series;
    try {
      await callWithDeadline('create event', this.requestTimeoutMs, (signal) => this.api.create(eventPath(namespace), body, { signal }), { clock: this.clock });
      return true;
    } catch (err) {
      this.warn(series, o, err);
      return false;
    }
  }

  /** Brings the Event's series up to `count`; an Event that is gone (its TTL passed) is created again with the series. */
  private async patch(series: EventSeries, o: Occurrence, count: number): Promise<boolean> {
    const { name, namespace } = series;
    const body = seriesPatch(count, series.lastObservedAt);
    try {
      await callWithDeadline('patch event', this.requestTimeoutMs, (signal) => this.api.patch(eventPath(namespace, name), 'merge', body, { signal }), {
        clock: this.clock,
      });
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return this.create(series, o, count);
      this.warn(series, o, err);
      return false;
    }
  }

  private warn(series: EventSeries, o: Occurrence, err: unknown): void {
    this.options.logger.warn('could not record event', { reason: o.reason, object: `${series.namespace}/${o.regarding.metadata?.name}`, error: errorMessage(err) });
  }
}
