// The exporter and the stats poll read `stats` from memcached pods that may
// serve only TLS, require a client certificate, or require authentication
// (issue #13). This finds the Memcached of the pod at a target address and
// asks SecureServing how to connect, so both use the Secrets the pods mount.
import type { V1Pod } from '@kubernetes/client-node';
import type { Memcached } from '../api/types.js';
import { validateMemcached } from '../api/validator.js';
import { fetchStats, type ScrapeSecurity, type Target } from '../exporter/scrape.js';
import { managedPodAt } from './monitoring.js';
import type { SecureServing } from './secure-serving.js';

export interface ScrapeSecurityDeps {
  pods: { list(namespace?: string): V1Pod[] };
  memcacheds: { get(namespace: string, name: string): Memcached | undefined };
  secureServing: SecureServing;
}

/** How to connect to target: plaintext unless its pod's Memcached has TLS on that port or auth. */
export async function scrapeSecurityFor(deps: ScrapeSecurityDeps, target: Target): Promise<ScrapeSecurity> {
  const pod = managedPodAt(deps.pods.list(), target.host);
  const name = pod?.metadata?.labels?.['app.kubernetes.io/instance'];
  const mc = pod?.metadata?.namespace && name ? deps.memcacheds.get(pod.metadata.namespace, name) : undefined;
  const validation = mc ? validateMemcached(mc) : undefined;
  if (!mc || !validation?.valid) return {};
  return deps.secureServing.scrapeSecurity(mc, validation.spec, target.port);
}

/** fetchStats with the connection scrapeSecurityFor chooses: the exporter's and the stats poll's fetch. */
export function securedFetchStats(deps: ScrapeSecurityDeps): (target: Target, timeoutMs: number) => Promise<Map<string, string>> {
  return async (target, timeoutMs) => fetchStats(target, timeoutMs, await scrapeSecurityFor(deps, target));
}
