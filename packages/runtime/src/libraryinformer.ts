// The client library's list-then-watch informer (ListWatch), for an
// apiserver that does not serve WatchList: the library is imported when
// such an informer first starts, so an operator on a current apiserver never
// loads it.
import type { Informer as ClientInformer, KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { libraryKubeConfig } from './client/shared.js';

type Verb = 'add' | 'update' | 'delete' | 'change' | 'error' | 'connect';
type Callback<T> = ((obj: T) => void) | ((err?: unknown) => void);

/** makeInformer(kc, path, list, selector), created on the first start(). */
export function lazyLibraryInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  labelSelector?: string,
): ClientInformer<T> {
  let inner: ClientInformer<T> | undefined;
  const handlers: Array<[Verb, Callback<T>]> = [];
  return {
    on(verb: Verb, cb: Callback<T>): void {
      handlers.push([verb, cb]);
      inner?.on(verb as 'add', cb);
    },
    off(verb: Verb, cb: Callback<T>): void {
      const at = handlers.findIndex(([v, c]) => v === verb && c === cb);
      if (at >= 0) handlers.splice(at, 1);
      inner?.off(verb as 'add', cb);
    },
    async start(): Promise<void> {
      if (!inner) {
        const { makeInformer } = await import('@kubernetes/client-node');
        inner = makeInformer<T>(await libraryKubeConfig(kubeConfig), path, list, labelSelector);
        for (const [verb, cb] of handlers) inner.on(verb as 'add', cb);
      }
      return inner.start();
    },
    async stop(): Promise<void> {
      await inner?.stop();
    },
  };
}
