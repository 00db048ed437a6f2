// The informer's list against the real local apiserver, with more objects
// than one page holds: it asks in pages of 500 with continue tokens, and its
// cache ends with every object, transformed page by page. Requests are
// counted on the client (the runtime client's beforeRequest hook records
// each request's URL) as they leave for the apiserver. For an expired continue token, etcd is
// compacted between two pages and the second page is asked with the token
// pointed at a compacted revision (the apiserver's watch cache would
// otherwise serve the real token from its snapshot for a long while): the
// apiserver answers 410 Expired, and the list starts again from the first
// page and still ends complete.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { ApiClient, connectionFromKubeConfig, createLogger, ResilientInformer, useClientFor, type OutgoingRequest } from '@memcached-operator/runtime';
import { clusterStateDir, createNamespace, deleteNamespace, ensureCluster } from '../../support/cluster.js';
import { LogRecorder } from '../../support/logs.js';

const OBJECTS = 1_201;
const LABEL = 'paged-list-spec';

/** The same cluster and credentials; `beforeRequest` may hold or rewrite each request, whose URL is then recorded. */
function countingConfig(kc: k8s.KubeConfig, urls: string[], beforeRequest: (request: OutgoingRequest) => Promise<void>): k8s.KubeConfig {
  const counted = new k8s.KubeConfig();
  counted.loadFromString(kc.exportConfig());
  const client = new ApiClient(connectionFromKubeConfig(counted), {
    beforeRequest: async (request) => {
      await beforeRequest(request);
      urls.push(request.url.toString());
    },
  });
  useClientFor(counted, client);
  return counted;
}

/** The same continue token, pointed at revision 1: older than any compaction. */
function staleToken(token: string): string {
  const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
  return Buffer.from(JSON.stringify({ ...decoded, rv: 1 })).toString('base64url');
}

/** etcd's client URL, from the running kube-apiserver's command line. */
function etcdServer(): string {
  const pidFile = path.join(clusterStateDir, 'kwok', 'clusters', 'memcached-operator', 'pids', 'kube-apiserver.pid');
  const args = readFileSync(`/proc/${readFileSync(pidFile, 'utf8').trim()}/cmdline`, 'utf8').split('\0');
  const flag = args.find((a) => a.startsWith('--etcd-servers='));
  if (!flag) throw new Error(`the kube-apiserver has no --etcd-servers flag: ${args.join(' ')}`);
  return flag.slice('--etcd-servers='.length).split(',')[0];
}

/** Compacts etcd's history up to its current revision: every continue token issued before is now too old. */
async function compactEtcd(): Promise<void> {
  const server = etcdServer();
  const status = (await (await fetch(`${server}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/').toString('base64') }) })).json()) as {
    header?: { revision?: string };
  };
  const revision = status.header?.revision;
  if (!revision) throw new Error(`etcd at ${server} told no revision: ${JSON.stringify(status)}`);
  const res = await fetch(`${server}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
  if (!res.ok) throw new Error(`compacting etcd at ${server} to ${revision}: HTTP ${res.status} ${await res.text()}`);
}

describe('informer lists in pages on the local cluster', function () {
  this.timeout(300_000);
  let kc: k8s.KubeConfig;
  let namespace: string;

  before(async () => {
    kc = ensureCluster('ha');
    namespace = await createNamespace(kc, 'paged-list');
    const core = kc.makeApiClient(k8s.CoreV1Api);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < OBJECTS) {
        const name = `cm-${String(next++).padStart(5, '0')}`;
        await core.createNamespacedConfigMap({ namespace, body: { metadata: { name, labels: { [LABEL]: 'yes' } }, data: { payload: 'x'.repeat(256) } } });
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
  });

  after(async () => {
    if (namespace) await deleteNamespace(kc, namespace);
  });

  const pageRequests = (urls: string[]): URLSearchParams[] =>
    urls.filter((u) => new URL(u).pathname === `/api/v1/namespaces/${namespace}/configmaps` && !new URL(u).searchParams.has('watch')).map((u) => new URL(u).searchParams);

  const informerOn = (config: k8s.KubeConfig, messages: LogRecorder): ResilientInformer<k8s.V1ConfigMap> =>
    new ResilientInformer<k8s.V1ConfigMap>({
      kubeConfig: config,
      resource: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
      namespaces: [namespace],
      // Not the namespace's own kube-root-ca.crt.
      labelSelector: `${LABEL}=yes`,
      logger: createLogger('debug', { stream: messages }),
      resyncPeriodMs: 0,
      // The paged list itself (by default it is the fallback of a WatchList stream; watch-list.spec.ts).
      initialList: 'pages',
      // A projection: what no reader needs goes as each page arrives.
      transform: (cm) => {
        delete cm.data;
        delete cm.metadata?.managedFields;
        return cm;
      },
    });

  it(`asks for pages of 500 with continue tokens and caches all ${OBJECTS} objects, transformed`, async () => {
    const urls: string[] = [];
    const informer = informerOn(countingConfig(kc, urls, () => Promise.resolve()), new LogRecorder());
    informer.start();
    try {
      await informer.synced;
      const pages = pageRequests(urls);
      expect(pages.map((p) => p.get('limit'))).to.deep.equal(['500', '500', '500']);
      expect(pages.every((p) => p.get('labelSelector') === `${LABEL}=yes`)).to.equal(true);
      expect(pages[0].has('continue')).to.equal(false);
      expect(pages.slice(1).every((p) => (p.get('continue') ?? '') !== '')).to.equal(true);
      const cached = informer.list(namespace);
      expect(cached).to.have.length(OBJECTS);
      expect(cached.filter((cm) => cm.data !== undefined || cm.metadata?.managedFields !== undefined)).to.deep.equal([]);
      // Listed objects look like watched ones: plain JSON with their kind, not the library's model classes.
      const sample = informer.get(namespace, 'cm-00000')!;
      expect(sample).to.include({ apiVersion: 'v1', kind: 'ConfigMap' });
      expect(Object.getPrototypeOf(sample)).to.equal(Object.prototype);
      expect(typeof sample.metadata?.creationTimestamp).to.equal('string');
    } finally {
      await informer.stop();
    }
  });

  it('lists again from the first page when its continue token has expired, and still caches every object', async () => {
    const urls: string[] = [];
    let compacted = false;
    const messages = new LogRecorder();
    const config = countingConfig(kc, urls, async (request) => {
      const url = request.url;
      const token = url.searchParams.get('continue');
      if (compacted || token === null) return;
      compacted = true;
      // Something changes between two pages, and etcd forgets the past.
      await kc.makeApiClient(k8s.CoreV1Api).createNamespacedConfigMap({ namespace, body: { metadata: { name: 'made-between-pages', labels: { [LABEL]: 'yes' } } } });
      await compactEtcd();
      url.searchParams.set('continue', staleToken(token));
    });
    const informer = informerOn(config, messages);
    informer.start();
    try {
      await informer.synced;
      expect(compacted).to.equal(true);
      expect(messages.messages).to.include('list continue token expired; listing again from the first page');
      const pages = pageRequests(urls);
      // First page, the expired second, then three pages from the start.
      expect(pages.map((p) => p.has('continue'))).to.deep.equal([false, true, false, true, true]);
      expect(informer.list(namespace)).to.have.length(OBJECTS + 1);
      expect(informer.get(namespace, 'made-between-pages')).to.not.equal(undefined);
    } finally {
      await informer.stop();
    }
  });
});
