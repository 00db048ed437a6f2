// What a controller needs from an informer: event subscriptions and a sync
// signal. Kept separate from the client-node-backed informer so controllers can
// be driven by in-memory sources in tests.
import type { KubernetesObject } from '@kubernetes/client-node';

export interface EventHandlers<T extends KubernetesObject> {
  onAdd?(obj: T): void;
  /** `old` is the previously cached object; on a periodic resync it equals `obj`. */
  onUpdate?(obj: T, old: T): void;
  onDelete?(obj: T): void;
}

export interface EventSource<T extends KubernetesObject> {
  /**
   * Subscribes `handlers`. Objects already cached are replayed to onAdd, so a
   * late subscriber sees the same world as an early one.
   */
  addEventHandlers(handlers: EventHandlers<T>): void;
  /** Resolves once the initial list of every underlying watch has been cached. */
  readonly synced: Promise<void>;
  hasSynced(): boolean;
}
