// Leader-election timings, their validation and the instance identity.
//
// Semantics follow client-go's leaderelection package: a candidate holds the
// lock for LeaseDuration, the leader gives up if it cannot renew within
// RenewDeadline, and candidates retry every RetryPeriod stretched by a random
// jitter of up to JitterFactor × RetryPeriod.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** All durations in milliseconds. */
export interface Timings {
  /** How long non-leaders wait, from their last observed change of the lock, before taking it over. */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it steps down. */
  renewDeadlineMs: number;
  /** Interval between acquire/renew attempts. */
  retryPeriodMs: number;
  /** Acquire retries wait retryPeriod + random × jitterFactor × retryPeriod. */
  jitterFactor: number;
}

/**
 * How validation messages name a timing. By default the field's own name; a
 * program that sets timings from flags or a config file passes the names its
 * users know them by.
 */
export type TimingLabel = (field: keyof Timings) => string;

const fieldName: TimingLabel = (field) => field;

/** client-go / controller-runtime defaults: 15 s / 10 s / 2 s, jitter 1.2. */
export const DEFAULT_TIMINGS: Readonly<Timings> = Object.freeze({
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  jitterFactor: 1.2,
});

/**
 * OpenShift library-go's single-node (SNO) timings: 270 s / 240 s / 60 s. They
 * tolerate a kube-apiserver rollout on a single control-plane node without the
 * operator losing its lease (library-go uses 137/107/26 s for HA; we keep
 * client-go's defaults there).
 */
export const SINGLE_REPLICA_TIMINGS: Readonly<Timings> = Object.freeze({
  leaseDurationMs: 270_000,
  renewDeadlineMs: 240_000,
  retryPeriodMs: 60_000,
  jitterFactor: 1.2,
});

export class LeaderElectionConfigError extends Error {
  override name = 'LeaderElectionConfigError';
}

function seconds(ms: number): string {
  return `${ms / 1000}s`;
}

function isPositive(n: number): boolean {
  return typeof n === 'number' && Number.isFinite(n) && n > 0;
}

/**
 * Throws LeaderElectionConfigError unless
 * LeaseDuration > RenewDeadline > JitterFactor × RetryPeriod and each is > 0.
 * Every problem found is reported, each naming the timing(s) involved as
 * label names them.
 */
export function validateTimings(t: Timings, label: TimingLabel = fieldName): Timings {
  const problems: string[] = [];
  for (const field of ['leaseDurationMs', 'renewDeadlineMs', 'retryPeriodMs'] as const) {
    if (!isPositive(t[field])) problems.push(`${label(field)} must be greater than zero (got ${seconds(t[field])})`);
  }
  if (!isPositive(t.jitterFactor)) problems.push(`${label('jitterFactor')} must be greater than zero (got ${t.jitterFactor})`);
  if (problems.length === 0) {
    const [lease, renew, retry] = [label('leaseDurationMs'), label('renewDeadlineMs'), label('retryPeriodMs')];
    if (t.leaseDurationMs <= t.renewDeadlineMs) {
      problems.push(`${lease} (${seconds(t.leaseDurationMs)}) must be greater than ${renew} (${seconds(t.renewDeadlineMs)})`);
    }
    const jittered = t.jitterFactor * t.retryPeriodMs;
    if (t.renewDeadlineMs <= jittered) {
      problems.push(
        `${renew} (${seconds(t.renewDeadlineMs)}) must be greater than ` +
          `${t.jitterFactor} × ${retry} (${t.jitterFactor} × ${seconds(t.retryPeriodMs)} = ${seconds(jittered)})`,
      );
    }
  }
  if (problems.length > 0) {
    throw new LeaderElectionConfigError(`invalid leader election timings: ${problems.join('; ')}`);
  }
  return t;
}

/**
 * The timings for a control-plane topology: library-go's SNO timings on
 * SingleReplica, client-go's defaults otherwise. Explicitly set values
 * (defined entries of `explicit`) always win. The result is validated, so an
 * explicit value that is inconsistent with the topology's other defaults is
 * reported (naming the timings as label does) rather than silently adjusted.
 */
export function timingsFor(
  topology: 'SingleReplica' | 'HighlyAvailable',
  explicit: Partial<Timings> = {},
  label: TimingLabel = fieldName,
): Timings {
  const base = topology === 'SingleReplica' ? SINGLE_REPLICA_TIMINGS : DEFAULT_TIMINGS;
  const merged: Timings = { ...base };
  for (const key of Object.keys(merged) as (keyof Timings)[]) {
    const v = explicit[key];
    if (v !== undefined) merged[key] = v;
  }
  return validateTimings(merged, label);
}

/** client-go's wait.Jitter: duration + random × factor × duration (factor ≤ 0 means 1). */
export function jittered(durationMs: number, factor: number, random: () => number = Math.random): number {
  const f = factor > 0 ? factor : 1;
  return durationMs + random() * f * durationMs;
}

/** A unique candidate identity: `<hostname>_<uuid>`, as controller-runtime builds it. */
export function newIdentity(host: string = hostname()): string {
  return `${host}_${randomUUID()}`;
}
