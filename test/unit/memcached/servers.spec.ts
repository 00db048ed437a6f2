import { expect } from 'chai';
import type { V1Pod, V1PodTemplateSpec, V1StatefulSet } from '@kubernetes/client-node';
import type { MemcachedSpec, ServerOperationStatus } from '../../../src/api/types.js';
import { warmRestartCapable } from '../../../src/memcached/children/args.js';
import { buildPodTemplate, CACHE_VOLUME, cacheVolumeMi, MEMORY_ANNOTATION, MEMORY_FILE_SLACK_MI, POD_SPEC_HASH_ANNOTATION, RAM_DISK_ANNOTATION } from '../../../src/memcached/children/statefulset.js';
import { containerMemoryMi } from '../../../src/memcached/children/resources.js';
import { AUTHFILE_HASH_ANNOTATION } from '../../../src/memcached/tls/secure-serving.js';
import { changeFor, crowdedUnderRequired, withPodSpecHash, type ServerChange } from '../../../src/memcached/servers/changes.js';
import { MIN_READY_SECONDS, nextStep, settleWaitMs, statefulSetReplicas, type ServerStep, type ServerWorld } from '../../../src/memcached/servers/planner.js';
import { podCacheBehind } from '../../../src/memcached/servers/steps.js';
import { buildServersConfigMap, ordinalOf, publishedServers, serverList } from '../../../src/memcached/servers/serverlist.js';
import { COMPACT, HIGHLY_AVAILABLE, defaulted, memcached } from './fixtures.js';

const REVISION = 'cache-abc';

function template(spec: MemcachedSpec = {}, annotations: Record<string, string> = {}, placement = HIGHLY_AVAILABLE, runAsUser?: number): V1PodTemplateSpec {
  const opts = { defaultImage: 'memcached:1.6', replicas: 3, podAnnotations: annotations, ...(runAsUser !== undefined ? { runAsUser } : {}) };
  return withPodSpecHash(buildPodTemplate(memcached(spec), defaulted(spec), placement, opts));
}

/** A running pod as the StatefulSet controller would create it from a template (and the kubelet report it). */
function podFrom(t: V1PodTemplateSpec, ordinal: number, ready = true): V1Pod {
  return {
    metadata: { name: `cache-${ordinal}`, uid: `uid-${ordinal}`, labels: { ...t.metadata?.labels, 'controller-revision-hash': REVISION }, annotations: { ...t.metadata?.annotations } },
    spec: structuredClone(t.spec!),
    status: { podIP: `10.0.0.${ordinal}`, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [{ name: 'memcached', restartCount: 0, ready, image: '', imageID: '' }] },
  };
}

function statefulSet(replicas: number, available = replicas): V1StatefulSet {
  return {
    metadata: { name: 'cache', generation: 2 },
    spec: { replicas, selector: {}, serviceName: 'cache-servers', template: {} },
    status: { replicas, observedGeneration: 2, availableReplicas: available, readyReplicas: available, updateRevision: REVISION },
  };
}

describe('the published server list', () => {
  const mc = memcached({}, 'cache');
  it('names each server by ordinal on the <name>-servers Service, in order, from a count', () => {
    expect(serverList(mc, defaulted({}), 3)).to.deep.equal([
      'cache-0.cache-servers.apps.svc:11211',
      'cache-1.cache-servers.apps.svc:11211',
      'cache-2.cache-servers.apps.svc:11211',
    ]);
  });
  it('uses the container port, the TLS one when TLS is on', () => {
    expect(serverList(mc, defaulted({ containerPort: 11311 }), 1)).to.deep.equal(['cache-0.cache-servers.apps.svc:11311']);
  });
  it('round-trips through the ConfigMap, one per line', () => {
    const list = serverList(mc, defaulted({}), 4);
    const cm = buildServersConfigMap(mc, list);
    expect(cm.metadata?.name).to.equal('cache-servers');
    expect(publishedServers(cm)).to.deep.equal(list);
    expect(publishedServers(undefined)).to.equal(undefined);
  });
  const ordinals: [string, number | undefined][] = [
    ['cache-0', 0],
    ['cache-12', 12],
    ['cache-01', undefined],
    ['cache-5d8f7c9b4-abcde', undefined],
    ['other-1', undefined],
  ];
  for (const [name, want] of ordinals) {
    it(`reads the ordinal of ${name} as ${want}`, () => expect(ordinalOf(mc, { metadata: { name } })).to.equal(want));
  }
});

describe('warm restarts need memcached -e to fit', () => {
  const cases: [MemcachedSpec, boolean][] = [
    [{}, true],
    [{ memoryLimitMB: 32 }, false],
    [{ memoryLimitMB: 64, maxItemSize: '1m' }, true],
    [{ memoryLimitMB: 256, maxItemSize: '4m' }, false],
  ];
  for (const [spec, want] of cases) it(`${JSON.stringify(spec)} → ${want}`, () => expect(warmRestartCapable(defaulted(spec))).to.equal(want));
});

/** The largest -m a pod started with the default 64 MB takes in place: its RAM disk (the container's limit) less the file's slack. */
const LARGEST_IN_PLACE_MB = cacheVolumeMi(64, containerMemoryMi(64)) - MEMORY_FILE_SLACK_MI;

describe('what a running server needs to match the template', () => {
  const base = template();
  const cases: [string, V1PodTemplateSpec, ServerChange | undefined][] = [
    ['nothing changed', base, undefined],
    ['a new image (same args)', template({ image: 'memcached:1.6-other' }), 'image'],
    ['a new authfile', template({}, { [AUTHFILE_HASH_ANNOTATION]: 'new' }), 'restart'],
    ['memoryLimitMB raised as far as the RAM disk holds', template({ memoryLimitMB: LARGEST_IN_PLACE_MB }), 'memory'],
    ['memoryLimitMB raised a MB past the RAM disk', template({ memoryLimitMB: LARGEST_IN_PLACE_MB + 1 }), 'replace'],
    ['memoryLimitMB raised far beyond the RAM disk', template({ memoryLimitMB: 1024 }), 'replace'],
    ['more threads (an argument)', template({ threads: 8 }), 'replace'],
    ['a CPU request', template({ resources: { requests: { cpu: '1' } } }), 'resize'],
  ];
  for (const [what, wanted, change] of cases) {
    it(`${what} → ${change ?? 'nothing'}`, () => expect(changeFor(podFrom(base, 0), wanted, REVISION)).to.equal(change));
  }
  it('a RAM disk is the size it was mounted at (RAM_DISK_ANNOTATION), not what a later resize says', () => {
    const pod = podFrom(base, 0);
    const resized: V1Pod = { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata!.annotations, [RAM_DISK_ANNOTATION]: '112' } } };
    expect(changeFor(resized, template({ memoryLimitMB: 96 }), REVISION)).to.equal('memory');
    expect(changeFor(resized, template({ memoryLimitMB: 97 }), REVISION)).to.equal('replace');
  });
  it('a RAM disk whose sizeLimit says more than the pod\'s memory limit holds only the limit (the kubelet mounts the smaller)', () => {
    const pod = podFrom(base, 0);
    const { [RAM_DISK_ANNOTATION]: _mounted, ...annotations } = pod.metadata!.annotations!;
    const bigDisk: V1Pod = { ...pod, metadata: { ...pod.metadata, annotations }, spec: { ...pod.spec!, volumes: pod.spec!.volumes!.map((v) => (v.name === CACHE_VOLUME ? { ...v, emptyDir: { ...v.emptyDir, sizeLimit: '272Mi' } } : v)) } };
    // The pod's memory limit, in MiB, less the 16 MiB a -m leaves free on its RAM disk.
    const largestInPlace = Number(/^(\d+)Mi$/.exec(String(pod.spec!.containers[0].resources!.limits!.memory))![1]) - 16;
    expect(changeFor(bigDisk, template({ memoryLimitMB: largestInPlace }), REVISION)).to.equal('memory');
    expect(changeFor(bigDisk, template({ memoryLimitMB: largestInPlace + 1 }), REVISION)).to.equal('replace');
  });
  it('Required anti-affinity relaxed: replaced only to add servers beyond the nodes (it keeps new pods off its node)', () => {
    expect(changeFor(podFrom(base, 0), template({}, {}, COMPACT), REVISION, true)).to.equal('replace');
    expect(changeFor(podFrom(base, 0), template({}, {}, COMPACT), REVISION, false)).to.equal(undefined);
  });
  it('servers sharing a node once the template requires one per node: every one after the first is replaced', () => {
    const on = (node: string | undefined, i: number): V1Pod => ({ ...podFrom(base, i), spec: { ...podFrom(base, i).spec!, ...(node ? { nodeName: node } : {}) } });
    expect(crowdedUnderRequired([on('a', 0), on('b', 1), on('a', 2), on('a', 3)], base)).to.deep.equal([2, 3]);
    expect(crowdedUnderRequired([on('a', 0), on(undefined, 1), on('b', 2)], base)).to.deep.equal([]);
    expect(crowdedUnderRequired([on('a', 0), on('a', 1)], template({}, {}, COMPACT)), 'Preferred allows it').to.deep.equal([]);
  });
  it('a scheduling-only tightening (anti-affinity now Required) replaces no pod', () => {
    expect(changeFor(podFrom(template({}, {}, COMPACT), 0), base, REVISION)).to.equal(undefined);
  });
  it('a uid set, or left to the platform (OpenShift found or gone), replaces no pod: a running server keeps the uid it started with', () => {
    const kubernetes = template({}, {}, HIGHLY_AVAILABLE, 11211);
    const openShift = template();
    expect(kubernetes.spec?.securityContext?.runAsUser).to.equal(11211);
    expect(openShift.spec?.securityContext?.runAsUser).to.equal(undefined);
    expect(changeFor(podFrom(kubernetes, 0), openShift, REVISION)).to.equal(undefined);
    expect(changeFor(podFrom(openShift, 0), kubernetes, REVISION)).to.equal(undefined);
    expect(changeFor(podFrom(kubernetes, 0), openShift, 'cache-newer'), 'it only needs the new revision label').to.equal('relabel');
  });
  it('a pod of an older revision that runs the same thing only needs its label', () => {
    expect(changeFor(podFrom(base, 0), base, 'cache-newer')).to.equal('relabel');
  });
  it('hashes equal templates equally and changed ones not', () => {
    expect(base.metadata?.annotations?.[POD_SPEC_HASH_ANNOTATION]).to.equal(template().metadata?.annotations?.[POD_SPEC_HASH_ANNOTATION]);
    expect(base.metadata?.annotations?.[POD_SPEC_HASH_ANNOTATION]).to.not.equal(template({ threads: 8 }).metadata?.annotations?.[POD_SPEC_HASH_ANNOTATION]);
  });
  it('carries -m in a pod annotation and keeps the cache on a RAM disk', () => {
    expect(base.metadata?.annotations?.[MEMORY_ANNOTATION]).to.equal('64');
    expect(base.spec?.volumes?.find((v) => v.name === CACHE_VOLUME)?.emptyDir?.medium).to.equal('Memory');
    expect(base.spec?.containers[0].args).to.include.members(['-e', '-A']);
  });
});

const NOW = new Date('2026-12-07T12:00:00Z');

/** The pod, Ready since `secondsAgo` before NOW (negative: a node clock ahead of the operator's). */
function readyFor(pod: V1Pod, secondsAgo: number): V1Pod {
  const at = new Date(NOW.getTime() - secondsAgo * 1000);
  return { ...pod, status: { ...pod.status, conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at }] } };
}

describe('the next step on the servers', () => {
  const t = template();
  function world(shape: Partial<ServerWorld> & { ready?: number }): ServerWorld {
    const count = statefulSetReplicas(shape.target ?? 3, shape.published);
    const pods = shape.pods ?? Array.from({ length: count }, (_, i) => podFrom(t, i, i < (shape.ready ?? count)));
    return {
      target: 3,
      published: 3,
      statefulSet: statefulSet(count, shape.ready ?? count),
      legacyPods: [],
      template: t,
      operation: undefined,
      now: NOW,
      ...shape,
      pods,
    };
  }
  const running = (server: string | undefined, type: ServerOperationStatus['type'] = 'WarmRestart'): ServerOperationStatus => ({
    type, phase: 'Running', startedAt: '2026-12-07T00:00:00Z', message: 'x', ...(server ? { server } : {}),
  });
  const imageChanged = template({ image: 'memcached:other' });
  const cases: [string, ServerWorld, ServerStep][] = [
    ['a new cache publishes at once', world({ published: undefined }), { kind: 'publish', count: 3 }],
    ['a cache from a Deployment migrates once its servers are up', world({ published: undefined, legacyPods: [podFrom(t, 9)] }), { kind: 'migrate', count: 3 }],
    ['nothing while a server is not Ready', world({ ready: 2, template: imageChanged }), { kind: 'idle', waiting: 'servers starting' }],
    ['a larger target scales up from the published count', world({ target: 4, published: 3 }), { kind: 'scaleUp', from: 3, to: 4 }],
    ['a smaller target scales down, keeping the servers until it is published', world({ target: 3, published: 4 }), { kind: 'scaleDown', from: 4, to: 3 }],
    ['a new image goes to the first server first', world({ template: imageChanged }), { kind: 'change', ordinal: 0, change: 'image' }],
    ['steady', world({}), { kind: 'idle' }],
  ];
  for (const [what, w, step] of cases) it(what, () => expect(nextStep(w)).to.deep.equal(step));

  it('finishes the server in progress once it runs the template, saying whether others follow', () => {
    const pods = [podFrom(imageChanged, 0), podFrom(t, 1), podFrom(t, 2)];
    expect(nextStep(world({ template: imageChanged, pods, operation: running('cache-0') }))).to.deep.equal({ kind: 'finish', ordinal: 0, more: true });
    const done = [podFrom(imageChanged, 0), podFrom(imageChanged, 1), podFrom(imageChanged, 2)];
    expect(nextStep(world({ template: imageChanged, pods: done, operation: running('cache-2') }))).to.deep.equal({ kind: 'finish', ordinal: 2, more: false });
  });
  it('finishes a server\'s operation before it scales (its keys may be parked on its peers)', () => {
    const pods = [podFrom(t, 0), podFrom(t, 1), podFrom(t, 2), podFrom(t, 3)];
    expect(nextStep(world({ target: 4, published: 3, pods, operation: running('cache-2', 'Replace') }))).to.deep.equal({ kind: 'finish', ordinal: 2, more: false });
  });
  describe('servers settle before a step that moves or restarts something', () => {
    const settled = (secondsAgo: number[], tpl = t) => secondsAgo.map((s, i) => readyFor(podFrom(tpl, i), s));
    const settle: [string, number[], number][] = [
      ['all Ready long enough', [60, 30, MIN_READY_SECONDS], 0],
      ['the last one Ready 3 s ago', [60, 30, 3], (MIN_READY_SECONDS - 3) * 1000],
      ['one just Ready', [60, 0, 5], MIN_READY_SECONDS * 1000],
      ['a Ready time ahead of the operator (clock skew) waits no longer than the settle time', [60, -300, 60], MIN_READY_SECONDS * 1000],
    ];
    for (const [what, ages, wait] of settle) it(`${what}: waits ${wait} ms`, () => expect(settleWaitMs(world({ pods: settled(ages) }), 3)).to.equal(wait));
    it('a change waits, and says when to look again', () => {
      expect(nextStep(world({ template: imageChanged, pods: settled([60, 60, 4]) }))).to.deep.equal({ kind: 'idle', waiting: 'servers settling', retryMs: (MIN_READY_SECONDS - 4) * 1000 });
      expect(nextStep(world({ template: imageChanged, pods: settled([60, 60, 60]) }))).to.deep.equal({ kind: 'change', ordinal: 0, change: 'image' });
    });
    it('a scale waits too', () => {
      expect(nextStep(world({ target: 4, published: 3, pods: settled([60, 60, 60, 1]) }))).to.deep.equal({ kind: 'idle', waiting: 'servers settling', retryMs: (MIN_READY_SECONDS - 1) * 1000 });
    });
    it('a new cache with nothing to do is done as soon as its servers are Ready', () => {
      expect(nextStep(world({ pods: settled([0, 0, 0]) }))).to.deep.equal({ kind: 'idle' });
    });
  });
  it('scales down past a server that cannot be scheduled (its node gone), and waits for one that is only starting', () => {
    const pending = (i: number): V1Pod => ({ ...podFrom(t, i, false), status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } });
    const pods = [podFrom(t, 0), pending(1), pending(2)];
    expect(nextStep(world({ target: 1, published: 3, pods }))).to.deep.equal({ kind: 'scaleDown', from: 3, to: 1 });
    expect(nextStep(world({ target: 3, published: 3, pods }))).to.deep.equal({ kind: 'idle', waiting: 'servers starting' });
    expect(nextStep(world({ target: 1, published: 3, pods: [podFrom(t, 0), podFrom(t, 1, false), podFrom(t, 2)] }))).to.deep.equal({ kind: 'idle', waiting: 'servers starting' });
  });
  it('replaces a server sharing a node once the template requires one per node', () => {
    const on = (node: string, i: number): V1Pod => ({ ...podFrom(t, i), spec: { ...podFrom(t, i).spec!, nodeName: node } });
    expect(nextStep(world({ pods: [on('a', 0), on('b', 1), on('b', 2)] }))).to.deep.equal({ kind: 'change', ordinal: 2, change: 'replace' });
  });
  it('looks again when the StatefulSet counts more Ready pods than the pod cache shows', () => {
    const sts = statefulSet(3, 3);
    expect(podCacheBehind(sts, [podFrom(t, 0), podFrom(t, 1), podFrom(t, 2)])).to.equal(false);
    expect(podCacheBehind(sts, [podFrom(t, 0), podFrom(t, 1), podFrom(t, 2, false)])).to.equal(true);
    expect(podCacheBehind(sts, [podFrom(t, 0), podFrom(t, 1), undefined])).to.equal(true);
    expect(podCacheBehind(statefulSet(3, 2), [podFrom(t, 0), podFrom(t, 1), podFrom(t, 2, false)])).to.equal(false);
  });
  it('goes on with the next server of a rollout, and ends a rollout with nothing left', () => {
    const pods = [podFrom(imageChanged, 0), podFrom(t, 1), podFrom(t, 2)];
    expect(nextStep(world({ template: imageChanged, pods, operation: running(undefined) }))).to.deep.equal({ kind: 'change', ordinal: 1, change: 'image' });
    expect(nextStep(world({ operation: running(undefined) }))).to.deep.equal({ kind: 'conclude' });
  });
});
