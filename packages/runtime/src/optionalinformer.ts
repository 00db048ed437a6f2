// An informer for a kind whose API may not be served (a CRD installed, or
// removed, while the operator runs: prometheus-operator's PodMonitor and
// PrometheusRule, OpenShift's Infrastructure). It probes for the API, watches
// it while it is served, and drops its cache when the API goes away, telling
// listeners each time; the operator never needs a restart. A missing API,
// missing RBAC or an apiserver outage is logged once per change and never
// thrown.
import type * as k8s from '@kubernetes/client-node';
import { realClock, type Clock } from './clock.js';
import { errorMessage, statusCode } from './errors.js';
import { ResilientInformer, type InformerOptions, type ResourceDescriptor } from './informer.js';
import type { Logger } from './logger.js';
import type { EventHandlers, EventSource } from './source.js';

export type OptionalApiState = 'unknown' | 'absent' | 'forbidden' | 'present';

/** Pure: what a probe's outcome (an HTTP status code, or undefined for success) says about the API. */
export function probeOutcome(code: number | undefined, previous: OptionalApiState): OptionalApiState {
  if (code === undefined) return 'present';
  if (code === 404) return 'absent';
  if (code === 401 || code === 403) return 'forbidden';
  // Unreachable apiserver: keep what we knew (absent if nothing yet).
  return previous === 'unknown' ? 'absent' : previous;
}

export interface OptionalInformerOptions<T extends k8s.KubernetesObject> extends InformerOptions<T> {
  /** Lists at most one object of the resource; rejects with the API error (404 when the API is not served). */
  probe: () => Promise<unknown>;
  /** How often to look again, whether the API is served or not. */
  probeIntervalMs?: number;
}

export class OptionalInformer<T extends k8s.KubernetesObject> implements EventSource<T> {
  readonly resource: ResourceDescriptor;
  readonly synced: Promise<void>;
  private resolveSynced: () => void = () => undefined;
  private state: OptionalApiState = 'unknown';
  private informer: ResilientInformer<T> | undefined;
  private readonly handlers: EventHandlers<T>[] = [];
  private readonly listeners: Array<(present: boolean) => void> = [];
  private readonly logger: Logger;
  private readonly clock: Clock;
  private timer: unknown;
  private stopped = false;
  private started = false;

  constructor(private readonly options: OptionalInformerOptions<T>) {
    this.resource = options.resource;
    this.logger = options.logger.child({ optionalApi: options.resource.kind });
    this.clock = options.clock ?? realClock;
    this.synced = new Promise((resolve) => (this.resolveSynced = resolve));
  }

  /** Handlers survive the API going away and coming back: each new watch replays its objects to them. */
  addEventHandlers(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
    this.informer?.addEventHandlers(handlers);
  }

  /**
   * Called with true once the API is served and its objects are cached, and
   * with false whenever it is found not usable (absent or forbidden),
   * including when it goes away.
   */
  onChange(listener: (present: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** What the last probe found. */
  apiState(): OptionalApiState {
    return this.state;
  }

  isPresent(): boolean {
    return this.state === 'present' && this.informer !== undefined && this.informer.hasSynced();
  }

  hasSynced(): boolean {
    return this.state !== 'unknown' && (this.informer?.hasSynced() ?? true);
  }

  get(namespace: string, name: string): T | undefined {
    return this.informer?.get(namespace, name);
  }

  list(namespace?: string): T[] {
    return this.informer?.list(namespace) ?? [];
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.check();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const informer = this.informer;
    this.informer = undefined;
    await informer?.stop();
  }

  private async check(): Promise<void> {
    let code: number | undefined;
    try {
      await this.options.probe();
    } catch (err) {
      code = statusCode(err) ?? 0;
      if (code === 0) this.logger.warn('cannot reach the apiserver to look for the API; will retry', { error: errorMessage(err) });
    }
    if (this.stopped) return;
    const next = probeOutcome(code, this.state);
    const previous = this.state;
    this.state = next;
    const { apiVersion, plural } = this.resource;
    if (next !== previous) {
      if (next === 'present') this.logger.info(`the ${plural}.${apiVersion} API is served; watching it`);
      else if (next === 'forbidden') this.logger.warn(`RBAC forbids listing ${plural}.${apiVersion}; grant list/watch to use it`);
      else if (previous === 'present') this.logger.info(`the ${plural}.${apiVersion} API went away; stopped watching it`);
      else this.logger.info(`no ${plural}.${apiVersion} API; will look again`);
    }
    if (next === 'present' && !this.informer) {
      // A watch that answers 404 is the first to see a CRD removed: look now rather than at the next probe.
      const informer = new ResilientInformer<T>({ ...this.options, onNotFound: () => this.probeNow() });
      for (const handlers of this.handlers) informer.addEventHandlers(handlers);
      this.informer = informer;
      informer.start();
      void informer.synced.then(() => {
        if (this.informer !== informer || this.stopped) return;
        this.resolveSynced();
        this.notify(true);
      });
    } else if (next !== 'present' && this.informer) {
      const informer = this.informer;
      this.informer = undefined;
      await informer.stop();
    }
    if (next !== previous && next !== 'present' && !this.stopped) this.notify(false);
    if (next !== 'present') this.resolveSynced();
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.check();
    }, this.options.probeIntervalMs ?? 30_000);
  }

  /** Runs the next probe now, unless one is already under way. */
  private probeNow(): void {
    if (this.timer === undefined || this.stopped) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    void this.check();
  }

  private notify(present: boolean): void {
    for (const listener of this.listeners) {
      try {
        listener(present);
      } catch (err) {
        this.logger.error('optional API listener failed', { error: errorMessage(err) });
      }
    }
  }
}
