// The public API of @memcached-operator/runtime. The operator imports only
// from here; everything else in the package is internal.

// Time, logs, errors, status conditions, API calls with a deadline, Events.
export { FakeClock, realClock, sleep, yieldToEventLoop, type Clock } from './clock.js';
export { createLogger, LOG_LEVELS, silentLogger, validateLogLevel, type Fields, type Logger } from './logger.js';
export {
  apiMessage,
  apiStatus,
  errorMessage,
  isPanic,
  isRejectedObject,
  isTerminalError,
  RequestTimeoutError,
  statusCode,
  TerminalError,
  type ApiStatus,
} from './errors.js';
export { apiTime, findCondition, isConditionTrue, setCondition, type Condition, type ConditionStatus, type ConditionUpdate } from './conditions.js';
export { callWithDeadline, signalOptions, type DeadlineOptions } from './call.js';
export { reuseConnections } from './connections.js';
export { ApiEventRecorder, type ApiEventRecorderOptions, type EventRecorder, type EventType } from './events.js';

// Caches, queues, controllers and the manager that runs them.
export { ResilientInformer, stripManagedFields, type BackoffPolicy, type InformerOptions, type ResourceDescriptor } from './informer.js';
export { metadataProjection, projectionChanged, resourceVersionChanged, stableJson, type Predicate, type WatchOptions } from './predicates.js';
export type { EventHandlers, EventSource } from './source.js';
// For informers whose objects are reduced before caching (the operator's Secret digests).
export type { ClientInformerFactory, ListFunc } from './informer.js';
// For kinds whose API may come and go while the operator runs (a CRD installed or removed).
export { OptionalInformer, type OptionalApiState, type OptionalInformerOptions } from './optionalinformer.js';
export {
  Controller,
  CONTROLLER_METRIC_NAMES,
  type ControllerOptions,
  type MapFunc,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
  type StopOptions,
} from './controller.js';
export { WORKQUEUE_METRIC_NAMES } from './workqueue.js';
export { installSignalHandlers, Manager, type CacheRunnable, type ManagerOptions, type Runnable } from './manager.js';
export type { HealthCheck } from './health.js';
export { ManagedHttpServer, parseBindAddress, type BindAddress, type TlsMaterial } from './httpserver.js';
export { MetricsServer, readCertDir, registerProcessMetrics, type MetricsServerOptions } from './metrics.js';
export {
  apiReviewClient,
  bearerToken,
  DEFAULT_AUTH_CACHE_TTL_MS,
  MetricsAuthorizer,
  type AuthDecision,
  type MetricsAuthOptions,
  type ReviewClient,
  type UserInfo,
} from './metricsauth.js';
export { selfSignedCertificate, type KeyAndCertificate, type SelfSignedOptions } from './x509.js';

// Leader election.
export { LEADER_GAUGE_NAME, type LeaderCallbacks, type LeaderElector } from './leaderelection/elector.js';
export { DEFAULT_TIMINGS, LeaderElectionConfigError, newIdentity, SINGLE_REPLICA_TIMINGS, timingsFor, type Timings } from './leaderelection/config.js';
export { LeaseElector, type LeaseElectorOptions } from './leaderelection/lease.js';
export { LeaderForLife, LeaderForLifeOutOfClusterError, type LeaderForLifeOptions } from './leaderelection/leaderforlife.js';
