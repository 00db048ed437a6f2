import { expect } from 'chai';
import type { V1Pod, V1StatefulSet, V1StatefulSetStatus } from '@kubernetes/client-node';
import { findCondition, projectionChanged } from '@memcached-operator/runtime';
import {
  childAddMatters,
  childProjection,
  memcachedUpdateMatters,
  podAddMatters,
  podGainedReadinessOnly,
  podLostReadiness,
  podProjection,
  projectPod,
  statefulSetAddMatters,
  statefulSetCompletedRollout,
  statefulSetLostReadiness,
  statefulSetProjection,
  statefulSetUrgent,
} from '../../../src/memcached/watchfilters.js';
import type { Memcached } from '../../../src/api/types.js';

interface PodOptions {
  rv?: string;
  ready?: boolean;
  node?: string;
  ip?: string;
  waiting?: string;
  restarts?: number;
  deleting?: boolean;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  image?: string;
}

function pod(over: PodOptions = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: 'ns',
      name: 'cache-abc',
      resourceVersion: over.rv ?? '1',
      labels: over.labels ?? { 'app.kubernetes.io/instance': 'cache' },
      annotations: { big: 'x'.repeat(100), ...(over.annotations ?? {}) },
      managedFields: [{ manager: 'kubelet', operation: 'Update' }],
      ...(over.deleting ? { deletionTimestamp: new Date('2026-11-26T00:00:00Z') } : {}),
    },
    spec: {
      nodeName: over.node,
      containers: [
        {
          name: 'memcached',
          image: over.image ?? 'memcached:1.6',
          args: ['-m', '64'],
          ports: [{ name: 'memcached', containerPort: 11211 }],
          resources: { limits: { memory: '96Mi' } },
        },
      ],
      volumes: [{ name: 'v', emptyDir: {} }, { name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '96Mi' } }],
    },
    status: {
      phase: 'Running',
      podIP: over.ip ?? '10.0.0.1',
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Ready', status: over.ready ? 'True' : 'False', lastProbeTime: new Date('2026-11-26T00:00:00Z') },
      ],
      containerStatuses: [
        {
          name: 'memcached',
          image: 'memcached:1.6',
          imageID: 'sha',
          ready: !!over.ready,
          restartCount: over.restarts ?? 0,
          started: true,
          state: over.waiting ? { waiting: { reason: over.waiting } } : { running: { startedAt: new Date('2026-11-26T00:00:00Z') } },
          lastState: {},
        },
      ],
    },
  };
}

describe('memcached/watchfilters', () => {
  describe('add events of children', () => {
    const statefulSetCases: Array<[string, Partial<V1StatefulSetStatus> | undefined, boolean]> = [
      ['just created by the operator: no status, dropped', undefined, false],
      ['a zero status: dropped', { replicas: 0 }, false],
      ['seen by the StatefulSet controller (observedGeneration): passes', { observedGeneration: 1, replicas: 0 }, true],
      ['with replicas (a relist after a watch gap): passes', { replicas: 3, readyReplicas: 3 }, true],
      ['with available replicas only: passes', { replicas: 0, availableReplicas: 1 }, true],
    ];
    for (const [name, status, want] of statefulSetCases) {
      it(`StatefulSet ${name}`, () =>
        expect(statefulSetAddMatters({ metadata: { name: 'c', namespace: 'ns' }, ...(status ? { status: status as V1StatefulSetStatus } : {}) })).to.equal(want));
    }

    const podCases: Array<[string, V1Pod, boolean]> = [
      ['fresh from the ReplicaSet (unbound, no status): dropped', { metadata: { name: 'p' }, spec: { containers: [] }, status: { phase: 'Pending' } }, false],
      ['with no spec or status at all: dropped', { metadata: { name: 'p' } }, false],
      ['bound to a node: passes', { metadata: { name: 'p' }, spec: { containers: [], nodeName: 'n1' } }, true],
      ['unschedulable (a PodScheduled condition): passes', { metadata: { name: 'p' }, status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } }, true],
      ['Ready (a relist after a watch gap): passes', pod({ ready: true }), true],
      ['with container statuses: passes', { metadata: { name: 'p' }, status: { containerStatuses: [{ name: 'm', image: 'i', imageID: '', ready: false, restartCount: 0 }] } }, true],
    ];
    for (const [name, p, want] of podCases) {
      it(`Pod ${name}`, () => expect(podAddMatters(p)).to.equal(want));
    }

    it('Services and PodDisruptionBudgets: the add is the echo of our own creation, dropped', () => expect(childAddMatters()).to.equal(false));
  });

  it('projects a Pod, in place, to what the reconciler reads', () => {
    const p = pod({ node: 'n1', ready: true, annotations: { 'cache.example.com/memory-mb': '64' } });
    const out = projectPod(p);
    expect(out).to.equal(p);
    expect(out.metadata?.managedFields).to.equal(undefined);
    // Only the operator's own annotations stay: they say what each server runs.
    expect(out.metadata?.annotations).to.deep.equal({ 'cache.example.com/memory-mb': '64' });
    expect(out.metadata?.labels).to.deep.equal({ 'app.kubernetes.io/instance': 'cache' });
    // Names and ports stay (the stats poll, the exporter and rotation connect to them), and the
    // image, resources and RAM disk the servers' in-place changes compare.
    expect(out.spec).to.deep.equal({
      containers: [{ name: 'memcached', image: 'memcached:1.6', ports: [{ name: 'memcached', containerPort: 11211 }], resources: { limits: { memory: '96Mi' } } }],
      nodeName: 'n1',
      volumes: [{ name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '96Mi' } }],
    });
    expect(projectPod(pod()).metadata?.annotations, 'no annotation of ours: none kept').to.equal(undefined);
    // The affinity a pod was scheduled with stays: a Required one keeps new pods off its node until it is replaced.
    const affinity = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }] } };
    const scheduled = pod();
    scheduled.spec!.affinity = affinity;
    expect(projectPod(scheduled).spec?.affinity).to.deep.equal(affinity);
    expect(out.status?.podIP).to.equal('10.0.0.1');
    expect(findCondition(out.status?.conditions, 'Ready')?.status).to.equal('True');
    expect(out.status?.containerStatuses?.[0]).to.include({ name: 'memcached', ready: true, restartCount: 0, image: 'memcached:1.6' });
    expect(out.status?.containerStatuses?.[0].state?.running?.startedAt).to.be.instanceOf(Date);
  });

  it('lets a Pod update through only when readiness, node, labels, our annotations, image, deletion or a trouble changed', () => {
    const p = projectionChanged<V1Pod>(podProjection);
    const base = pod({ rv: '1' });
    const table: Array<[string, V1Pod, boolean]> = [
      ['pod IP only', pod({ rv: '2', ip: '10.0.0.2' }), false],
      ['resync', pod({ rv: '1' }), false],
      ['became Ready', pod({ rv: '2', ready: true }), true],
      ['scheduled', pod({ rv: '2', node: 'n1' }), true],
      ['image pull trouble', pod({ rv: '2', waiting: 'ImagePullBackOff' }), true],
      ['restarted', pod({ rv: '2', restarts: 1 }), true],
      ['terminating', pod({ rv: '2', deleting: true }), true],
      ['relabelled', pod({ rv: '2', labels: { 'app.kubernetes.io/instance': 'other' } }), true],
      ['re-annotated (memory changed in place)', pod({ rv: '2', annotations: { 'cache.example.com/memory-mb': '128' } }), true],
      ['a new image', pod({ rv: '2', image: 'memcached:1.7' }), true],
    ];
    for (const [what, now, want] of table) expect(p.update!(now, base), what).to.equal(want);
  });

  it('lets a StatefulSet update through for spec, metadata and the status fields status.ts reads', () => {
    const p = projectionChanged<V1StatefulSet>(statefulSetProjection);
    const d = (status: Partial<V1StatefulSetStatus>, replicas = 3, rv = '1'): V1StatefulSet => ({
      metadata: { name: 'cache', resourceVersion: rv, generation: 1 },
      spec: { replicas, selector: {}, serviceName: 'cache-servers', template: {} },
      status: { replicas: 3, ...status },
    });
    const base = d({ observedGeneration: 1, readyReplicas: 1, currentRevision: 'cache-1', updateRevision: 'cache-1', collisionCount: 0 });
    expect(p.update!(d({ ...base.status, collisionCount: 1 }, 3, '2'), base), 'a field status.ts does not read').to.equal(false);
    expect(p.update!(d({ ...base.status, currentRevision: 'cache-2' }, 3, '2'), base), 'currentRevision (not read: OnDelete)').to.equal(false);
    expect(p.update!(d({ ...base.status, readyReplicas: 2 }, 3, '2'), base), 'readyReplicas').to.equal(true);
    expect(p.update!(d({ ...base.status, availableReplicas: 1 }, 3, '2'), base), 'availableReplicas').to.equal(true);
    expect(p.update!(d({ ...base.status, updatedReplicas: 1 }, 3, '2'), base), 'updatedReplicas').to.equal(true);
    expect(p.update!(d({ ...base.status, updateRevision: 'cache-2' }, 3, '2'), base), 'a new template revision').to.equal(true);
    expect(p.update!(d(base.status!, 5, '2'), base), 'spec drift').to.equal(true);
  });

  it('ignores status-only updates of Services and PDBs', () => {
    const p = projectionChanged(childProjection);
    const pdb = (healthy: number, minAvailable = 2) => ({ metadata: { name: 'cache', resourceVersion: String(healthy) }, spec: { minAvailable }, status: { currentHealthy: healthy } });
    expect(p.update!(pdb(3), pdb(1))).to.equal(false);
    expect(p.update!(pdb(1, 1), pdb(1))).to.equal(true);
  });

  it('reconciles a Memcached on spec, metadata and resync, not on its own status write', () => {
    const p = memcachedUpdateMatters<Memcached>();
    const mc = (rv: string, over: { generation?: number; finalizers?: string[]; ready?: number } = {}): Memcached =>
      ({ apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name: 'c', namespace: 'ns', resourceVersion: rv, generation: over.generation ?? 1, finalizers: over.finalizers }, spec: { size: 3 }, status: { readyReplicas: over.ready ?? 0 } });
    expect(p.update!(mc('2', { ready: 3 }), mc('1')), 'status write echo').to.equal(false);
    expect(p.update!(mc('1'), mc('1')), 'periodic resync').to.equal(true);
    expect(p.update!(mc('2', { generation: 2 }), mc('1')), 'spec change').to.equal(true);
    expect(p.update!(mc('2', { finalizers: [] }), mc('1', { finalizers: ['cache.example.com/finalizer'] })), 'finalizer removed').to.equal(true);
  });

  it('skips the coalescing wait only when readiness is lost (a replica lost is news; gains can wait)', () => {
    const sts = (ready: number): V1StatefulSet => ({ metadata: { name: 'cache', namespace: 'ns' }, status: { replicas: 3, readyReplicas: ready } });
    const statefulSets: Array<[string, V1StatefulSet, V1StatefulSet | undefined, boolean]> = [
      ['created', sts(0), undefined, false],
      ['a replica turned Ready', sts(3), sts(2), false],
      ['a replica lost', sts(2), sts(3), true],
      ['no ready count yet, then one', sts(1), { metadata: {} }, false],
      ['unchanged', sts(3), sts(3), false],
    ];
    for (const [what, now, old, urgent] of statefulSets) expect(statefulSetLostReadiness(now, old), what).to.equal(urgent);
    const pods: Array<[string, V1Pod, V1Pod | undefined, boolean]> = [
      ['created', pod({ ready: false }), undefined, false],
      ['deleted (the StatefulSet reports the loss)', pod({ ready: true }), undefined, false],
      ['turned Ready', pod({ rv: '2', ready: true }), pod({ ready: false }), false],
      ['stopped being Ready', pod({ rv: '2', ready: false }), pod({ ready: true }), true],
      ['terminating while Ready', pod({ rv: '2', ready: true, deleting: true }), pod({ ready: true }), true],
      ['still Ready', pod({ rv: '2', ready: true, restarts: 1 }), pod({ ready: true }), false],
    ];
    for (const [what, now, old, urgent] of pods) expect(podLostReadiness(now, old), what).to.equal(urgent);
  });

  it('drops a pod turning Ready and nothing else (the StatefulSet\'s readyReplicas brings it), and passes every other change', () => {
    const cases: Array<[string, V1Pod, V1Pod | undefined, boolean]> = [
      ['turned Ready', pod({ rv: '2', ready: true }), pod({ ready: false }), true],
      ['turned Ready from ContainerCreating', pod({ rv: '2', ready: true }), pod({ ready: false, waiting: 'ContainerCreating' }), true],
      ['turned Ready after a restart (the restart count is news)', pod({ rv: '2', ready: true, restarts: 1 }), pod({ ready: false }), false],
      ['turned Ready with a new image', pod({ rv: '2', ready: true, image: 'memcached:1.7' }), pod({ ready: false }), false],
      ['turned Ready and relabelled', pod({ rv: '2', ready: true, labels: { 'app.kubernetes.io/instance': 'cache', x: 'y' } }), pod({ ready: false }), false],
      ['stopped being Ready', pod({ rv: '2', ready: false }), pod({ ready: true }), false],
      ['still Ready', pod({ rv: '2', ready: true, restarts: 1 }), pod({ ready: true }), false],
      ['created Ready (a relist)', pod({ ready: true }), undefined, false],
    ];
    for (const [what, now, old, dropped] of cases) expect(podGainedReadinessOnly(now, old), what).to.equal(dropped);
  });

  it('skips the coalescing wait when a rollout completes (the burst is over; Available should not wait)', () => {
    const dep = (o: { generation?: number; observed?: number; replicas?: number; updated?: number; ready?: number; available?: number; desired?: number }): V1StatefulSet => ({
      metadata: { name: 'cache', namespace: 'ns', generation: o.generation ?? 1 },
      spec: { replicas: o.desired ?? 3, selector: {}, serviceName: 'cache-servers', template: {} },
      status: { observedGeneration: o.observed ?? 1, replicas: o.replicas ?? 3, updatedReplicas: o.updated ?? 3, readyReplicas: o.ready ?? 3, availableReplicas: o.available ?? 3 },
    });
    const done = dep({});
    const cases: Array<[string, V1StatefulSet, V1StatefulSet | undefined, boolean]> = [
      ['created complete (an add, not an update)', done, undefined, false],
      ['the last replica turned Ready and available', done, dep({ ready: 2, available: 2 }), true],
      ['Ready but not yet available', dep({ available: 2 }), dep({ ready: 2, available: 2 }), false],
      ['complete and still complete (a resync)', done, done, false],
      ['a new spec not yet observed', dep({ generation: 2 }), dep({ ready: 2, available: 2 }), false],
      ['a removed server still terminating', dep({ replicas: 4 }), dep({ ready: 2, available: 2, replicas: 4 }), false],
      ['OnDelete: every server Ready, one not on the new template yet', dep({ updated: 2 }), dep({ updated: 2, ready: 2, available: 2 }), false],
      ['the last server brought to the new template', done, dep({ updated: 2 }), true],
      ['scaled down to 2: the extra replica gone', dep({ desired: 2, replicas: 2, updated: 2, ready: 2, available: 2 }), dep({ desired: 2, replicas: 3, updated: 3, ready: 3, available: 3 }), true],
      ['status not written yet', done, { metadata: { name: 'cache', namespace: 'ns', generation: 1 }, spec: { replicas: 3, selector: {}, serviceName: 'cache-servers', template: {} } }, true],
    ];
    for (const [what, now, old, urgent] of cases) expect(statefulSetCompletedRollout(now, old), what).to.equal(urgent);
    expect(statefulSetUrgent(dep({ ready: 2, available: 2 }), done), 'a replica lost').to.equal(true);
    expect(statefulSetUrgent(done, dep({ ready: 2, available: 2 })), 'rollout completed').to.equal(true);
    expect(statefulSetUrgent(dep({ ready: 2, available: 2 }), dep({ ready: 1, available: 1 })), 'a replica gained, not yet done').to.equal(false);
  });
});
