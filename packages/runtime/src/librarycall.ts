// For the calls still made through the client library (the leader
// election's and the operator's, until they move to client/): the per-call
// options that attach callWithDeadline's AbortSignal to the HTTP request.
import { Observable, type ConfigurationOptions, type ObservableMiddleware, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

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
