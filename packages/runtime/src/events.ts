// The one event recorder: events.k8s.io/v1 Events for the operator's objects
// and for leader election alike. Best effort, as in client-go: an Event that
// cannot be written is logged, never retried into the reconcile, and never
// fails it. Identical events for one object within a window are dropped so a
// flapping condition cannot flood the apiserver.
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { callWithDeadline } from './call.js';
import { realClock, type Clock } from './clock.js';
import { errorMessage } from './errors.js';
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
  /** Identical events for the same object within this window are dropped. Default 10 min; 0 keeps all. */
  dedupeWindowMs?: number;
  /** Deadline of each create. Default 10 s. */
  requestTimeoutMs?: number;
  clock?: Clock;
}

const MAX_NOTE = 1024;

export class ApiEventRecorder implements EventRecorder {
  private readonly api: k8s.EventsV1Api;
  private readonly recent = new Map<string, number>();
  private readonly window: number;
  private readonly clock: Clock;
  private readonly requestTimeoutMs: number;

  constructor(
    kc: k8s.KubeConfig,
    private readonly options: ApiEventRecorderOptions,
  ) {
    this.api = kc.makeApiClient(k8s.EventsV1Api);
    this.window = options.dedupeWindowMs ?? 10 * 60_000;
    this.clock = options.clock ?? realClock;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  event(regarding: k8s.KubernetesObject, type: EventType, reason: string, action: string, note: string): void {
    const meta = regarding.metadata ?? {};
    const key = `${meta.uid ?? meta.namespace + '/' + meta.name}|${type}|${reason}|${note}`;
    const now = this.clock.now();
    const last = this.recent.get(key);
    if (this.window > 0 && last !== undefined && now - last < this.window) return;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) this.prune(now);

    const namespace = meta.namespace ?? 'default';
    const body: k8s.EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      // client-go's naming: <regarding name>.<unique hex suffix>.
      metadata: { name: `${meta.name ?? 'object'}.${randomBytes(8).toString('hex')}`, namespace },
      eventTime: new k8s.V1MicroTime(now),
      type,
      reason,
      action,
      note: note.length > MAX_NOTE ? note.slice(0, MAX_NOTE - 3) + '...' : note,
      reportingController: this.options.controller,
      reportingInstance: this.options.instance.slice(0, 128),
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
      },
    };
    callWithDeadline('create event', this.requestTimeoutMs, (o) => this.api.createNamespacedEvent({ namespace, body }, o), { clock: this.clock }).catch(
      (err: unknown) => {
        this.options.logger.warn('could not record event', { reason, object: `${namespace}/${meta.name}`, error: errorMessage(err) });
      },
    );
  }

  private prune(now: number): void {
    for (const [key, at] of this.recent) if (now - at >= this.window) this.recent.delete(key);
  }
}
