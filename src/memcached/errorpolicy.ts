// The Memcached controller's error policy, in one place (kube-rs calls this
// the error_policy): what a failed write of a child means for the reconcile
// and for status. Pure and table-tested; the reconciler only applies it.
//
//   rejected      400 or 422: the apiserver refused an object built from the
//                 spec. Sending it again gets the same answer, so: Degraded
//                 (ChildRejected), a Warning Event, and a terminal error; the
//                 Memcached is reconciled again when it changes.
//   api going away  404 on an optional API (prometheus-operator's kinds), or
//                 a 403 saying its CRD is terminating: nothing to write, not
//                 an error. The informer's probe sees the API go.
//   transient     anything else (a 5xx such as a full Service IP range, a
//                 quota's 403, a conflict, a timeout, the network): retried
//                 with the controller's backoff, quietly at first; once it has
//                 failed FAILURES_BEFORE_DEGRADED times in a row it shows as
//                 Degraded (ChildWriteFailing) with the apiserver's message,
//                 while the retries go on. A write that succeeds clears it.
import { apiMessage, isRejectedObject, statusCode } from '@memcached-operator/runtime';
import { REASON } from './status.js';

export type WriteErrorClass = 'rejected' | 'apiGoingAway' | 'transient';

/**
 * Consecutive failed reconciles of one Memcached before its status says so.
 * The controller's backoff doubles from 5 ms, so the third failure comes a
 * fraction of a second after the first: a lasting failure shows at once,
 * while a one-off (a conflict, a dropped connection) that the next retry
 * fixes never flips Degraded and back.
 */
export const FAILURES_BEFORE_DEGRADED = 3;

/** One failed write: which object, whether its API is optional, and what was thrown. */
export interface WriteFailure {
  kind: string;
  name: string;
  optionalApi: boolean;
  error: unknown;
}

/** What the reconcile does about its failed writes. */
export type Verdict =
  /** Report Degraded with this reason and message, then stop retrying until the Memcached changes. */
  | { then: 'terminal'; reason: typeof REASON.ChildRejected; message: string }
  /** Retry with backoff; with a reason, report Degraded first. */
  | { then: 'retry'; error: unknown; reason?: typeof REASON.ChildWriteFailing; message?: string };

/** A write refused because its API is no longer served (404) or its CRD is terminating (403 that says so). */
function apiGoingAway(err: unknown): boolean {
  const code = statusCode(err);
  return code === 404 || (code === 403 && /custom resource definition is terminating/.test(apiMessage(err)));
}

export function classifyWriteError(err: unknown, optionalApi: boolean): WriteErrorClass {
  if (isRejectedObject(err)) return 'rejected';
  if (optionalApi && apiGoingAway(err)) return 'apiGoingAway';
  return 'transient';
}

/**
 * The verdict on one reconcile's failed writes, given how many reconciles of
 * this Memcached failed in a row before it. Undefined: nothing failed that
 * matters (every failure was an optional API going away).
 */
export function verdictOn(failures: readonly WriteFailure[], failuresBefore: number): Verdict | undefined {
  const classified = failures.map((f) => ({ ...f, class: classifyWriteError(f.error, f.optionalApi) }));
  const rejected = classified.find((f) => f.class === 'rejected');
  if (rejected) {
    return { then: 'terminal', reason: REASON.ChildRejected, message: `the apiserver rejected ${rejected.kind} ${rejected.name}: ${apiMessage(rejected.error)}` };
  }
  const transient = classified.find((f) => f.class === 'transient');
  if (!transient) return undefined;
  if (failuresBefore + 1 < FAILURES_BEFORE_DEGRADED) return { then: 'retry', error: transient.error };
  // No count in the message: it would change on every retry, and so would the status.
  const message = `writing ${transient.kind} ${transient.name} keeps failing; retrying with backoff: ${apiMessage(transient.error)}`;
  return { then: 'retry', error: transient.error, reason: REASON.ChildWriteFailing, message };
}
