// The operator's cache of Secrets, as digests (secret-digest.ts): the list and each
// watch event are reduced to a SecretDigest before the ResilientInformer
// stores them, so the operator's own cache holds no key material. (client-
// node's ListWatch, underneath, keeps the objects of watch events it saw
// until the next relist; listed ones are digests from the start.)
import * as k8s from '@kubernetes/client-node';
import type { ClientInformerFactory, ListFunc } from '@memcached-operator/runtime';
import { digestSecret, type SecretDigest } from './secret-digest.js';

/** A list of Secrets (all namespaces or one), each reduced to its digest. */
export function secretDigestLister(kc: k8s.KubeConfig): ListFunc<SecretDigest> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return async (namespace) => {
    const list = namespace ? await core.listNamespacedSecret({ namespace }) : await core.listSecretForAllNamespaces({});
    return { apiVersion: 'v1', kind: 'SecretList', metadata: list.metadata ?? {}, items: list.items.map((s) => digestSecret(s)) };
  };
}

/** makeInformer, with every object it reports reduced to its digest. */
export function secretDigestInformerFactory(kc: k8s.KubeConfig): ClientInformerFactory<SecretDigest> {
  return (path, listFn, labelSelector) => {
    const inner = k8s.makeInformer<k8s.KubernetesObject>(kc, path, listFn, labelSelector);
    const wrapped = new Map<unknown, unknown>();
    const wrap = (verb: string, cb: (arg?: unknown) => void): ((arg?: unknown) => void) => {
      if (verb === k8s.ERROR || verb === k8s.CONNECT) return cb;
      let w = wrapped.get(cb) as ((arg?: unknown) => void) | undefined;
      if (!w) {
        w = (obj?: unknown) => cb(digestSecret(obj as k8s.V1Secret));
        wrapped.set(cb, w);
      }
      return w;
    };
    const informer = {
      on: (verb: string, cb: (arg?: unknown) => void) => inner.on(verb as typeof k8s.ADD, wrap(verb, cb)),
      off: (verb: string, cb: (arg?: unknown) => void) => inner.off(verb as typeof k8s.ADD, wrap(verb, cb)),
      start: () => inner.start(),
      stop: () => inner.stop(),
    };
    return informer as unknown as k8s.Informer<SecretDigest>;
  };
}
