// In-memory stand-ins for the runtime's I/O edges: an event source that tests
// drive by hand, and a logger that records entries instead of printing them.
import { Writable } from 'node:stream';
import type { KubernetesObject } from '@kubernetes/client-node';
import winston from 'winston';
import { yieldToEventLoop } from '../src/testing.js';
import type { EventHandlers, EventSource } from '../src/source.js';

export class FakeSource<T extends KubernetesObject> implements EventSource<T> {
  readonly synced: Promise<void>;
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly objects = new Map<string, T>();
  private isSynced = false;
  private resolveSynced: () => void = () => undefined;

  constructor(options: { synced?: boolean } = {}) {
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));
    if (options.synced ?? true) this.markSynced();
  }

  markSynced(): void {
    this.isSynced = true;
    this.resolveSynced();
  }

  hasSynced(): boolean {
    return this.isSynced;
  }

  addEventHandlers(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
    for (const obj of this.objects.values()) handlers.onAdd?.(obj);
  }

  upsert(obj: T): void {
    const key = keyOf(obj);
    const old = this.objects.get(key);
    this.objects.set(key, obj);
    for (const h of this.handlers) {
      if (old) h.onUpdate?.(obj, old);
      else h.onAdd?.(obj);
    }
  }

  delete(obj: T): void {
    this.objects.delete(keyOf(obj));
    for (const h of this.handlers) h.onDelete?.(obj);
  }
}

function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export interface LogEntry {
  level: string;
  message: string;
  [field: string]: unknown;
}

export function recordingLogger(): { logger: winston.Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const stream = new Writable({
    objectMode: true,
    write(info: LogEntry, _encoding, callback) {
      entries.push(info);
      callback();
    },
  });
  const logger = winston.createLogger({ level: 'debug', transports: [new winston.transports.Stream({ stream })] });
  return { logger, entries };
}

/** Lets chains of already-resolved promises (workers, handlers) run to quiescence. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await yieldToEventLoop();
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
