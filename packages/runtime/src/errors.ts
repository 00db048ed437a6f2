// One errors module: what an error says, what the apiserver said (its Status),
// and which errors a controller must not retry.
//
// The rule for reconcilers: an apiserver 4xx on an object the operator built
// (400 BadRequest, 422 Invalid) is caused by the spec, not by the network.
// Retrying sends the same object and gets the same answer, so the reconciler
// reports it (status condition, Event) and returns a TerminalError; the
// object is reconciled again when it changes.

/** One line describing any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** The fields of a metav1.Status the runtime reads. */
export interface ApiStatus {
  code?: number;
  reason?: string;
  message?: string;
}

function statusBody(body: unknown): ApiStatus | undefined {
  if (typeof body === 'string') {
    try {
      return statusBody(JSON.parse(body));
    } catch {
      return undefined;
    }
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as { kind?: unknown; code?: unknown; reason?: unknown; message?: unknown };
  if (b.kind !== undefined && b.kind !== 'Status') return undefined;
  return {
    ...(typeof b.code === 'number' ? { code: b.code } : {}),
    ...(typeof b.reason === 'string' ? { reason: b.reason } : {}),
    ...(typeof b.message === 'string' ? { message: b.message } : {}),
  };
}

/**
 * The apiserver's Status for a failed call, if it sent one: the runtime
 * client's ApiError and client-node's ApiException both carry the HTTP
 * status as `code` and the answer as `body` (read by shape, so this module
 * does not load the client library).
 */
export function apiStatus(err: unknown): ApiStatus | undefined {
  if (typeof err !== 'object' || err === null || !('body' in err)) return undefined;
  const status = statusBody(err.body);
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? { ...status, code } : status;
}

/** HTTP status of a failed API call (ApiException, watch error or Status), if any. */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; status?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.status === 'number') return e.status;
  return apiStatus(err)?.code;
}

/** The apiserver's own words for a failed call, else the error's message. */
export function apiMessage(err: unknown): string {
  return apiStatus(err)?.message ?? errorMessage(err);
}

/**
 * True when the apiserver refused an object as malformed or invalid (400,
 * 422): sending it again cannot succeed.
 */
export function isRejectedObject(err: unknown): boolean {
  const code = statusCode(err);
  return code === 400 || code === 422;
}

/**
 * An error that retrying cannot fix, as controller-runtime's TerminalError:
 * the controller logs and counts it, forgets the key's backoff and does not
 * requeue it. The object is reconciled again on its next change (or resync).
 */
export class TerminalError extends Error {
  override name = 'TerminalError';
}

export function isTerminalError(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

/**
 * fetch (undici, under client-node 2, still used for exotic auth) reports a network failure, such as a
 * refused connection while the apiserver restarts, as TypeError("fetch
 * failed") with the system error as its cause: the network, not our code.
 */
function isNetworkFailure(err: unknown): boolean {
  return err instanceof TypeError && err.message === 'fetch failed' && err.cause !== undefined;
}

/** A programming error (the JS counterpart of a Go panic in a reconciler). */
export function isPanic(err: unknown): boolean {
  if (isNetworkFailure(err)) return false;
  return err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError || err instanceof SyntaxError;
}

/** An API call that got no answer within its deadline. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
}
