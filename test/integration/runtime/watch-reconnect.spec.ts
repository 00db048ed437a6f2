// The informer's watch against the real local apiserver, through a TCP proxy
// that the test cuts: restart after errors, and a file descriptor count that
// stays flat across 100 forced watch reconnects. (client-node 1.4 leaked one
// descriptor per reconnect, for good; 2.x streams over undici, with a new
// keep-alive Agent per request whose idle socket closes a few seconds later,
// so the count may rise while requests are frequent and must come back.)
//
// Objects are created with kubectl, a separate process, so that every
// descriptor counted here belongs to the informer.
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { createLogger, ResilientInformer, reuseConnections } from '@memcached-operator/runtime';
import { createNamespace, deleteNamespace, ensureCluster, eventually, kubectl } from '../../support/cluster.js';
import { LogRecorder } from '../../support/logs.js';
import { TcpProxy } from '../../support/tcpproxy.js';

const RECONNECTS = 100;

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** The same cluster and credentials, reached through the proxy (the apiserver's SANs include 127.0.0.1). */
function throughProxy(kc: k8s.KubeConfig, port: number): k8s.KubeConfig {
  const proxied = new k8s.KubeConfig();
  proxied.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${port}` })),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return proxied;
}

describe('informer watch reconnects on the local cluster', function () {
  this.timeout(600_000);

  let kc: k8s.KubeConfig;
  let namespace: string;
  let proxy: TcpProxy;
  let informer: ResilientInformer<k8s.V1ConfigMap>;
  const recorder = new LogRecorder();

  const createConfigMap = (name: string): void => {
    kubectl(['create', 'configmap', '-n', namespace, name, `--from-literal=at=${new Date().toISOString()}`]);
  };
  const seen = (name: string): Promise<k8s.V1ConfigMap> =>
    eventually(`the informer to see ${name}`, () => informer.get(namespace, name), { timeoutMs: 60_000, intervalMs: 20 });

  before(async () => {
    kc = ensureCluster('ha');
    namespace = await createNamespace(kc, 'watch-reconnect');
    const server = new URL(kc.getCurrentCluster()!.server);
    proxy = new TcpProxy(server.hostname, Number(server.port));
    const port = await proxy.start();
    informer = new ResilientInformer<k8s.V1ConfigMap>({
      kubeConfig: throughProxy(kc, port),
      resource: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
      namespaces: [namespace],
      logger: createLogger('debug', { stream: recorder }),
      restartBackoff: { initialMs: 20, maxMs: 500, factor: 2 },
      resyncPeriodMs: 0,
    });
    informer.start();
    await informer.synced;
  });

  after(async () => {
    await informer?.stop();
    await proxy?.cut();
    if (namespace) await deleteNamespace(kc, namespace);
  });

  it('restarts after list/watch errors and catches up on what changed meanwhile', async () => {
    const errorsBefore = recorder.messages.filter((m) => m.startsWith('list/watch failed')).length;
    await proxy.cut();
    // The proxy refuses connections: the informer's next list or watch fails.
    await eventually('a failed list/watch', () =>
      recorder.messages.filter((m) => m.startsWith('list/watch failed')).length > errorsBefore ? true : undefined,
    );
    createConfigMap('made-while-cut');
    expect(informer.get(namespace, 'made-while-cut')).to.equal(undefined);
    await proxy.heal();
    await seen('made-while-cut');
  });

  it(`keeps the fd count flat across ${RECONNECTS} forced watch reconnects`, async () => {
    const acceptedBefore = proxy.accepted;
    let baseline = 0;
    const samples: number[] = [];
    for (let i = 0; i < RECONNECTS; i++) {
      await proxy.cut();
      await proxy.heal();
      // An object made after the cut is seen only through a new list or watch.
      createConfigMap(`cm-${i}`);
      await seen(`cm-${i}`);
      samples.push(openFds());
      // The first reconnects warm up connection pools; measure from there.
      if (i === 9) baseline = openFds();
    }
    const after = openFds();
    const reconnects = proxy.accepted - acceptedBefore;
    // Idle keep-alive sockets close within seconds; a leaked descriptor never does.
    const settled = await eventually(
      `the fd count to come back to ${baseline} + 3 (it was ${after} right after the loop; samples ${samples.join(',')})`,
      () => (openFds() <= baseline + 3 ? openFds() : undefined),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    console.log(
      `      fds: ${baseline} after 10 reconnects, ${after} right after ${RECONNECTS} (min ${Math.min(...samples)}, max ${Math.max(...samples)}), ${settled} once idle; ${reconnects} connections through the proxy`,
    );
    expect(reconnects, 'connections the informer opened through the proxy').to.be.at.least(RECONNECTS);
    expect(settled - baseline, `fd growth over ${RECONNECTS - 10} reconnects`).to.be.at.most(3);
  });

  it('with reuseConnections, 40 API calls share one connection pool instead of opening 40 connections', async () => {
    const fresh = (): k8s.KubeConfig => {
      const c = new k8s.KubeConfig();
      c.loadFromString(kc.exportConfig());
      return c;
    };
    const growth = async (config: k8s.KubeConfig): Promise<number> => {
      const core = config.makeApiClient(k8s.CoreV1Api);
      await core.readNamespace({ name: namespace });
      const before = openFds();
      for (let i = 0; i < 40; i++) await core.readNamespace({ name: namespace });
      return openFds() - before;
    };
    const plain = await growth(fresh());
    const pooled = await growth(reuseConnections(fresh()));
    console.log(`      fds opened by 40 sequential reads: ${plain} as client-node 2.0.1 does it, ${pooled} with reuseConnections`);
    expect(pooled, 'descriptors left open by 40 calls through one pool').to.be.at.most(2);
  });
});
