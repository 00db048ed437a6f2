// The public API of @memcached-operator/runtime: the production names its
// users (the operator, its tests and its benchmark) need, and nothing else.
// Everything else in the package is internal; test doubles are at
// @memcached-operator/runtime/testing (testing.ts).

// Time, logs, errors, API calls with a deadline, Events.
export { realClock, type Clock } from './clock.js';
export { createLogger, type Logger } from './logger.js';
export { apiMessage, errorMessage, isRejectedObject, RequestTimeoutError, statusCode, TerminalError } from './errors.js';
export { callWithDeadline } from './call.js';
export { reuseConnections } from './connections.js';
// The runtime's own apiserver client (client/).
export { ApiClient, clientFor, connectionFromKubeConfig, kubeConfigHandle, loadConnection, loadLibraryKubeConfig, useClientFor, type ApiClientOptions, type Connection, type OutgoingRequest } from './client/index.js';
export { ApiEventRecorder, type EventRecorder, type EventType } from './events.js';

// Status conditions, as apimachinery's meta helpers treat them.
export { findCondition, isConditionTrue, setCondition, type Condition, type ConditionStatus, type ConditionUpdate } from './conditions.js';

// Caches: informers, the optional-API informer, and watch predicates.
export { ResilientInformer, stripManagedFields, type InformerOptions, type ResourceDescriptor } from './informer.js';
// For informers whose objects are reduced before caching (the operator's Secret digests).
export type { ClientInformerFactory, ListFunc } from './informer.js';
// For kinds whose API may come and go while the operator runs (a CRD installed or removed).
export { OptionalInformer } from './optionalinformer.js';
export { metadataProjection, projectionChanged, type Predicate } from './predicates.js';

// Controllers and the manager that runs them, with its servers.
export { Controller, type ReconcileContext, type Reconciler, type Request, type Result } from './controller.js';
export { installSignalHandlers, Manager, type Runnable } from './manager.js';
export { ManagedHttpServer, parseBindAddress, type BindAddress } from './httpserver.js';
export { registerProcessMetrics } from './metrics.js';

// Leader election.
export type { LeaderElector } from './leaderelection/elector.js';
export { LeaderElectionConfigError, newIdentity, timingsFor, type Timings } from './leaderelection/config.js';
export { LeaseElector } from './leaderelection/lease.js';
export { LeaderForLife, LeaderForLifeOutOfClusterError } from './leaderelection/leaderforlife.js';
