// Proves the local cluster is a real Kubernetes control plane: the scheduler
// honours anti-affinity, kwok reports pods Ready, PodSecurity admission
// rejects privileged pods, and each profile has the advertised shape.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { findCondition, isConditionTrue } from '@memcached-operator/runtime';
import { createNamespace, deleteNamespace, ensureCluster, eventually, kubectl, type Profile } from '../support/cluster.js';
import { startApiserver, stopApiserver } from '../support/faults.js';

interface ProfileShape {
  nodes: number;
  topology?: [controlPlane: string, infrastructure: string];
}

const shapes: Record<Profile, ProfileShape> = {
  sno: { nodes: 1, topology: ['SingleReplica', 'SingleReplica'] },
  compact: { nodes: 3, topology: ['HighlyAvailable', 'HighlyAvailable'] },
  dual: { nodes: 2, topology: ['DualReplica', 'HighlyAvailable'] },
  arbiter: { nodes: 3, topology: ['HighlyAvailableArbiter', 'HighlyAvailable'] },
  external: { nodes: 2, topology: ['External', 'HighlyAvailable'] },
  vanilla: { nodes: 3 },
  // Last, so the suites after this one find the default profile running.
  ha: { nodes: 6, topology: ['HighlyAvailable', 'HighlyAvailable'] },
};

describe('local cluster', function () {
  this.timeout(240_000);

  for (const [profile, shape] of Object.entries(shapes) as [Profile, ProfileShape][]) {
    it(`profile ${profile} has ${shape.nodes} Ready nodes and ${shape.topology ? shape.topology.join('/') : 'no Infrastructure API'}`, async () => {
      const kc = ensureCluster(profile);
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const nodes = await core.listNode();
      expect(nodes.items).to.have.length(shape.nodes);
      for (const node of nodes.items) {
        expect(isConditionTrue(node.status?.conditions, 'Ready'), `node ${node.metadata?.name} Ready`).to.equal(true);
        expect(node.metadata?.labels?.['kubernetes.io/hostname']).to.equal(node.metadata?.name);
      }
      if (shape.topology) {
        const controlPlane = kubectl(['get', 'infrastructure', 'cluster', '-o', 'jsonpath={.status.controlPlaneTopology}']);
        const infrastructure = kubectl(['get', 'infrastructure', 'cluster', '-o', 'jsonpath={.status.infrastructureTopology}']);
        expect([controlPlane, infrastructure]).to.deep.equal(shape.topology);
      } else {
        const crds = kubectl(['get', 'crd', '-o', 'name']);
        expect(crds).not.to.contain('infrastructures.config.openshift.io');
      }
    });
  }

  describe('on the ha profile', () => {
    let kc: k8s.KubeConfig;
    let namespace: string;

    before(async () => {
      kc = ensureCluster('ha');
      namespace = await createNamespace(kc, 'cluster-proof', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    });
    after(async () => {
      await deleteNamespace(kc, namespace);
    });

    it('the apiserver reports the pinned version', () => {
      const version = JSON.parse(kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
      expect(version.serverVersion.gitVersion).to.match(/^v1\.36\.\d+$/);
    });

    it('places 3 anti-affine replicas on 3 distinct workers, Ready, and leaves a 4th Pending', async () => {
      const apps = kc.makeApiClient(k8s.AppsV1Api);
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const labels = { app: 'spread-proof' };
      await apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name: 'spread-proof' },
          spec: {
            replicas: 3,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                affinity: {
                  podAntiAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: [
                      { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: labels } },
                    ],
                  },
                },
                securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
                containers: [
                  {
                    name: 'app',
                    image: 'registry.invalid/pause:3',
                    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                  },
                ],
              },
            },
          },
        },
      });

      const available = await eventually('the Deployment to be Available with 3 ready replicas', async () => {
        const d = await apps.readNamespacedDeployment({ namespace, name: 'spread-proof' });
        return isConditionTrue(d.status?.conditions, 'Available') && d.status?.readyReplicas === 3 ? d : undefined;
      });
      expect(available.status?.readyReplicas).to.equal(3);

      const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=spread-proof' });
      const nodeNames = pods.items.map((p) => p.spec?.nodeName);
      expect(new Set(nodeNames).size).to.equal(3);
      for (const name of nodeNames) expect(name).to.match(/^worker-\d$/);

      await apps.patchNamespacedDeploymentScale(
        { namespace, name: 'spread-proof', body: { spec: { replicas: 4 } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const unschedulable = await eventually('the 4th replica to be reported unschedulable', async () => {
        const list = await core.listNamespacedPod({ namespace, labelSelector: 'app=spread-proof' });
        return list.items.find((p) => findCondition(p.status?.conditions, 'PodScheduled')?.reason === 'Unschedulable');
      });
      expect(unschedulable.status?.phase).to.equal('Pending');
      expect(unschedulable.spec?.nodeName).to.equal(undefined);
    });

    it('PodSecurity admission rejects a privileged pod in a restricted namespace', async () => {
      const core = kc.makeApiClient(k8s.CoreV1Api);
      let error: unknown;
      try {
        await core.createNamespacedPod({
          namespace,
          body: {
            metadata: { name: 'privileged' },
            spec: { containers: [{ name: 'c', image: 'registry.invalid/pause:3', securityContext: { privileged: true } }] },
          },
        });
      } catch (err) {
        error = err;
      }
      expect(error, 'creating a privileged pod must fail').to.be.instanceOf(k8s.ApiException);
      const apiError = error as k8s.ApiException<string>;
      expect(apiError.code).to.equal(403);
      const status = JSON.parse(String(apiError.body)) as { reason: string; message: string };
      expect(status.reason).to.equal('Forbidden');
      expect(status.message).to.contain('violates PodSecurity "restricted:latest"');
      expect(status.message).to.contain('privileged');
    });

    it('after an apiserver restart, a new Pod runs again promptly (kwok reconnects like a kubelet)', async function () {
      this.timeout(120_000);
      await stopApiserver();
      kc = await startApiserver();
      const core = kc.makeApiClient(k8s.CoreV1Api);
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: 'after-restart' },
          spec: {
            nodeName: 'worker-0',
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'c',
                image: 'registry.invalid/pause:3',
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      });
      // Left to its own watch retry, kwok took from 30 s to over 120 s here;
      // cluster.sh start-apiserver restarts it, so this is a matter of seconds.
      await eventually(
        'the Pod to run',
        async () => ((await core.readNamespacedPod({ name: 'after-restart', namespace })).status?.phase === 'Running' ? true : undefined),
        { timeoutMs: 20_000 },
      );
    });
  });
});
