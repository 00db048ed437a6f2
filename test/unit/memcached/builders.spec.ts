import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { V1PodSpec, V1StatefulSet } from '@kubernetes/client-node';
import type { MemcachedSpec } from '../../../src/api/types.js';
import type { Placement } from '../../../src/topology/types.js';
import { DEFAULT_MAX_CONNECTIONS, WARM_RESTART_MIN_MB, renderArgs, warmRestartCapable } from '../../../src/memcached/children/args.js';
import {
  CACHE_VOLUME,
  MEMORY_ANNOTATION, RAM_DISK_ANNOTATION,
  MEMORY_FILE,
  OFFICIAL_IMAGE_UID,
  buildStatefulSet,
  cacheVolumeMi,
  type StatefulSetOptions,
} from '../../../src/memcached/children/statefulset.js';
import { selectorLabels, standardLabels } from '../../../src/memcached/children/metadata.js';
import { buildPodDisruptionBudget } from '../../../src/memcached/children/pdb.js';
import { buildResources, containerMemoryMi, hashTablePeakMi, quantityValue } from '../../../src/memcached/children/resources.js';
import { buildHeadlessService, buildServersService, buildService } from '../../../src/memcached/children/services.js';
import { COMPACT, HIGHLY_AVAILABLE, SINGLE_NODE, defaulted, memcached } from './fixtures.js';
import { repoRoot } from '../../support/cluster.js';

const IMAGE = 'docker.io/library/memcached:1.6.39-alpine';
const SELECTOR = { 'app.kubernetes.io/name': 'memcached', 'app.kubernetes.io/instance': 'cache' };
const OWNER = {
  apiVersion: 'cache.example.com/v1alpha1',
  kind: 'Memcached',
  name: 'cache',
  uid: '0b1c2d3e-0000-4000-8000-000000000001',
  controller: true,
  blockOwnerDeletion: true,
};

/** The StatefulSet with as many replicas as the placement asks for (no server published yet). */
function build(spec: MemcachedSpec, placement: Placement, opts: Partial<StatefulSetOptions> = {}): V1StatefulSet {
  return buildStatefulSet(memcached(spec), defaulted(spec), placement, { defaultImage: IMAGE, replicas: placement.replicas, ...opts });
}

function deploy(spec: MemcachedSpec, placement: Placement, runAsUser?: number): V1StatefulSet {
  return build(spec, placement, runAsUser !== undefined ? { runAsUser } : {});
}

function pod(d: V1StatefulSet): V1PodSpec {
  return d.spec!.template.spec!;
}

/** Paths of empty objects and arrays, which the apiserver drops and would read back as a difference. */
function emptyPaths(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) {
    return value.length === 0 ? [path] : value.flatMap((v, i) => emptyPaths(v, `${path}[${i}]`));
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return [path];
    return entries.flatMap(([k, v]) => (v === undefined ? [`${path}.${k}=undefined`] : emptyPaths(v, `${path}.${k}`)));
  }
  return [];
}

describe('memcached/labels', () => {
  it('selects on name and instance only', () => {
    expect(selectorLabels(memcached())).to.deep.equal(SELECTOR);
  });

  it('adds the descriptive recommended labels', () => {
    expect(standardLabels(memcached())).to.deep.equal({
      ...SELECTOR,
      'app.kubernetes.io/component': 'cache',
      'app.kubernetes.io/part-of': 'memcached',
      'app.kubernetes.io/managed-by': 'memcached-operator',
    });
  });

  it('does not depend on the spec, so the immutable selector never changes', () => {
    expect(selectorLabels(memcached({ size: 5, image: 'x' }))).to.deep.equal(selectorLabels(memcached()));
  });
});

describe('memcached/args', () => {
  const cases: { name: string; spec: MemcachedSpec; want: string[] }[] = [
    { name: 'defaults', spec: {}, want: ['-p', '11211', '-U', '0', '-m', '64', '-c', '1024', '-t', '4'] },
    {
      name: 'every field',
      spec: { containerPort: 5000, memoryLimitMB: 256, maxConnections: 4096, threads: 8, maxItemSize: '4m', extraArgs: ['-o', 'modern', '-v'] },
      want: ['-p', '5000', '-U', '0', '-m', '256', '-c', '4096', '-t', '8', '-I', '4m', '-o', 'modern', '-v'],
    },
    { name: 'item size in k', spec: { maxItemSize: '512k' }, want: ['-p', '11211', '-U', '0', '-m', '64', '-c', '1024', '-t', '4', '-I', '512k'] },
    { name: 'empty extra args', spec: { extraArgs: [] }, want: ['-p', '11211', '-U', '0', '-m', '64', '-c', '1024', '-t', '4'] },
  ];
  for (const c of cases) {
    it(c.name, () => expect(renderArgs(defaulted(c.spec))).to.deep.equal(c.want));
  }

  it('renders a working command line even from an undefaulted spec', () => {
    expect(renderArgs({})).to.deep.equal(renderArgs(defaulted({})));
  });
});

describe('memcached/resources', () => {
  // memcached's hash table as it grows for memoryLimitMB full of 96-byte items: 8 bytes a bucket,
  // doubled past 1.5 items a bucket, the old table held while it doubles.
  const hashPeaks: [number, number][] = [
    [8, 0.5], // 87,381 items: the first table (2^16 buckets) never doubles
    [16, 1.5], // 2^17 buckets and the 2^16 before them
    [32, 3],
    [64, 6],
    [72, 6], // 786,432 items: exactly 1.5 a bucket of 2^19, not yet doubled
    [73, 12], // just past it: 2^20 buckets, 16.4% of -m at the peak
    [128, 12],
    [1024, 96],
    [65536, 6144],
  ];
  for (const [memoryMB, want] of hashPeaks) {
    it(`the hash table of a full -m ${memoryMB} peaks at ${want} MiB`, () => expect(hashTablePeakMi(memoryMB)).to.equal(want));
  }

  // ceil(1.1 × (-m + the hash table's peak)) + 16 KiB a connection + 16 MiB.
  const limits: [number, number | undefined, number][] = [
    [16, undefined, 52], // 1.1 × 17.5 → 20, + 16 + 16
    [32, undefined, 71],
    [64, undefined, 109], // the default: 1.1 × 70 = 77, + 16 + 16
    [100, undefined, 156], // past a doubling at 72: 1.1 × 112 → 124
    [128, undefined, 186],
    [1024, undefined, 1264], // 1.1 × 1120 = 1232
    [64, 16, 94], // 16 connections: a quarter of a MiB, rounded up
    [64, 65536, 1117], // 65,536 connections: 1 GiB of read buffers
  ];
  for (const [memoryMB, connections, want] of limits) {
    it(`limits -m ${memoryMB} -c ${connections ?? DEFAULT_MAX_CONNECTIONS} to ${want} MiB`, () => expect(containerMemoryMi(memoryMB, connections)).to.equal(want));
  }

  it('stays 10% above every peak measured at full cache (bench/results/memcached-memory.json)', () => {
    const results = JSON.parse(readFileSync(path.join(repoRoot, 'bench', 'results', 'memcached-memory.json'), 'utf8')) as {
      rows: { memoryMB: number; args: string[]; cgroup: { peakMi: number }; restart?: { peakMi: number } }[];
    };
    expect(results.rows.length).to.be.greaterThan(0);
    for (const row of results.rows) {
      const connections = Number(row.args[row.args.indexOf('-c') + 1]);
      const peakMi = Math.max(row.cgroup.peakMi, row.restart?.peakMi ?? 0);
      expect(containerMemoryMi(row.memoryMB, connections), `-m ${row.memoryMB} -c ${connections}`).to.be.at.least(peakMi * 1.1);
    }
  });

  const cases: { name: string; spec: MemcachedSpec; profile: Placement['resourceProfile']; want: unknown }[] = [
    { name: 'Small profile', spec: {}, profile: 'Small', want: { limits: { memory: '109Mi' }, requests: { cpu: '50m', memory: '109Mi' } } },
    { name: 'Standard profile', spec: { memoryLimitMB: 1024 }, profile: 'Standard', want: { limits: { memory: '1264Mi' }, requests: { cpu: '250m', memory: '1264Mi' } } },
    { name: 'fewer connections, less memory', spec: { maxConnections: 16 }, profile: 'Small', want: { limits: { memory: '94Mi' }, requests: { cpu: '50m', memory: '94Mi' } } },
    {
      name: 'spec requests win over the profile',
      spec: { resources: { requests: { cpu: '1' } } },
      profile: 'Standard',
      want: { limits: { memory: '109Mi' }, requests: { cpu: '1', memory: '109Mi' } },
    },
    {
      name: 'a limit without a request becomes the request',
      spec: { resources: { limits: { cpu: '20m', memory: '1Gi' } } },
      profile: 'Standard',
      want: { limits: { cpu: '20m', memory: '1Gi' }, requests: { cpu: '20m', memory: '1Gi' } },
    },
    {
      name: 'a memory request above the derived limit raises the limit',
      spec: { resources: { requests: { memory: '2Gi' } } },
      profile: 'Small',
      want: { limits: { memory: '2Gi' }, requests: { cpu: '50m', memory: '2Gi' } },
    },
    {
      name: 'a memory request below the derived limit keeps it',
      spec: { resources: { requests: { memory: '64Mi' } } },
      profile: 'Small',
      want: { limits: { memory: '109Mi' }, requests: { cpu: '50m', memory: '64Mi' } },
    },
    {
      name: 'integer quantities and other resources, in sorted order',
      spec: { resources: { requests: { 'hugepages-2Mi': '0', memory: 134217728 as unknown as string } } },
      profile: 'Small',
      want: { limits: { memory: '134217728' }, requests: { cpu: '50m', 'hugepages-2Mi': '0', memory: '134217728' } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = buildResources(defaulted(c.spec), c.profile);
      expect(got).to.deep.equal(c.want);
      expect(Object.keys(got.requests!)).to.deep.equal(Object.keys(got.requests!).sort());
    });
  }

  const quantities: [string | number, number | undefined][] = [
    ['128Mi', 128 * 2 ** 20], ['1Gi', 2 ** 30], ['1.5G', 1.5e9], ['100m', 0.1], ['1e3', 1000], ['512', 512], [64, 64], ['lots', undefined], ['1Q', undefined],
  ];
  for (const [q, want] of quantities) {
    it(`reads the quantity ${String(q)}`, () => expect(quantityValue(q)).to.equal(want));
  }
});

describe('memcached/statefulset', () => {
  it('is the StatefulSet <name> in the namespace, owned by the CR', () => {
    const d = deploy({}, SINGLE_NODE);
    expect(d.apiVersion).to.equal('apps/v1');
    expect(d.kind).to.equal('StatefulSet');
    expect(d.metadata).to.deep.equal({ name: 'cache', namespace: 'apps', labels: standardLabels(memcached()), ownerReferences: [OWNER] });
    expect(d.spec!.selector).to.deep.equal({ matchLabels: SELECTOR });
    expect(d.spec!.template.metadata!.labels).to.deep.equal(standardLabels(memcached()));
  });

  it('leaves each server to the operator: OnDelete, Parallel, no minReadySeconds (the operator settles servers itself), governed by <name>-servers', () => {
    for (const placement of [SINGLE_NODE, COMPACT, HIGHLY_AVAILABLE]) {
      const d = deploy({}, placement);
      expect(d.spec!.updateStrategy, placement.profile).to.deep.equal({ type: 'OnDelete' });
      expect(d.spec!.podManagementPolicy).to.equal('Parallel');
      expect(d.spec!).to.not.have.property('minReadySeconds');
      expect(d.spec!.serviceName).to.equal('cache-servers');
      expect(d.spec!).to.not.have.property('volumeClaimTemplates');
    }
  });

  it('refuses a CR without uid, which could not own anything', () => {
    const mc = memcached();
    delete mc.metadata.uid;
    expect(() => buildStatefulSet(mc, defaulted(), SINGLE_NODE, { defaultImage: IMAGE, replicas: 1 })).to.throw(/uid/);
  });

  // The replicas are the caller's (the published servers plus any being
  // added: servers/planner.ts), never spec.size or the placement directly.
  const replicaCases: { name: string; spec: MemcachedSpec; placement: Placement; replicas: number }[] = [
    { name: 'as the placement', spec: {}, placement: HIGHLY_AVAILABLE, replicas: 3 },
    { name: 'more than the placement while servers are removed', spec: {}, placement: SINGLE_NODE, replicas: 3 },
    { name: 'not spec.size', spec: { size: 5 }, placement: HIGHLY_AVAILABLE, replicas: 4 },
  ];
  for (const c of replicaCases) {
    it(`replicas: ${c.name}`, () => expect(build(c.spec, c.placement, { replicas: c.replicas }).spec!.replicas).to.equal(c.replicas));
  }

  const placementCases: { name: string; placement: Placement; affinity: unknown; spread: unknown }[] = [
    {
      name: 'single node: no anti-affinity, no spread',
      placement: SINGLE_NODE,
      affinity: undefined,
      spread: undefined,
    },
    {
      name: 'compact: preferred anti-affinity',
      placement: COMPACT,
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: SELECTOR }, topologyKey: 'kubernetes.io/hostname' } },
          ],
        },
      },
      spread: undefined,
    },
    {
      name: 'highly available: required anti-affinity, zone spread (per revision), excluded roles',
      placement: HIGHLY_AVAILABLE,
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'node-role.kubernetes.io/master', operator: 'DoesNotExist' },
                  { key: 'node-role.kubernetes.io/arbiter', operator: 'DoesNotExist' },
                ],
              },
            ],
          },
        },
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: SELECTOR }, topologyKey: 'kubernetes.io/hostname' }],
        },
      },
      spread: [
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: SELECTOR },
          matchLabelKeys: ['controller-revision-hash'],
        },
      ],
    },
    {
      name: 'excluded roles alone',
      placement: { ...SINGLE_NODE, excludedNodeRoles: ['infra'] },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: 'node-role.kubernetes.io/infra', operator: 'DoesNotExist' }] }],
          },
        },
      },
      spread: undefined,
    },
  ];
  for (const c of placementCases) {
    it(`placement: ${c.name}`, () => {
      const d = deploy({}, c.placement);
      expect(pod(d).affinity).to.deep.equal(c.affinity);
      expect(pod(d).topologySpreadConstraints).to.deep.equal(c.spread);
      expect('affinity' in pod(d)).to.equal(c.affinity !== undefined);
      expect('topologySpreadConstraints' in pod(d)).to.equal(c.spread !== undefined);
    });
  }

  for (const placement of [SINGLE_NODE, COMPACT, HIGHLY_AVAILABLE]) {
    it(`meets PodSecurity restricted and restricted-v2 (${placement.profile})`, () => {
      const p = pod(deploy({}, placement));
      expect(p.securityContext).to.deep.equal({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(p.securityContext).to.not.have.any.keys('runAsUser', 'fsGroup', 'runAsGroup');
      expect(p.containers).to.have.length(1);
      expect(p.containers[0].securityContext).to.deep.equal({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
      });
      expect(p.automountServiceAccountToken).to.equal(false);
      // Only the RAM disk that keeps the items across a restart: no hostPath, no token.
      expect(p.volumes?.map((v) => Object.keys(v).sort())).to.deep.equal([['emptyDir', 'name']]);
      expect(p.hostNetwork).to.equal(undefined);
    });

    it(`sets no empty object or array (${placement.profile})`, () => {
      expect(emptyPaths(deploy({}, placement))).to.deep.equal([]);
    });
  }

  it('sets runAsUser only when asked (plain Kubernetes with the official image)', () => {
    expect(pod(deploy({}, SINGLE_NODE, OFFICIAL_IMAGE_UID)).securityContext).to.deep.equal({
      runAsNonRoot: true,
      runAsUser: 11211,
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('runs memcached through a shell wrapper with the rendered args, a named port and TCP probes', () => {
    const spec = { containerPort: 5000, threads: 2, extraArgs: ['-o', 'modern'] };
    const c = pod(deploy(spec, COMPACT)).containers[0];
    expect(c.name).to.equal('memcached');
    expect(c.image).to.equal(IMAGE);
    // sh -c START memcached <args>: "memcached" is $0, the args are "$@" of the exec.
    expect(c.command).to.have.length(4);
    expect(c.command!.slice(0, 2)).to.deep.equal(['/bin/sh', '-c']);
    expect(c.command![2]).to.match(/exec memcached "\$@"$/);
    expect(c.command![3]).to.equal('memcached');
    expect(c.args).to.deep.equal(renderArgs(defaulted(spec), { memory: '$(MEMCACHED_MEMORY_MB)', memoryFile: MEMORY_FILE }));
    expect(c.ports).to.deep.equal([{ name: 'memcached', containerPort: 5000, protocol: 'TCP' }]);
    expect(c.livenessProbe!.tcpSocket).to.deep.equal({ port: 'memcached' });
    expect(c.readinessProbe!.tcpSocket).to.deep.equal({ port: 'memcached' });
    expect(c.livenessProbe!.failureThreshold).to.be.greaterThan(c.readinessProbe!.failureThreshold!);
  });

  it('takes the image from the spec over the default', () => {
    expect(pod(deploy({ image: 'quay.io/x/memcached:1.6' }, SINGLE_NODE)).containers[0].image).to.equal('quay.io/x/memcached:1.6');
  });

  it('takes resources from the placement profile', () => {
    expect(pod(deploy({}, SINGLE_NODE)).containers[0].resources).to.deep.equal(buildResources(defaulted(), 'Small'));
    expect(pod(deploy({}, HIGHLY_AVAILABLE)).containers[0].resources).to.deep.equal(buildResources(defaulted(), 'Standard'));
  });

  it('copies nodeSelector, tolerations and priorityClassName from the spec', () => {
    const spec: MemcachedSpec = {
      nodeSelector: { disk: 'ssd' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'cache', effect: 'NoSchedule' }],
      priorityClassName: 'cache-critical',
    };
    const p = pod(deploy(spec, COMPACT));
    expect(p.nodeSelector).to.deep.equal({ disk: 'ssd' });
    expect(p.tolerations).to.deep.equal(spec.tolerations);
    expect(p.priorityClassName).to.equal('cache-critical');
  });

  it('leaves out empty scheduling fields', () => {
    const p = pod(deploy({ nodeSelector: {}, tolerations: [], priorityClassName: '' }, SINGLE_NODE));
    expect(p).to.not.have.any.keys('nodeSelector', 'tolerations', 'priorityClassName', 'affinity');
  });

  it('orders the pod spec keys the same way whatever is set', () => {
    const full = pod(deploy({ nodeSelector: { a: 'b' }, tolerations: [{ operator: 'Exists' }], priorityClassName: 'p' }, HIGHLY_AVAILABLE));
    expect(Object.keys(full)).to.deep.equal([
      'automountServiceAccountToken',
      'enableServiceLinks',
      'securityContext',
      'nodeSelector',
      'tolerations',
      'priorityClassName',
      'affinity',
      'topologySpreadConstraints',
      'containers',
      'volumes',
    ]);
  });

  it('is deterministic: the same input builds the same JSON', () => {
    expect(JSON.stringify(deploy({ size: 2 }, HIGHLY_AVAILABLE))).to.equal(JSON.stringify(deploy({ size: 2 }, HIGHLY_AVAILABLE)));
  });

  it('does not share objects with the spec', () => {
    const spec = defaulted({ nodeSelector: { a: 'b' }, tolerations: [{ operator: 'Exists' }] });
    const d = buildStatefulSet(memcached(spec), spec, SINGLE_NODE, { defaultImage: IMAGE, replicas: 1 });
    pod(d).nodeSelector!.a = 'changed';
    pod(d).tolerations![0].operator = 'Equal';
    expect(spec.nodeSelector).to.deep.equal({ a: 'b' });
    expect(spec.tolerations).to.deep.equal([{ operator: 'Exists' }]);
  });

  it('pod annotations (the authfile hash) go on the pod template only, beside the memory annotation', () => {
    const spec = defaulted({ auth: { secretName: 'users' } });
    const opts = { defaultImage: IMAGE, runAsUser: OFFICIAL_IMAGE_UID, replicas: 1 };
    const plain = buildStatefulSet(memcached(spec), spec, SINGLE_NODE, opts);
    // 64 MB: the RAM disk's sizeLimit is the container's memory limit (a larger one would promise room the kubelet never mounts).
    expect(plain.spec!.template.metadata!.annotations).to.deep.equal({ [MEMORY_ANNOTATION]: '64', [RAM_DISK_ANNOTATION]: String(containerMemoryMi(64)) });
    const annotations = { 'cache.example.com/authfile-hash': '0123456789abcdef' };
    const hashed = buildStatefulSet(memcached(spec), spec, SINGLE_NODE, { ...opts, podAnnotations: annotations });
    expect(hashed.spec!.template.metadata!.annotations).to.deep.equal({ ...annotations, [MEMORY_ANNOTATION]: '64', [RAM_DISK_ANNOTATION]: String(containerMemoryMi(64)) });
    expect(hashed.metadata).to.not.have.property('annotations');
    expect(hashed.spec!.template.spec).to.deep.equal(plain.spec!.template.spec);
  });

  it('a TLS Secret\'s content never reaches the pod template: only its name does', () => {
    const spec = defaulted({ tls: { enabled: true, secretName: 'cache-tls' } });
    const d = JSON.stringify(buildStatefulSet(memcached(spec), spec, SINGLE_NODE, { defaultImage: IMAGE, runAsUser: OFFICIAL_IMAGE_UID, replicas: 1 }).spec!.template);
    expect(d).to.include('"secretName":"cache-tls"');
    expect(d).to.not.match(/serial|hash/i);
  });
});

describe('memcached/statefulset keep the cache', () => {
  it('passes -m from the pod annotation through the environment, so memory changes without a new pod', () => {
    const t = build({ memoryLimitMB: 256 }, COMPACT).spec!.template;
    const c = t.spec!.containers[0];
    expect(t.metadata!.annotations![MEMORY_ANNOTATION]).to.equal('256');
    expect(c.env).to.deep.equal([{ name: 'MEMCACHED_MEMORY_MB', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${MEMORY_ANNOTATION}']` } } }]);
    expect(c.args!.slice(c.args!.indexOf('-m'), c.args!.indexOf('-m') + 2)).to.deep.equal(['-m', '$(MEMCACHED_MEMORY_MB)']);
  });

  it('keeps the items on a RAM disk sized for -m and a raise in place', () => {
    const p = pod(build({ memoryLimitMB: 128 }, COMPACT));
    // The container's limit (186Mi): the kubelet would size the tmpfs no larger.
    expect(p.volumes).to.deep.equal([{ name: CACHE_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '186Mi' } }]);
    expect(p.containers[0].volumeMounts).to.deep.equal([{ name: CACHE_VOLUME, mountPath: '/cache' }]);
  });

  // The kubelet mounts the tmpfs with the smaller of sizeLimit and the pod's memory limit, so the
  // sizeLimit is never above the container's limit, and never above room for a 4× raise in place.
  const volumes: [string, MemcachedSpec, string][] = [
    ['the derived limit bounds it', {}, '109Mi'],
    ['a user limit below 4× -m + 16 bounds it', { resources: { limits: { memory: '200Mi' } } }, '200Mi'],
    ['a user limit in other units', { resources: { limits: { memory: '0.25Gi' } } }, '256Mi'],
    ['a fractional MiB rounds down', { resources: { limits: { memory: '100000000' } } }, '95Mi'],
    ['a large user limit: room for a 4× raise', { resources: { limits: { memory: '8Gi' } } }, '272Mi'],
    ['a memory request above the derived limit raises both', { memoryLimitMB: 128, resources: { requests: { memory: '1Gi' } } }, '528Mi'],
  ];
  for (const [what, spec, want] of volumes) {
    it(`RAM disk: ${what} (${want})`, () => {
      const p = pod(build(spec, COMPACT));
      expect(p.volumes?.[0]?.emptyDir?.sizeLimit).to.equal(want);
    });
  }
  const sizes: [number, number, number][] = [
    [64, 109, 109],
    [64, 1024, 272],
    [1024, 1264, 1264],
    [64, 100.9, 100],
  ];
  for (const [memoryMB, limitMi, want] of sizes) {
    it(`cacheVolumeMi(${memoryMB}, ${limitMi}) = ${want}`, () => expect(cacheVolumeMi(memoryMB, limitMi)).to.equal(want));
  }

  const warm: { name: string; spec: MemcachedSpec; want: boolean }[] = [
    { name: 'the default 64 MB', spec: {}, want: true },
    { name: `below ${WARM_RESTART_MIN_MB} MB: cold`, spec: { memoryLimitMB: WARM_RESTART_MIN_MB - 1 }, want: false },
    { name: '1m items', spec: { memoryLimitMB: 64, maxItemSize: '1m' }, want: true },
    { name: 'items above 1m: cold', spec: { memoryLimitMB: 1024, maxItemSize: '2m' }, want: false },
  ];
  for (const c of warm) {
    it(`warm restart (-e /cache/memory -A): ${c.name}`, () => {
      const args = pod(build(c.spec, COMPACT)).containers[0].args!;
      expect(warmRestartCapable(defaulted(c.spec))).to.equal(c.want);
      if (c.want) expect(args.slice(args.indexOf('-e'), args.indexOf('-e') + 3)).to.deep.equal(['-e', MEMORY_FILE, '-A']);
      else expect(args).to.not.include('-e').and.not.include('-A');
    });
  }

  it('stops memcached gracefully before the kubelet does (preStop), and resizes without a restart', () => {
    const c = pod(build({}, COMPACT)).containers[0];
    expect(c.lifecycle!.preStop!.exec!.command!.slice(0, 2)).to.deep.equal(['/bin/sh', '-c']);
    expect(c.lifecycle!.preStop!.exec!.command![2]).to.match(/kill -USR1 1/);
    expect(c.resizePolicy).to.deep.equal([
      { resourceName: 'cpu', restartPolicy: 'NotRequired' },
      { resourceName: 'memory', restartPolicy: 'NotRequired' },
    ]);
  });
});

describe('memcached/services', () => {
  it('ClusterIP Service <name> on the port', () => {
    const s = buildService(memcached(), defaulted({ containerPort: 5000 }));
    expect(s).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'cache', namespace: 'apps', labels: standardLabels(memcached()), ownerReferences: [OWNER] },
      spec: {
        type: 'ClusterIP',
        selector: SELECTOR,
        ports: [{ name: 'memcached', port: 5000, targetPort: 'memcached', protocol: 'TCP' }],
      },
    });
  });

  it('headless Service <name>-headless publishing only ready pods', () => {
    const s = buildHeadlessService(memcached(), defaulted());
    expect(s.metadata!.name).to.equal('cache-headless');
    expect(s.metadata!.ownerReferences).to.deep.equal([OWNER]);
    expect(s.spec).to.deep.equal({
      type: 'ClusterIP',
      clusterIP: 'None',
      publishNotReadyAddresses: false,
      selector: SELECTOR,
      ports: [{ name: 'memcached', port: 11211, targetPort: 'memcached', protocol: 'TCP' }],
    });
  });
});

describe('memcached/services <name>-servers', () => {
  it('headless, publishing not-ready pods too, so a server keeps its name while it restarts', () => {
    const s = buildServersService(memcached(), defaulted());
    expect(s.metadata).to.deep.equal({ name: 'cache-servers', namespace: 'apps', labels: standardLabels(memcached()), ownerReferences: [OWNER] });
    expect(s.spec).to.deep.equal({
      type: 'ClusterIP',
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: SELECTOR,
      ports: [{ name: 'memcached', port: 11211, targetPort: 'memcached', protocol: 'TCP' }],
    });
  });
});

describe('memcached/pdb', () => {
  const cases: { placement: Placement; want: boolean }[] = [
    { placement: SINGLE_NODE, want: false },
    { placement: COMPACT, want: true },
    { placement: HIGHLY_AVAILABLE, want: true },
  ];
  for (const c of cases) {
    it(`${c.placement.profile}: ${c.want ? 'a' : 'no'} PodDisruptionBudget`, () => {
      const pdb = buildPodDisruptionBudget(memcached(), c.placement);
      if (!c.want) {
        expect(pdb).to.equal(undefined);
        return;
      }
      expect(pdb).to.deep.equal({
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'cache', namespace: 'apps', labels: standardLabels(memcached()), ownerReferences: [OWNER] },
        spec: { maxUnavailable: 1, selector: { matchLabels: SELECTOR }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
      });
    });
  }
});
