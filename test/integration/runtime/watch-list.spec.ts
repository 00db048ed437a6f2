// The informer's first state as a WatchList stream against the real local
// apiserver: one watch with sendInitialEvents delivers every object, the
// informer syncs on the initial-events-end bookmark and caches them all, no
// list request is made, and the same watch carries what changes afterwards.
// When that watch ends (the client's 30 s inactivity timeout), the next one
// resumes after the last event, not from the end of the initial stream.
// Where the apiserver refuses the stream (here made to by an invalid
// resourceVersionMatch written into the request on its way out, which it
// rejects with 422 as a server without WatchList rejects sendInitialEvents),
// the informer lists in pages instead.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { ApiClient, connectionFromKubeConfig, createLogger, ResilientInformer, useClientFor } from '@memcached-operator/runtime';
import { createNamespace, deleteNamespace, ensureCluster, eventually } from '../../support/cluster.js';
import { LogRecorder } from '../../support/logs.js';

const OBJECTS = 700;
const LABEL = 'watch-list-spec';

/**
 * The same cluster and credentials; each request's URL is recorded, and
 * `rewritePath` may change the path and query it goes out with (in the
 * runtime client's beforeRequest hook, which every request and watch goes
 * through).
 */
function recordingConfig(kc: k8s.KubeConfig, urls: URL[], rewritePath: (path: string) => string = (p) => p): k8s.KubeConfig {
  const recorded = new k8s.KubeConfig();
  recorded.loadFromString(kc.exportConfig());
  const client = new ApiClient(connectionFromKubeConfig(recorded), {
    beforeRequest: (request) => {
      urls.push(new URL(request.url));
      const rewritten = new URL(rewritePath(`${request.url.pathname}${request.url.search}`), request.url);
      request.url = rewritten;
    },
  });
  useClientFor(recorded, client);
  return recorded;
}

describe('informer streams its first state (WatchList) on the local cluster', function () {
  this.timeout(300_000);
  let kc: k8s.KubeConfig;
  let namespace: string;
  const core = (): k8s.CoreV1Api => kc.makeApiClient(k8s.CoreV1Api);

  before(async () => {
    kc = ensureCluster('ha');
    namespace = await createNamespace(kc, 'watch-list');
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < OBJECTS) {
        const name = `cm-${String(next++).padStart(5, '0')}`;
        await core().createNamespacedConfigMap({ namespace, body: { metadata: { name, labels: { [LABEL]: 'yes' } }, data: { payload: 'x'.repeat(256) } } });
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  });

  after(async () => {
    if (namespace) await deleteNamespace(kc, namespace);
  });

  const informerOn = (config: k8s.KubeConfig, messages = new LogRecorder()): ResilientInformer<k8s.V1ConfigMap> =>
    new ResilientInformer<k8s.V1ConfigMap>({
      kubeConfig: config,
      resource: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
      namespaces: [namespace],
      labelSelector: `${LABEL}=yes`,
      logger: createLogger('debug', { stream: messages }),
      resyncPeriodMs: 0,
      transform: (cm) => {
        delete cm.metadata?.managedFields;
        return cm;
      },
    });
  const collection = (): string => `/api/v1/namespaces/${namespace}/configmaps`;

  it(`caches all ${OBJECTS} objects from one streaming watch, with no list request, and keeps watching`, async () => {
    const urls: URL[] = [];
    const informer = informerOn(recordingConfig(kc, urls));
    informer.start();
    try {
      await informer.synced;
      const requests = urls.filter((u) => u.pathname === collection());
      expect(requests.filter((u) => !u.searchParams.has('watch')), 'list requests').to.deep.equal([]);
      const first = requests[0].searchParams;
      expect([first.get('watch'), first.get('sendInitialEvents'), first.get('resourceVersionMatch'), first.get('allowWatchBookmarks')]).to.deep.equal(['true', 'true', 'NotOlderThan', 'true']);
      expect(informer.list(namespace)).to.have.length(OBJECTS);
      expect(informer.list(namespace).filter((cm) => cm.metadata?.managedFields !== undefined)).to.deep.equal([]);
      expect(informer.get(namespace, 'cm-00000')).to.include({ apiVersion: 'v1', kind: 'ConfigMap' });

      await core().createNamespacedConfigMap({ namespace, body: { metadata: { name: 'made-after-sync', labels: { [LABEL]: 'yes' } } } });
      await core().deleteNamespacedConfigMap({ name: 'cm-00001', namespace });
      await eventually('the watch to carry both changes', () => (informer.get(namespace, 'made-after-sync') && !informer.get(namespace, 'cm-00001') ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
      expect(urls.filter((u) => u.pathname === collection()).length, 'one watch, no new request').to.equal(1);

      const latest = await core().readNamespacedConfigMap({ name: 'made-after-sync', namespace });
      const resumed = await eventually('the watch to be resumed after its inactivity timeout', () => urls.filter((u) => u.pathname === collection())[1], {
        timeoutMs: 90_000,
        intervalMs: 200,
      });
      expect(resumed.searchParams.has('sendInitialEvents'), 'a resumed watch, not a new stream').to.equal(false);
      expect(Number(resumed.searchParams.get('resourceVersion'))).to.be.at.least(Number(latest.metadata!.resourceVersion));
      expect(informer.get(namespace, 'made-after-sync')?.metadata?.resourceVersion).to.equal(latest.metadata!.resourceVersion);
    } finally {
      await informer.stop();
    }
  });

  it('lists in pages where the apiserver refuses the stream', async () => {
    const urls: URL[] = [];
    const messages = new LogRecorder();
    const config = recordingConfig(kc, urls, (path) => (path.includes('sendInitialEvents=true') ? path.replace('resourceVersionMatch=NotOlderThan', 'resourceVersionMatch=NotAValue') : path));
    const informer = informerOn(config, messages);
    informer.start();
    try {
      await informer.synced;
      expect(messages.messages).to.include('the apiserver does not serve WatchList; listing in pages');
      const pages = urls.filter((u) => u.pathname === collection() && !u.searchParams.has('watch'));
      expect(pages.map((u) => u.searchParams.get('limit'))).to.deep.equal(['500', '500']);
      expect(informer.list(namespace)).to.have.length(OBJECTS);
    } finally {
      await informer.stop();
    }
  });
});
