// One ApiClient (one connection pool) per KubeConfig the operator loaded,
// for callers that are still handed a KubeConfig: they move onto the thin
// client without the KubeConfig's library code on their request path.
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiClient } from './client.js';
import { connectionFromKubeConfig } from './connection.js';

const clients = new WeakMap<KubeConfig, ApiClient>();

/** Makes `client` the one every runtime call for `kc` goes through (tests that watch or steer the requests). */
export function useClientFor(kc: KubeConfig, client: ApiClient): void {
  clients.set(kc, client);
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
