// The pure decision core of Lease-based leader election (no I/O, no clock).
//
// Expiry is judged only by THIS candidate's local clock, counted from the
// moment it last observed the lock record change (client-go's observedTime).
// The remote renewTime is never compared with the local clock, so clock skew
// between nodes cannot make a candidate take over a live lease early.

import type { Timings } from './config.js';

/** The leader-election fields of a coordination.k8s.io/v1 Lease spec. */
export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** MicroTime string, e.g. 2024-01-02T03:04:05.123000Z. */
  acquireTime?: string;
  /** MicroTime string. */
  renewTime?: string;
  leaseTransitions: number;
}

/** A lock as read from the API server. */
export interface ObservedLease {
  record: LeaseRecord;
  /** metadata.resourceVersion; any change of it is a change of the record. */
  resourceVersion: string;
}

/** What this candidate last saw, and when (by its own clock) it last saw it change. */
export interface Observation {
  record: LeaseRecord;
  /** resourceVersion plus the serialized record, so either changing counts. */
  fingerprint: string;
  /** Local clock (ms) at which this candidate first saw this exact record. */
  observedAt: number;
}

export type LeaseAction =
  | { kind: 'create'; record: LeaseRecord }
  | { kind: 'takeover'; reason: 'released' | 'expired'; record: LeaseRecord }
  | { kind: 'renew'; record: LeaseRecord }
  | { kind: 'wait'; holder: string; expiresInMs: number };

export interface DecideInput {
  /** The lock as read now, or undefined when it does not exist. */
  current: ObservedLease | undefined;
  /** This candidate's observation after folding `current` in (see observe()). */
  observation: Observation | undefined;
  now: number;
  identity: string;
  timings: Timings;
}

/** Formats local ms as a Kubernetes MicroTime string (microsecond precision, UTC). */
export function toMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

function fingerprint(lease: ObservedLease): string {
  const r = lease.record;
  return JSON.stringify([
    lease.resourceVersion,
    r.holderIdentity,
    r.leaseDurationSeconds,
    r.acquireTime ?? null,
    r.renewTime ?? null,
    r.leaseTransitions,
  ]);
}

/**
 * Folds a fresh read into the observation: the observation time moves to
 * `now` only when the record differs from what was last seen.
 */
export function observe(
  previous: Observation | undefined,
  current: ObservedLease | undefined,
  now: number,
): Observation | undefined {
  if (!current) return undefined;
  const fp = fingerprint(current);
  if (previous && previous.fingerprint === fp) return previous;
  return { record: { ...current.record }, fingerprint: fp, observedAt: now };
}

/** The lease duration in force for the current holder: its own declaration, else ours. */
export function effectiveLeaseMs(record: LeaseRecord, timings: Timings): number {
  return record.leaseDurationSeconds > 0 ? record.leaseDurationSeconds * 1000 : timings.leaseDurationMs;
}

function leaseSeconds(timings: Timings): number {
  return Math.max(1, Math.ceil(timings.leaseDurationMs / 1000));
}

/** Decides the next step for `identity` given the lock it just read. */
export function decide(input: DecideInput): LeaseAction {
  const { current, now, identity, timings } = input;
  const nowMicro = toMicroTime(now);
  if (!current) {
    return {
      kind: 'create',
      record: {
        holderIdentity: identity,
        leaseDurationSeconds: leaseSeconds(timings),
        acquireTime: nowMicro,
        renewTime: nowMicro,
        leaseTransitions: 0,
      },
    };
  }
  const rec = current.record;
  if (rec.holderIdentity === identity) {
    return {
      kind: 'renew',
      record: {
        ...rec,
        holderIdentity: identity,
        leaseDurationSeconds: leaseSeconds(timings),
        acquireTime: rec.acquireTime ?? nowMicro,
        renewTime: nowMicro,
      },
    };
  }
  const takeover = (reason: 'released' | 'expired'): LeaseAction => ({
    kind: 'takeover',
    reason,
    record: {
      holderIdentity: identity,
      leaseDurationSeconds: leaseSeconds(timings),
      acquireTime: nowMicro,
      renewTime: nowMicro,
      leaseTransitions: (rec.leaseTransitions > 0 ? rec.leaseTransitions : 0) + 1,
    },
  });
  if (!rec.holderIdentity) return takeover('released');
  // A record we have never observed counts as just observed: wait a full lease.
  const observedAt = input.observation?.observedAt ?? now;
  const expiresAt = observedAt + effectiveLeaseMs(rec, timings);
  if (now >= expiresAt) return takeover('expired');
  return { kind: 'wait', holder: rec.holderIdentity, expiresInMs: expiresAt - now };
}

/** How long after the lease expires (by the local clock) a waiting candidate tries to take it over. */
export const EXPIRY_MARGIN_MS = 20;

/**
 * The wait before a waiting candidate's next attempt: the jittered
 * RetryPeriod, but no later than just after the lease expires. client-go
 * polls on the RetryPeriod alone, so with jitter 1.2 a takeover can come up to
 * 2.2 × RetryPeriod after expiry; waking at expiry bounds the failover after a
 * crash by LeaseDuration plus one round trip. The lease is still only taken
 * once the local clock says it expired.
 */
export function nextAttemptDelay(jitteredRetryMs: number, expiresInMs: number | undefined): number {
  if (expiresInMs === undefined || !Number.isFinite(expiresInMs)) return jitteredRetryMs;
  return Math.max(0, Math.min(jitteredRetryMs, expiresInMs + EXPIRY_MARGIN_MS));
}

/** True when a leader whose last successful renewal started at `lastRenewAt` must step down. */
export function renewDeadlinePassed(lastRenewAt: number, now: number, timings: Timings): boolean {
  return now - lastRenewAt >= timings.renewDeadlineMs;
}

/**
 * Health of a leader (controller-runtime's healthz adaptor): unhealthy when it
 * believes it leads but its last successful renewal is older than
 * LeaseDuration + margin. Non-leaders are always healthy. Returns an error
 * message, or undefined when healthy.
 */
export function leaderHealthProblem(
  leading: boolean,
  lastRenewAt: number | undefined,
  now: number,
  timings: Timings,
  marginMs: number,
): string | undefined {
  if (!leading || lastRenewAt === undefined) return undefined;
  const since = now - lastRenewAt;
  if (since > timings.leaseDurationMs + marginMs) {
    return `leader election lease not renewed for ${Math.round(since / 1000)}s (> lease duration ${
      timings.leaseDurationMs / 1000
    }s + ${marginMs / 1000}s margin)`;
  }
  return undefined;
}
