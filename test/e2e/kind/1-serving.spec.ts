// memcached really serves: the operator, deployed in-cluster by make deploy,
// reconciles a Memcached on the kind bed's three workers; a client pod (the
// memcached image, under restricted Pod Security) sets and gets keys through
// the ClusterIP Service and through every address of the headless Service,
// and status.nodes names exactly the pods that answered.
import { expect } from 'chai';
import { eventually } from '../../support/cluster.js';
import { Memcacheds } from '../../support/memcached.js';
import type { Cluster } from '../../integration/topology/support.js';
import { deleteNamespaces, restrictedNamespace } from '../support.js';
import { applyMemcached, deployOperator, kindCluster, memcachedSession, resolveInPod, startClientPod } from './support.js';

describe('kind: memcached really serves', function () {
  this.timeout(600_000);
  let cluster: Cluster;
  let ns = '';
  let client = '';
  const name = 'cache';

  before(async () => {
    cluster = kindCluster();
    await deployOperator(cluster);
    ns = restrictedNamespace('e2e-serve');
    applyMemcached(ns, name, { memoryLimitMB: 64 });
    client = await startClientPod(cluster, ns);
    await new Memcacheds(cluster.kc, ns).waitAvailable(name, 240_000);
  });

  after(() => {
    if (ns) deleteNamespaces(ns);
  });

  it('answers set and get through the ClusterIP Service', () => {
    const value = `v${Date.now()}`;
    const r = memcachedSession(ns, client, `${name}.${ns}.svc`, 'through-service', value);
    expect(r.stored, r.raw).to.equal(true);
    expect(r.value, r.raw).to.equal(value);
  });

  it('answers on every address of the headless Service, one independent memcached per pod, and status.nodes names exactly those pods', async () => {
    const mc = await new Memcacheds(cluster.kc, ns).waitAvailable(name);
    const replicas = mc.status?.replicas ?? 0;
    expect(replicas, 'HA sizing on three workers').to.equal(3);
    // DNS follows the EndpointSlices; wait until it lists every Ready pod.
    const addresses = await eventually(
      `the headless Service to resolve to ${replicas} addresses`,
      () => {
        const a = resolveInPod(ns, client, `${name}-headless.${ns}.svc`);
        if (a.length === replicas) return a;
        throw new Error(`resolved ${JSON.stringify(a)}`);
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    const answered: string[] = [];
    for (const ip of addresses) {
      const value = `value-of-${ip}`;
      const r = memcachedSession(ns, client, ip, `own-${ip}`, value);
      expect(r.stored, `${ip}: ${r.raw}`).to.equal(true);
      expect(r.value, `${ip}: ${r.raw}`).to.equal(value);
      answered.push(ip);
    }
    // Each address is its own cache: no pod has another pod's key.
    for (const ip of addresses) {
      for (const other of addresses.filter((o) => o !== ip)) {
        expect(memcachedSession(ns, client, ip, `own-${other}`).value, `${ip} holds ${other}'s key`).to.equal(undefined);
      }
    }
    const pods = await cluster.pods(ns, name);
    const podByIp = new Map(pods.map((p) => [p.status?.podIP, p.metadata!.name!]));
    const answering = answered.map((ip) => podByIp.get(ip) ?? `unknown pod at ${ip}`).sort();
    const status = (await new Memcacheds(cluster.kc, ns).get(name))?.status;
    expect([...(status?.nodes ?? [])].sort()).to.deep.equal(answering);
    // Three pods on three distinct workers.
    expect(new Set(pods.map((p) => p.spec?.nodeName)).size).to.equal(3);
  });
});
