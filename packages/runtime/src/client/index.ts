// The runtime's own apiserver client: see client.ts and connection.ts.
export { ApiClient, WATCH_IDLE_TIMEOUT_MS, type ApiClientOptions, type CallOptions, type OutgoingRequest, type WatchOptions } from './client.js';
export { clientFor, kubeConfigHandle, libraryKubeConfig, useClientFor } from './shared.js';
export { connectionFromKubeConfig, directConnection, libraryConnection, loadConnection, loadLibraryKubeConfig, type Connection, type LoadOptions } from './connection.js';
export { inClusterConnection, kubeconfigPaths, mergeKubeconfigs, resolveKubeconfig, type KubeconfigFile, type ResolvedConnection } from './kubeconfig.js';
export { ApiError, apiError, LineSplitter, parseWatchEvent, patchContentType, requestUrl, type PatchKind, type Query, type WatchEvent } from './wire.js';
