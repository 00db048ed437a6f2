// One ApiClient (one connection pool) per KubeConfig the operator loaded,
// for callers that are still handed a KubeConfig: they move onto the thin
// client without the KubeConfig's library code on their request path.
//
// The operator's entry point loads no library KubeConfig at all: it makes a
// handle (kubeConfigHandle), an opaque KubeConfig-typed key under which its
// thin client is registered, and says how to load the library's KubeConfig
// should something need it (the list-then-watch fallback for an apiserver
// without WatchList). The options that take a KubeConfig stay as they are.
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiClient } from './client.js';
import { connectionFromKubeConfig } from './connection.js';

const clients = new WeakMap<KubeConfig, ApiClient>();

/** Makes `client` the one every runtime call for `kc` goes through (tests that watch or steer the requests). */
export function useClientFor(kc: KubeConfig, client: ApiClient): void {
  clients.set(kc, client);
}

const libraryLoaders = new WeakMap<KubeConfig, () => Promise<KubeConfig>>();

/** An opaque stand-in for a KubeConfig: `client` serves every runtime call for it; `loadLibrary` gives the real one, on demand. */
export function kubeConfigHandle(client: ApiClient, loadLibrary: () => Promise<KubeConfig>): KubeConfig {
  const handle = Object.freeze({ kubeConfigHandle: client.connection.server }) as unknown as KubeConfig;
  clients.set(handle, client);
  let loaded: Promise<KubeConfig> | undefined;
  libraryLoaders.set(handle, () => (loaded ??= loadLibrary()));
  return handle;
}

/** The client library's KubeConfig for `kc`: `kc` itself, or what a handle stands for (loaded on first call). */
export function libraryKubeConfig(kc: KubeConfig): Promise<KubeConfig> {
  return libraryLoaders.get(kc)?.() ?? Promise.resolve(kc);
}

/** The shared client for `kc`, made on first use. */
export function clientFor(kc: KubeConfig): ApiClient {
  let client = clients.get(kc);
  if (!client) {
    client = new ApiClient(connectionFromKubeConfig(kc));
    clients.set(kc, client);
  }
  return client;
}
