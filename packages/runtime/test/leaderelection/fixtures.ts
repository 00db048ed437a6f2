// Shared fixtures for the leader-election unit tests.
import { KubeConfig } from '@kubernetes/client-node';

/** A KubeConfig pointing at an unroutable server: nothing in these tests talks to it. */
export function offlineKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:9', skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}
