// Why pods are not Ready, in words a user can act on (issue #12): on real
// nodes, a Memcached whose pods cannot be scheduled, whose image cannot be
// pulled, or whose memcached exits at once reports Degraded with the reason
// (podhealth.ts) and the kubelet's or scheduler's own message, and an Event
// marks the transition. (OOM kills and failing probes are unit-tested only.)
import { expect } from 'chai';
import { eventually } from '../../support/cluster.js';
import type { Cluster } from '../../integration/topology/support.js';
import { deleteNamespaces, k, restrictedNamespace } from '../support.js';
import { deployOperator, eventsAbout, kindCluster, memcachedImage, recordResult } from './support.js';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

describe('kind: Degraded says why pods are not Ready', function () {
  this.timeout(900_000);
  let cluster: Cluster;
  let ns: string;

  before(async () => {
    cluster = kindCluster();
    await deployOperator(cluster);
    ns = restrictedNamespace('e2e-podhealth');
  });

  after(() => deleteNamespaces(ns));

  const degraded = async (name: string): Promise<Condition | undefined> => {
    const mc = (await cluster.custom.getNamespacedCustomObject({ group: 'cache.example.com', version: 'v1alpha1', namespace: ns, plural: 'memcacheds', name })) as {
      status?: { conditions?: Condition[] };
    };
    return mc.status?.conditions?.find((c) => c.type === 'Degraded');
  };

  const cases: { name: string; spec: () => Record<string, unknown>; reason: string; message: RegExp }[] = [
    {
      name: 'unschedulable',
      spec: () => ({ size: 1, image: memcachedImage(), nodeSelector: { 'e2e.example.com/no-such-node': 'x' } }),
      reason: 'PodsUnschedulable',
      message: /didn't match|node\(s\)/,
    },
    {
      name: 'image-pull',
      spec: () => ({ size: 1, image: 'memcached-operator.local/no-such-image:0' }),
      reason: 'ImagePullFailed',
      message: /ErrImagePull|ImagePullBackOff/,
    },
    {
      name: 'crash-loop',
      // memcached refuses an unknown -o suboption and exits at once.
      spec: () => ({ size: 1, image: memcachedImage(), extraArgs: ['-o', 'e2e_no_such_option'] }),
      reason: 'CrashLooping',
      message: /exit code|terminated|Error/,
    },
  ];

  for (const c of cases) {
    it(`reports ${c.reason} with the underlying message and an Event (${c.name})`, async () => {
      const t0 = Date.now();
      k(['apply', '--server-side', '-n', ns, '-f', '-'], JSON.stringify({ apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name: c.name }, spec: c.spec() }));
      const cond = await eventually(`Degraded=True ${c.reason}`, async () => {
        const d = await degraded(c.name);
        if (d?.status === 'True' && d.reason === c.reason) return d;
        throw new Error(`Degraded is ${JSON.stringify(d)}`);
      }, { timeoutMs: 300_000, intervalMs: 1000 });
      expect(cond.message).to.match(c.message);
      const event = await eventually(`a ${c.reason} Event`, async () =>
        (await eventsAbout(cluster, ns, 'Memcached', c.name)).find((e) => e.reason === c.reason),
      { timeoutMs: 60_000, intervalMs: 1000 });
      expect(event.type).to.equal('Warning');
      recordResult(`podhealth.${c.name}`, { reason: cond.reason, seconds: (Date.now() - t0) / 1000, message: cond.message.slice(0, 200) });
    });
  }
});
