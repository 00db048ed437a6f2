// Lease-based leader election over a coordination.k8s.io/v1 Lease, with
// client-go's semantics plus a watch for fast handover.
//
// - Candidates GET the Lease and decide with the pure state machine in
//   leasestate.ts; writes use create / replace with the read resourceVersion,
//   so a 409 Conflict means another candidate won the round.
// - Expiry is judged by the local clock since the record last changed, never
//   by comparing the remote renewTime with the local clock.
// - While waiting, a watch on the Lease wakes the acquire loop ~100 ms after
//   the lease is released (empty holder) or deleted. If the watch fails, the
//   RetryPeriod poll still runs.
// - The leader renews every RetryPeriod; if no renewal succeeded for
//   RenewDeadline it steps down: the leader AbortSignal aborts and
//   onStoppedLeading is called. Every API call has its own timeout and the
//   deadline is a timer, so a hung API server cannot stall the step-down.

import type { KubeConfig, V1Lease, V1LeaseSpec, V1MicroTime } from '@kubernetes/client-node';
import type { ApiClient } from '../client/client.js';
import { clientFor } from '../client/shared.js';
import type { Gauge, Registry } from 'prom-client';
import { callWithDeadline } from '../call.js';
import { microTime } from '../events.js';
import { realClock, sleep, type Clock } from '../clock.js';
import { errorMessage, statusCode } from '../errors.js';
import { ApiEventRecorder, type EventRecorder } from '../events.js';
import { createLogger, type Logger } from '../logger.js';
import { DEFAULT_TIMINGS, jittered, newIdentity, validateTimings, type Timings } from './config.js';
import {
  decide,
  leaderHealthProblem,
  nextAttemptDelay,
  observe,
  renewDeadlinePassed,
  type LeaseRecord,
  type ObservedLease,
  type Observation,
} from './leasestate.js';
import { leaderGauge, type LeaderCallbacks, type LeaderElector } from './elector.js';

export * from './leasestate.js';

export interface LeaseElectorOptions {
  /** Where the API server is; all the I/O layer needs. */
  kubeConfig: KubeConfig;
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease (the election id). */
  name: string;
  /** Registry for `leader_election_master_status{name}`; injected, never the global one. */
  registry: Registry;
  /** Candidate identity; default `<hostname>_<uuid>`. */
  identity?: string;
  /** Validated on construction; default client-go's 15 s / 10 s / 2 s / 1.2. */
  timings?: Timings;
  logger?: Logger;
  clock?: Clock;
  /** Random source in [0, 1) for retry jitter. */
  random?: () => number;
  /** Timeout of each API call; must be shorter than RenewDeadline. Default min(5 s, RenewDeadline / 2). */
  requestTimeoutMs?: number;
  /** healthCheck() fails once the leader has not renewed for LeaseDuration + this. Default 20 s. */
  healthMarginMs?: number;
  /** Watch the Lease while waiting, for fast handover. Default true. */
  watch?: boolean;
  /** Delay before acquiring after seeing the lease released or deleted. Default 100 ms. */
  fastHandoverDelayMs?: number;
  /** events.k8s.io reportingController. Default "memcached-operator". */
  reportingController?: string;
}

type AttemptResult = 'held' | 'other' | 'conflict' | 'error';

const LEASE_API_VERSION = 'coordination.k8s.io/v1';

function microString(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (v instanceof Date) return microTime(v.getTime());
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The leader-election record of a Lease (typed object or raw watch JSON). */
export function leaseToObserved(lease: V1Lease): ObservedLease {
  const spec: Partial<V1LeaseSpec> = lease.spec ?? {};
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    record: {
      holderIdentity: spec.holderIdentity ?? '',
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: microString(spec.acquireTime),
      renewTime: microString(spec.renewTime),
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
  };
}

function recordToSpec(record: LeaseRecord): V1LeaseSpec {
  // Plain JSON: the MicroTime strings go on the wire as they are.
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: record.acquireTime as unknown as V1MicroTime,
    renewTime: record.renewTime as unknown as V1MicroTime,
    leaseTransitions: record.leaseTransitions,
  };
}

export class LeaseElector implements LeaderElector {
  readonly identity: string;
  readonly timings: Timings;
  readonly namespace: string;
  readonly name: string;

  private readonly leases: ApiClient;
  private readonly events: EventRecorder;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly requestTimeoutMs: number;
  private readonly healthMarginMs: number;
  private readonly watchEnabled: boolean;
  private readonly fastHandoverDelayMs: number;
  private readonly gauge: Gauge<'name'>;

  private stopCtl: AbortController | undefined;
  private runDone: Promise<void> | undefined;
  private leading = false;
  private everHeld = false;
  private lastRenewAt: number | undefined;
  private observation: Observation | undefined;
  /** From the last 'wait' decision: when the holder's lease expires by our clock. */
  private expiresInMs: number | undefined;
  private leaseUid: string | undefined;

  // Acquire-phase wake-ups (watch-driven fast handover).
  private acquiring = false;
  private wake: (() => void) | undefined;
  private pendingWake = false;
  private fastTimer: unknown;
  private currentWatch: { ctl?: AbortController; done: boolean } | undefined;
  private watchRetryTimer: unknown;

  constructor(opts: LeaseElectorOptions) {
    if (!opts.namespace) throw new Error('LeaseElector: namespace is required');
    if (!opts.name) throw new Error('LeaseElector: name (the election id) is required');
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.identity = opts.identity ?? newIdentity();
    this.timings = validateTimings({ ...(opts.timings ?? DEFAULT_TIMINGS) });
    this.requestTimeoutMs = opts.requestTimeoutMs ?? Math.min(5_000, this.timings.renewDeadlineMs / 2);
    if (!(this.requestTimeoutMs > 0 && this.requestTimeoutMs < this.timings.renewDeadlineMs)) {
      throw new Error(
        `LeaseElector: requestTimeoutMs (${this.requestTimeoutMs}) must be > 0 and shorter than the renew deadline (${this.timings.renewDeadlineMs})`,
      );
    }
    this.healthMarginMs = opts.healthMarginMs ?? 20_000;
    this.watchEnabled = opts.watch ?? true;
    this.fastHandoverDelayMs = opts.fastHandoverDelayMs ?? 100;
    this.log = opts.logger ?? createLogger().child({ logger: 'leaderelection' });
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.leases = clientFor(opts.kubeConfig);
    this.events = new ApiEventRecorder(opts.kubeConfig, {
      controller: opts.reportingController ?? 'memcached-operator',
      instance: this.identity,
      logger: this.log,
      // Every transition is worth recording, however close to the last one.
      seriesWindowMs: 0,
      requestTimeoutMs: this.requestTimeoutMs,
      clock: this.clock,
    });
    this.gauge = leaderGauge(opts.registry);
    this.gauge.set({ name: this.name }, 0);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * /healthz check: throws when this instance believes it leads but has not
   * renewed successfully for LeaseDuration + healthMargin.
   */
  healthCheck(): void {
    const problem = leaderHealthProblem(
      this.leading,
      this.lastRenewAt,
      this.clock.now(),
      this.timings,
      this.healthMarginMs,
    );
    if (problem) throw new Error(problem);
  }

  /**
   * Campaigns until leader, leads until leadership is lost or stop() is called,
   * then resolves. onStoppedLeading is called only when leadership is LOST
   * (renew deadline passed, or another holder seen); after stop() the leader
   * signal is aborted but onStoppedLeading is not called.
   */
  run(callbacks: LeaderCallbacks): Promise<void> {
    if (this.stopCtl) return Promise.reject(new Error('LeaseElector: run() is already in progress'));
    const stopCtl = new AbortController();
    this.stopCtl = stopCtl;
    const done = this.campaign(callbacks, stopCtl.signal).finally(() => {
      if (this.stopCtl === stopCtl) this.stopCtl = undefined;
    });
    this.runDone = done.catch(() => undefined);
    return done;
  }

  /** Stops campaigning / renewing; run() resolves. Does not release the lease: call release() for that. */
  stop(): void {
    this.stopCtl?.abort(new Error('leader election stopped'));
  }

  /**
   * Graceful hand-over: stops the loops if still running, then, if this
   * instance holds the Lease, writes holderIdentity "" with
   * leaseDurationSeconds 1 so another candidate can take over at once.
   * Call after the leader's work has stopped. Failures are logged, not thrown.
   */
  async release(): Promise<void> {
    this.stop();
    await this.runDone;
    if (!this.everHeld) return;
    try {
      const lease = await this.call('get lease', (signal) =>
        this.leases.get<V1Lease>(this.leasePath(), { signal }),
      );
      const current = leaseToObserved(lease);
      if (current.record.holderIdentity !== this.identity) {
        this.log.info('not releasing lease held by another candidate', {
          lease: this.name,
          holder: current.record.holderIdentity,
        });
        this.everHeld = false;
        return;
      }
      const now = this.clock.now();
      const released: LeaseRecord = {
        ...current.record,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: current.record.acquireTime,
        renewTime: microTime(now),
      };
      await this.call('release lease', (signal) =>
        this.leases.replace<V1Lease>(this.leasePath(), { ...lease, spec: { ...lease.spec, ...recordToSpec(released) } }, { signal }),
      );
      this.everHeld = false;
      this.log.info('released leader election lease', { lease: this.name, identity: this.identity });
    } catch (err) {
      this.log.warn('failed to release leader election lease', { lease: this.name, error: errorMessage(err) });
    }
  }

  // ---- campaign ----------------------------------------------------------

  private async campaign(callbacks: LeaderCallbacks, stop: AbortSignal): Promise<void> {
    this.log.info('attempting to acquire leader lease', {
      lease: `${this.namespace}/${this.name}`,
      identity: this.identity,
    });
    const acquired = await this.acquire(stop);
    if (!acquired) return;

    const leaderCtl = new AbortController();
    this.setLeading(true);
    this.log.info('successfully acquired lease', { lease: `${this.namespace}/${this.name}`, identity: this.identity });
    this.recordEvent('BecameLeader', `${this.identity} became leader`);
    try {
      callbacks.onStartedLeading(leaderCtl.signal);
    } catch (err) {
      this.log.error('onStartedLeading threw', { error: errorMessage(err) });
    }

    const outcome = await this.renewLoop(stop);
    this.setLeading(false);
    leaderCtl.abort(new Error(outcome === 'lost' ? 'leadership lost' : 'leader election stopped'));
    this.recordEvent('StoppedLeading', `${this.identity} stopped leading`);
    if (outcome === 'lost') {
      this.log.error('leader election lost', { lease: `${this.namespace}/${this.name}`, identity: this.identity });
      try {
        callbacks.onStoppedLeading();
      } catch (err) {
        this.log.error('onStoppedLeading threw', { error: errorMessage(err) });
      }
    } else {
      this.log.info('stopped leading (leader election stopped)', { lease: this.name });
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.gauge.set({ name: this.name }, leading ? 1 : 0);
  }

  private async acquire(stop: AbortSignal): Promise<boolean> {
    this.acquiring = true;
    this.pendingWake = false;
    if (this.watchEnabled) this.openWatch();
    try {
      for (;;) {
        if (stop.aborted) return false;
        const result = await this.attempt(stop);
        if (result === 'held') return true;
        if (stop.aborted) return false;
        const expiresInMs = this.expiresInMs;
        this.expiresInMs = undefined;
        const retryMs = jittered(this.timings.retryPeriodMs, this.timings.jitterFactor, this.random);
        await this.waitOrWake(nextAttemptDelay(retryMs, expiresInMs), stop);
      }
    } finally {
      this.acquiring = false;
      this.wake = undefined;
      this.clock.clearTimeout(this.fastTimer);
      this.fastTimer = undefined;
      this.closeWatch();
    }
  }

  /** Renews until stopped or lost. The renew deadline is a timer, independent of hung calls. */
  private async renewLoop(stop: AbortSignal): Promise<'lost' | 'stopped'> {
    const lostCtl = new AbortController();
    const active = AbortSignal.any([stop, lostCtl.signal]);
    let deadline: unknown;
    const armDeadline = (): void => {
      this.clock.clearTimeout(deadline);
      const remaining = (this.lastRenewAt ?? this.clock.now()) + this.timings.renewDeadlineMs - this.clock.now();
      deadline = this.clock.setTimeout(() => {
        this.log.warn('failed to renew lease within the renew deadline', {
          lease: this.name,
          renewDeadlineMs: this.timings.renewDeadlineMs,
        });
        lostCtl.abort();
      }, remaining);
    };
    armDeadline();
    try {
      for (;;) {
        if (!(await sleep(this.clock, this.timings.retryPeriodMs, active))) break;
        const result = await this.attempt(active);
        if (active.aborted) break;
        if (result === 'held') {
          armDeadline();
        } else if (result === 'other') {
          this.log.warn('lease is now held by another candidate', {
            lease: this.name,
            holder: this.observation?.record.holderIdentity,
          });
          lostCtl.abort();
          break;
        }
        // 'conflict' / 'error': retry next period until the deadline passes.
        if (renewDeadlinePassed(this.lastRenewAt ?? 0, this.clock.now(), this.timings)) {
          lostCtl.abort();
          break;
        }
      }
    } finally {
      this.clock.clearTimeout(deadline);
    }
    return stop.aborted ? 'stopped' : 'lost';
  }

  /** One client-go tryAcquireOrRenew: read, decide, write. */
  private async attempt(signal: AbortSignal): Promise<AttemptResult> {
    const started = this.clock.now();
    let lease: V1Lease | undefined;
    try {
      lease = await this.call(
        'get lease',
        (callSignal) => this.leases.get<V1Lease>(this.leasePath(), { signal: callSignal }),
        signal,
      );
    } catch (err) {
      if (statusCode(err) !== 404) {
        this.log.warn('error retrieving lease', { lease: this.name, error: errorMessage(err) });
        return 'error';
      }
    }
    const current = lease ? leaseToObserved(lease) : undefined;
    if (lease) this.leaseUid = lease.metadata?.uid;
    this.observation = observe(this.observation, current, this.clock.now());
    const action = decide({
      current,
      observation: this.observation,
      now: this.clock.now(),
      identity: this.identity,
      timings: this.timings,
    });
    try {
      let written: V1Lease;
      switch (action.kind) {
        case 'wait':
          this.expiresInMs = action.expiresInMs;
          this.log.debug('lease is held by another candidate', {
            lease: this.name,
            holder: action.holder,
            expiresInMs: action.expiresInMs,
          });
          return 'other';
        case 'create':
          written = await this.call(
            'create lease',
            (callSignal) =>
              this.leases.create<V1Lease>(
                this.leasesPath(),
                { apiVersion: LEASE_API_VERSION, kind: 'Lease', metadata: { name: this.name, namespace: this.namespace }, spec: recordToSpec(action.record) },
                { signal: callSignal },
              ),
            signal,
          );
          break;
        case 'takeover':
        case 'renew': {
          const base = lease as V1Lease;
          if (action.kind === 'takeover') {
            this.log.info('taking over lease', {
              lease: this.name,
              reason: action.reason,
              previousHolder: current?.record.holderIdentity,
            });
          }
          written = await this.call(
            `${action.kind} lease`,
            (callSignal) =>
              // metadata (with resourceVersion) as read: optimistic concurrency.
              this.leases.replace<V1Lease>(this.leasePath(), { ...base, spec: { ...base.spec, ...recordToSpec(action.record) } }, { signal: callSignal }),
            signal,
          );
          break;
        }
      }
      this.leaseUid = written.metadata?.uid ?? this.leaseUid;
      this.observation = observe(undefined, leaseToObserved(written), this.clock.now());
      this.lastRenewAt = started;
      this.everHeld = true;
      return 'held';
    } catch (err) {
      const code = statusCode(err);
      if (code === 409) {
        this.log.debug('lost a lease write race (409 Conflict)', { lease: this.name });
        return 'conflict';
      }
      this.log.warn('error writing lease', { lease: this.name, action: action.kind, error: errorMessage(err) });
      return 'error';
    }
  }

  private call<T>(
    what: string,
    fn: (callSignal: AbortSignal) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    return callWithDeadline(what, this.requestTimeoutMs, fn, { clock: this.clock, signal });
  }

  private leasesPath(): string {
    return `/apis/${LEASE_API_VERSION}/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  private leasePath(): string {
    return `${this.leasesPath()}/${encodeURIComponent(this.name)}`;
  }

  // ---- acquire-phase wake-ups and the watch -------------------------------

  private waitOrWake(ms: number, stop: AbortSignal): Promise<void> {
    if (this.pendingWake) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = (): void => {
        this.clock.clearTimeout(timer);
        stop.removeEventListener('abort', finish);
        if (this.wake === finish) this.wake = undefined;
        resolve();
      };
      const timer = this.clock.setTimeout(finish, ms);
      stop.addEventListener('abort', finish, { once: true });
      this.wake = finish;
    });
  }

  /** Schedules an acquire attempt shortly (fast handover), once. */
  private wakeSoon(why: string): void {
    if (!this.acquiring || this.fastTimer !== undefined) return;
    this.log.debug('lease became free; trying to acquire now', { lease: this.name, why });
    this.fastTimer = this.clock.setTimeout(() => {
      this.fastTimer = undefined;
      if (this.wake) this.wake();
      else this.pendingWake = true;
    }, this.fastHandoverDelayMs);
  }

  private onWatchEvent(type: string, obj: unknown): void {
    if (!this.acquiring) return;
    try {
      const lease = obj as V1Lease | undefined;
      if (type === 'ERROR' || type === 'BOOKMARK' || lease?.metadata?.name !== this.name) return;
      if (type === 'DELETED') {
        this.observation = undefined;
        this.wakeSoon('deleted');
        return;
      }
      const current = leaseToObserved(lease);
      this.observation = observe(this.observation, current, this.clock.now());
      if (!current.record.holderIdentity) this.wakeSoon('released');
    } catch (err) {
      this.log.debug('ignoring malformed lease watch event', { error: errorMessage(err) });
    }
  }

  private openWatch(): void {
    if (!this.acquiring || this.currentWatch) return;
    const w: { ctl?: AbortController; done: boolean } = { done: false };
    this.currentWatch = w;
    const path = this.leasesPath();
    const onDone = (err: unknown): void => {
      if (w.done) return;
      w.done = true;
      if (this.currentWatch !== w) return;
      this.currentWatch = undefined;
      if (!this.acquiring) return;
      if (err) this.log.debug('lease watch ended; polling continues', { error: errorMessage(err) });
      // Reopen later; the RetryPeriod poll covers the gap.
      const delay = err ? this.timings.retryPeriodMs : 1_000;
      this.watchRetryTimer = this.clock.setTimeout(() => {
        this.watchRetryTimer = undefined;
        this.openWatch();
      }, delay);
    };
    const ctl = new AbortController();
    w.ctl = ctl;
    void this.leases
      .watch(path, { fieldSelector: `metadata.name=${this.name}`, timeoutSeconds: 300 }, (event) => this.onWatchEvent(event.type, event.object), { signal: ctl.signal })
      .then(
        () => onDone(null),
        (err: unknown) => onDone(err ?? new Error('watch failed')),
      );
  }

  private closeWatch(): void {
    this.clock.clearTimeout(this.watchRetryTimer);
    this.watchRetryTimer = undefined;
    const w = this.currentWatch;
    this.currentWatch = undefined;
    if (w) {
      w.done = true;
      w.ctl?.abort();
    }
  }

  // ---- events ------------------------------------------------------------

  private recordEvent(action: string, note: string): void {
    const regarding = { apiVersion: LEASE_API_VERSION, kind: 'Lease', metadata: { name: this.name, namespace: this.namespace, uid: this.leaseUid } };
    this.events.event(regarding, 'Normal', 'LeaderElection', action, note);
  }
}
