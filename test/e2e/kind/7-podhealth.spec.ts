// Why pods are not Ready, in words a user can act on (the Degraded reasons): on real
// nodes, a Memcached whose pods cannot be scheduled, whose image cannot be
// pulled, or whose memcached exits at once reports Degraded with the reason
// (src/memcached/pods.ts) and the kubelet's or scheduler's own message, and an Event
// marks the transition. So does one whose memcached the kernel OOM-kills
// (sets past a container memory limit below -m), and one whose probes fail
// (its port blocked in the pod's network namespace from the node, so the
// kubelet's own probes time out).
import type { V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { findCondition } from '@memcached-operator/runtime';
import { eventually } from '../../support/cluster.js';
import { isPodReady, type Cluster } from '../../integration/topology/support.js';
import { deleteNamespaces, k, restrictedNamespace } from '../support.js';
import { applyMemcached, deployOperator, eventsAbout, execInBackground, inPodNetwork, kindCluster, memcachedImage, recordResult, startClientPod } from './support.js';

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
  let client: string;

  before(async () => {
    cluster = kindCluster();
    await deployOperator(cluster);
    ns = restrictedNamespace('e2e-podhealth');
    client = await startClientPod(cluster, ns);
  });

  after(() => deleteNamespaces(ns));

  const degraded = async (name: string): Promise<Condition | undefined> => {
    const mc = (await cluster.custom.getNamespacedCustomObject({ group: 'cache.example.com', version: 'v1alpha1', namespace: ns, plural: 'memcacheds', name })) as {
      status?: { conditions?: Condition[] };
    };
    return findCondition(mc.status?.conditions, 'Degraded');
  };

  const degradedWith = (name: string, reason: string, timeoutMs = 300_000): Promise<Condition> =>
    eventually(`Degraded=True ${reason}`, async () => {
      const d = await degraded(name);
      if (d?.status === 'True' && d.reason === reason) return d;
      throw new Error(`Degraded is ${JSON.stringify(d)}`);
    }, { timeoutMs, intervalMs: 1000 });

  const warningEvent = async (name: string, reason: string) => {
    const event = await eventually(`a ${reason} Event`, async () =>
      (await eventsAbout(cluster, ns, 'Memcached', name)).find((e) => e.reason === reason),
    { timeoutMs: 60_000, intervalMs: 1000 });
    expect(event.type).to.equal('Warning');
    return event;
  };

  /** The one pod of a Memcached, once Ready. */
  const readyPod = (name: string): Promise<V1Pod> =>
    eventually(`a Ready pod of ${name}`, async () => {
      const pods = await cluster.pods(ns, name);
      if (pods.length === 1 && isPodReady(pods[0]) && pods[0].status?.podIP) return pods[0];
      throw new Error(`${pods.length} pods, Ready: ${pods.map(isPodReady).join(',')}`);
    }, { timeoutMs: 180_000, intervalMs: 1000 });

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

  it('reports OOMKilled with the last termination reason and an Event (oom)', async () => {
    // -m 256 in a 32Mi container: memcached grows past the limit long before
    // it would evict, and the kernel kills it. The load reconnects and fills
    // again after each restart, so the kubelet backs off (CrashLoopBackOff)
    // with OOMKilled as the last termination. Items over 1 MB keep the server
    // cold (no -e): a warm one would lay out its slab pages on the RAM disk
    // at start, and never start in 32Mi.
    applyMemcached(ns, 'oom', { size: 1, image: memcachedImage(), memoryLimitMB: 256, maxItemSize: '2m', resources: { limits: { memory: '32Mi' } } });
    const pod = await readyPod('oom');
    const t0 = Date.now();
    const load = execInBackground(ns, client, FILL_UNTIL_STOPPED, [pod.status!.podIP!, '100000']);
    let cond: Condition;
    try {
      cond = await degradedWith('oom', 'OOMKilled');
    } finally {
      await load.stop();
    }
    const seconds = (Date.now() - t0) / 1000;
    expect(cond.message).to.match(/OOMKilled/).and.to.contain(pod.metadata!.name!);
    // What the kubelet itself recorded, so the condition is not a guess.
    const now = await cluster.core.readNamespacedPod({ namespace: ns, name: pod.metadata!.name! });
    const memcached = now.status?.containerStatuses?.find((c) => c.name === 'memcached');
    expect(memcached?.lastState?.terminated?.reason).to.equal('OOMKilled');
    expect(memcached?.restartCount).to.be.greaterThan(0);
    await warningEvent('oom', 'OOMKilled');
    recordResult('podhealth.oom', { reason: cond.reason, seconds, restarts: memcached?.restartCount, message: cond.message.slice(0, 200) });
  });

  it('reports ProbeFailing when the kubelet\'s probes cannot reach memcached, with an Event (probe)', async () => {
    // memcached keeps running; its port is dropped in the pod's network
    // namespace, so the kubelet's tcpSocket probes time out: readiness fails
    // at once, liveness after 3 periods, and the kubelet restarts it (again
    // and again: the rule stays in the pod's namespace across restarts).
    applyMemcached(ns, 'probe', { size: 1, image: memcachedImage() });
    const pod = await readyPod('probe');
    const t0 = Date.now();
    inPodNetwork(pod, ['iptables', '-I', 'INPUT', '-p', 'tcp', '--dport', '11211', '-j', 'DROP']);
    const cond = await degradedWith('probe', 'ProbeFailing');
    const seconds = (Date.now() - t0) / 1000;
    expect(cond.message).to.match(/probe fails/).and.to.contain(pod.metadata!.name!);
    await warningEvent('probe', 'ProbeFailing');
    // The kubelet's own word that it was the probe.
    const unhealthy = await eventually('the kubelet\'s Unhealthy Event', async () =>
      (await eventsAbout(cluster, ns, 'Pod', pod.metadata!.name!)).find((e) => e.reason === 'Unhealthy' && /probe failed/i.test(e.message ?? '')),
    { timeoutMs: 60_000, intervalMs: 1000 });
    recordResult('podhealth.probe', { reason: cond.reason, seconds, message: cond.message.slice(0, 200), kubelet: unhealthy.message?.slice(0, 120) });
    // Unblocked, the pod turns Ready and Degraded clears.
    inPodNetwork(pod, ['iptables', '-D', 'INPUT', '-p', 'tcp', '--dport', '11211', '-j', 'DROP']);
    await eventually('Degraded=False once the port is open again', async () => {
      const d = await degraded('probe');
      if (d?.status === 'False') return d;
      throw new Error(`Degraded is ${JSON.stringify(d)}`);
    }, { timeoutMs: 300_000, intervalMs: 1000 });
  });
});

// Fills memcached with noreply sets of size bytes until stopped, reconnecting
// whenever the connection breaks (memcached was killed and restarts): the
// writer ignores SIGPIPE, so a write to the dead connection fails instead of
// ending it (execInBackground's stop() ends it).
const FILL_UNTIL_STOPPED = `host=$1 size=$2
value=$(head -c "$size" /dev/zero | tr '\\0' 'v')
(
  trap '' PIPE
  while true; do
    if ! { exec 3<>"/dev/tcp/$host/11211"; } 2>/dev/null; then sleep 0.5; continue; fi
    i=0
    while printf 'set oom%s 0 0 %s noreply\\r\\n%s\\r\\n' "$((i++))" "$size" "$value" >&3 2>/dev/null; do :; done
    exec 3>&-
  done
) &
wait`;
