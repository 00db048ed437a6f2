import { expect } from 'chai';
import type { V1Deployment, V1PodSpec } from '@kubernetes/client-node';
import type { MemcachedSpec } from '../../../src/api/types.js';
import type { Placement } from '../../../src/topology/types.js';
import { renderArgs } from '../../../src/memcached/children/args.js';
import { OFFICIAL_IMAGE_UID, buildDeployment } from '../../../src/memcached/children/statefulset.js';
import { selectorLabels, standardLabels } from '../../../src/memcached/children/metadata.js';
import { buildPodDisruptionBudget } from '../../../src/memcached/children/pdb.js';
import { buildResources, containerMemoryMi, quantityValue } from '../../../src/memcached/children/resources.js';
import { buildHeadlessService, buildService } from '../../../src/memcached/children/services.js';
import { COMPACT, HIGHLY_AVAILABLE, SINGLE_NODE, defaulted, memcached } from './fixtures.js';

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

function deploy(spec: MemcachedSpec, placement: Placement, runAsUser?: number): V1Deployment {
  return buildDeployment(memcached(spec), defaulted(spec), placement, { defaultImage: IMAGE, runAsUser });
}

function pod(d: V1Deployment): V1PodSpec {
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
  it('derives the memory limit from memoryLimitMB with 25% + 32Mi headroom', () => {
    expect(containerMemoryMi(64)).to.equal(112);
    expect(containerMemoryMi(100)).to.equal(157);
    expect(containerMemoryMi(1024)).to.equal(1312);
  });

  const cases: { name: string; spec: MemcachedSpec; profile: Placement['resourceProfile']; want: unknown }[] = [
    { name: 'Small profile', spec: {}, profile: 'Small', want: { limits: { memory: '112Mi' }, requests: { cpu: '50m', memory: '112Mi' } } },
    { name: 'Standard profile', spec: { memoryLimitMB: 1024 }, profile: 'Standard', want: { limits: { memory: '1312Mi' }, requests: { cpu: '250m', memory: '1312Mi' } } },
    {
      name: 'spec requests win over the profile',
      spec: { resources: { requests: { cpu: '1' } } },
      profile: 'Standard',
      want: { limits: { memory: '112Mi' }, requests: { cpu: '1', memory: '112Mi' } },
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
      want: { limits: { memory: '112Mi' }, requests: { cpu: '50m', memory: '64Mi' } },
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

describe('memcached/deployment', () => {
  it('is the Deployment <name> in the namespace, owned by the CR', () => {
    const d = deploy({}, SINGLE_NODE);
    expect(d.apiVersion).to.equal('apps/v1');
    expect(d.kind).to.equal('Deployment');
    expect(d.metadata).to.deep.equal({ name: 'cache', namespace: 'apps', labels: standardLabels(memcached()), ownerReferences: [OWNER] });
    expect(d.spec!.selector).to.deep.equal({ matchLabels: SELECTOR });
    expect(d.spec!.template.metadata!.labels).to.deep.equal(standardLabels(memcached()));
  });

  it('refuses a CR without uid, which could not own anything', () => {
    const mc = memcached();
    delete mc.metadata.uid;
    expect(() => buildDeployment(mc, defaulted(), SINGLE_NODE, { defaultImage: IMAGE })).to.throw(/uid/);
  });

  const replicaCases: { name: string; spec: MemcachedSpec; placement: Placement; want: number }[] = [
    { name: 'placement decides without size', spec: {}, placement: HIGHLY_AVAILABLE, want: 3 },
    { name: 'placement decides on one node', spec: {}, placement: SINGLE_NODE, want: 1 },
    // The sizing honours spec.size; the builder follows the placement, which
    // may hold replicas back while a transition is staged.
    { name: 'the placement, not spec.size', spec: { size: 5 }, placement: { ...HIGHLY_AVAILABLE, replicas: 3 }, want: 3 },
    { name: 'a sized placement', spec: { size: 2 }, placement: { ...SINGLE_NODE, replicas: 2 }, want: 2 },
  ];
  for (const c of replicaCases) {
    it(`replicas: ${c.name}`, () => expect(deploy(c.spec, c.placement).spec!.replicas).to.equal(c.want));
  }

  const placementCases: { name: string; placement: Placement; affinity: unknown; spread: unknown; strategy: unknown }[] = [
    {
      name: 'single node: no anti-affinity, no spread, surge',
      placement: SINGLE_NODE,
      affinity: undefined,
      spread: undefined,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
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
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    },
    {
      name: 'highly available: required anti-affinity, zone spread, excluded roles, no surge',
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
          matchLabelKeys: ['pod-template-hash'],
        },
      ],
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
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
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    },
  ];
  for (const c of placementCases) {
    it(`placement: ${c.name}`, () => {
      const d = deploy({}, c.placement);
      expect(pod(d).affinity).to.deep.equal(c.affinity);
      expect(pod(d).topologySpreadConstraints).to.deep.equal(c.spread);
      expect(d.spec!.strategy).to.deep.equal(c.strategy);
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
      expect(p.volumes).to.equal(undefined);
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

  it('runs memcached with the rendered args, a named port and TCP probes', () => {
    const spec = { containerPort: 5000, threads: 2, extraArgs: ['-o', 'modern'] };
    const c = pod(deploy(spec, COMPACT)).containers[0];
    expect(c.name).to.equal('memcached');
    expect(c.image).to.equal(IMAGE);
    expect(c.command).to.deep.equal(['memcached']);
    expect(c.args).to.deep.equal(renderArgs(defaulted(spec)));
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
    ]);
  });

  it('is deterministic: the same input builds the same JSON', () => {
    expect(JSON.stringify(deploy({ size: 2 }, HIGHLY_AVAILABLE))).to.equal(JSON.stringify(deploy({ size: 2 }, HIGHLY_AVAILABLE)));
  });

  it('does not share objects with the spec', () => {
    const spec = defaulted({ nodeSelector: { a: 'b' }, tolerations: [{ operator: 'Exists' }] });
    const d = buildDeployment(memcached(spec), spec, SINGLE_NODE, { defaultImage: IMAGE });
    pod(d).nodeSelector!.a = 'changed';
    pod(d).tolerations![0].operator = 'Equal';
    expect(spec.nodeSelector).to.deep.equal({ a: 'b' });
    expect(spec.tolerations).to.deep.equal([{ operator: 'Exists' }]);
  });

  it('pod annotations (the authfile hash) go on the pod template only, and their absence adds no key', () => {
    const spec = defaulted({ auth: { secretName: 'users' } });
    const plain = buildDeployment(memcached(spec), spec, SINGLE_NODE, { defaultImage: IMAGE, runAsUser: OFFICIAL_IMAGE_UID });
    expect(plain.spec!.template.metadata).to.not.have.property('annotations');
    const annotations = { 'cache.example.com/authfile-hash': '0123456789abcdef' };
    const hashed = buildDeployment(memcached(spec), spec, SINGLE_NODE, { defaultImage: IMAGE, runAsUser: OFFICIAL_IMAGE_UID, podAnnotations: annotations });
    expect(hashed.spec!.template.metadata!.annotations).to.deep.equal(annotations);
    expect(hashed.metadata).to.not.have.property('annotations');
    expect(hashed.spec!.template.spec).to.deep.equal(plain.spec!.template.spec);
  });

  it('a TLS Secret\'s content never reaches the pod template: only its name does', () => {
    const spec = defaulted({ tls: { enabled: true, secretName: 'cache-tls' } });
    const d = JSON.stringify(buildDeployment(memcached(spec), spec, SINGLE_NODE, { defaultImage: IMAGE, runAsUser: OFFICIAL_IMAGE_UID }).spec!.template);
    expect(d).to.include('"secretName":"cache-tls"');
    expect(d).to.not.match(/serial|hash/i);
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
