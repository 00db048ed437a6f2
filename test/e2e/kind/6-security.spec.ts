// Security on real pods: every namespace these specs create enforces the
// restricted Pod Security Standard (restrictedNamespace labels it), the
// enforcement is real (a privileged pod is refused), and the operator's and
// memcached's pods are admitted and run under it: non-root processes, no
// privilege escalation, read-only root filesystems, every capability dropped.
import { expect } from 'chai';
import { eventually } from '../../support/cluster.js';
import { Memcacheds } from '../../support/memcached.js';
import { describePods, isPodReady, type Cluster } from '../../integration/topology/support.js';
import { OPERATOR_NAMESPACE, deleteNamespaces, k, kRun, restrictedNamespace } from '../support.js';
import { applyMemcached, deployOperator, kindCluster, leaseHolderPod, managerPods, memcachedImage } from './support.js';

/** The uid of PID 1 in a container, read from /proc (the memcached image has cat). */
function uidOfPid1(ns: string, pod: string): number {
  const status = k(['exec', '-n', ns, pod, '--', 'cat', '/proc/1/status']);
  const line = status.split('\n').find((l) => l.startsWith('Uid:'));
  if (!line) throw new Error(`no Uid line in /proc/1/status of ${ns}/${pod}`);
  return Number(line.split(/\s+/)[1]);
}

describe('kind: restricted Pod Security on every test namespace, and the pods run under it', function () {
  this.timeout(600_000);
  let cluster: Cluster;
  let ns = '';
  const name = 'cache';

  before(async () => {
    cluster = kindCluster();
    await deployOperator(cluster);
    ns = restrictedNamespace('e2e-security');
  });

  after(() => {
    if (ns) deleteNamespaces(ns);
  });

  it('the test and operator namespaces enforce restricted, and a privileged pod is refused', () => {
    for (const n of [ns, OPERATOR_NAMESPACE]) {
      const labels = JSON.parse(k(['get', 'namespace', n, '-o', 'jsonpath={.metadata.labels}'])) as Record<string, string>;
      expect(labels['pod-security.kubernetes.io/enforce'], n).to.equal('restricted');
    }
    const privileged = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'privileged' },
      spec: { containers: [{ name: 'c', image: memcachedImage(), command: ['sleep', '1'], securityContext: { privileged: true } }] },
    };
    const r = kRun(['create', '-n', ns, '-f', '-'], JSON.stringify(privileged));
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/violates PodSecurity "restricted:latest"/);
  });

  it('memcached pods are admitted and run as a non-root uid with a read-only root and no capabilities', async () => {
    applyMemcached(ns, name, { memoryLimitMB: 32 });
    await new Memcacheds(cluster.kc, ns).waitAvailable(name, 240_000);
    const pods = await cluster.pods(ns, name);
    expect(pods.length, describePods(pods)).to.equal(3);
    for (const p of pods) {
      expect(isPodReady(p)).to.equal(true);
      const uid = uidOfPid1(ns, p.metadata!.name!);
      expect(uid, `${p.metadata!.name} runs as root`).to.not.equal(0);
      // The root filesystem really is read-only.
      const write = kRun(['exec', '-n', ns, p.metadata!.name!, '--', 'touch', '/probe-write']);
      expect(write.status, 'a write to / succeeded').to.not.equal(0);
      expect(write.stderr).to.match(/Read-only file system/);
      const capEff = k(['exec', '-n', ns, p.metadata!.name!, '--', 'cat', '/proc/1/status']).split('\n').find((l) => l.startsWith('CapEff:'));
      expect(capEff?.split(/\s+/)[1], 'effective capabilities').to.match(/^0+$/);
    }
    // No ReplicaSet was refused a pod on the way.
    const refused = (await cluster.core.listNamespacedEvent({ namespace: ns })).items.filter((e) => e.reason === 'FailedCreate');
    expect(refused.map((e) => e.message)).to.deep.equal([]);
  });

  it('the manager pod runs under restricted as a non-root uid, with the token and downward API it needs', async () => {
    const [pod] = await eventually('a Ready manager pod', async () => {
      const pods = await managerPods(cluster);
      return pods.length === 1 && isPodReady(pods[0]) ? pods : undefined;
    });
    const c = pod.spec!.containers[0];
    expect(c.securityContext).to.include({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(c.securityContext?.capabilities?.drop).to.deep.equal(['ALL']);
    expect(pod.spec!.securityContext?.runAsNonRoot).to.equal(true);
    // The kubelet verified the image's numeric user is not root (else CreateContainerConfigError), and it ran.
    const status = pod.status!.containerStatuses!.find((s) => s.name === 'manager')!;
    expect(status.ready).to.equal(true);
    expect(status.state?.running, JSON.stringify(status.state)).to.not.equal(undefined);
    // In-cluster config from its ServiceAccount token: it holds the Lease as that identity.
    // (An earlier spec's holder may still be on the record: that takes one LeaseDuration.)
    await eventually(`${pod.metadata!.name} to hold the Lease`, async () => ((await leaseHolderPod(cluster)) === pod.metadata!.name ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
  });
});
