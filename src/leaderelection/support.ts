// Shared plumbing for the leader-election implementations: per-request
// timeouts on client-node calls, API error codes, the leader gauge, logging.

import {
  Observable,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { Gauge, type Registry } from 'prom-client';
import winston from 'winston';
import type { LeaderElection } from '../runtime/manager.js';
import type { Clock } from './clock.js';

/** The subset of a winston Logger used here. */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  debug(message: string, meta?: Record<string, unknown>): unknown;
}

export function defaultLogger(component: string): Logger {
  return winston.createLogger({
    level: 'info',
    defaultMeta: { logger: component },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}

/** The callbacks and contract come from the manager that drives election. */
export type { LeaderCallbacks } from '../runtime/manager.js';

/** What the manager drives; implemented by LeaseElector and LeaderForLife. */
export interface LeaderElector extends LeaderElection {
  isLeader(): boolean;
  stop(): void;
}

/** Per-call client-node options that attach an AbortSignal to the HTTP request. */
export function signalOptions(signal: AbortSignal): ConfigurationOptions {
  const mw: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
  };
  return { middleware: [mw], middlewareMergeStrategy: 'append' };
}

export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
}

/**
 * Runs one API call with a hard timeout (on `clock`) and an optional outer
 * signal. The HTTP request is aborted on either, and the returned promise
 * settles even if the client library ignores the abort.
 */
export async function callWithTimeout<T>(
  clock: Clock,
  timeoutMs: number,
  what: string,
  fn: (options: ConfigurationOptions) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  const ctl = new AbortController();
  let rejectEarly: (err: Error) => void = () => undefined;
  const early = new Promise<never>((_, reject) => {
    rejectEarly = reject;
  });
  const timer = clock.setTimeout(() => {
    const err = new RequestTimeoutError(`${what}: timed out after ${timeoutMs}ms`);
    ctl.abort(err);
    rejectEarly(err);
  }, timeoutMs);
  const onOuter = (): void => {
    const err = new Error(`${what}: aborted`);
    ctl.abort(err);
    rejectEarly(err);
  };
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  try {
    const call = fn(signalOptions(ctl.signal));
    call.catch(() => undefined); // a late rejection after the race must not go unhandled
    return await Promise.race([call, early]);
  } finally {
    clock.clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}

/** HTTP status of a client-node ApiException (or watch error), if any. */
export function statusCode(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export const LEADER_GAUGE_NAME = 'leader_election_master_status';

/** The `leader_election_master_status{name}` gauge in `registry`, created once per registry. */
export function leaderGauge(registry: Registry): Gauge<'name'> {
  const existing = registry.getSingleMetric(LEADER_GAUGE_NAME);
  if (existing) return existing as Gauge<'name'>;
  return new Gauge({
    name: LEADER_GAUGE_NAME,
    help: 'Gauge of whether this instance is the leader (1) or not (0), by lock name.',
    labelNames: ['name'],
    registers: [registry],
  });
}
