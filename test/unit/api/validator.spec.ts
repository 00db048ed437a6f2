import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import {
  CEL_RULES,
  DEFAULT_MEMCACHED_IMAGE,
  applyDefaults,
  collectCelRules,
  crdPath,
  crdSchema,
  toJsonSchema,
  validateMemcached,
} from '../../../src/api/validator.js';
import type { MemcachedSpec } from '../../../src/api/types.js';

const root = join(crdPath(), '..', '..', '..', '..');

function mc(spec: unknown): unknown {
  return { apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name: 'm', namespace: 'ns' }, spec };
}

function invalidMessage(obj: unknown): string {
  const r = validateMemcached(obj);
  if (r.valid) throw new Error(`expected invalid, got valid: ${JSON.stringify(r.spec)}`);
  return r.message;
}

const DEFAULTS: MemcachedSpec = {
  containerPort: 11211,
  memoryLimitMB: 64,
  maxConnections: 1024,
  threads: 4,
  highAvailability: 'Auto',
};

describe('api/validator', () => {
  describe('the CRD file', () => {
    it('is found from the compiled module, at the package root', () => {
      expect(crdPath()).to.equal(join(root, 'config', 'crd', 'bases', 'cache.example.com_memcacheds.yaml'));
    });

    it('is found from a dist/api-like directory too', () => {
      expect(crdPath(join(root, 'dist', 'api'))).to.equal(crdPath());
    });

    it('throws a clear error when no package root holds it', () => {
      expect(() => crdPath('/')).to.throw(/not found/);
    });

    it('describes every field, so kubectl explain helps', () => {
      const missing: string[] = [];
      const walk = (node: Record<string, unknown>, path: string): void => {
        // metadata is the one exception: the apiserver forbids anything but its type.
        const exempt = path === '<root>.metadata';
        if (!exempt && (typeof node.description !== 'string' || node.description.trim() === '')) missing.push(path);
        const props = (node.properties ?? {}) as Record<string, Record<string, unknown>>;
        for (const [k, v] of Object.entries(props)) walk(v, `${path}.${k}`);
        if (node.items) walk(node.items as Record<string, unknown>, `${path}[]`);
        if (node.additionalProperties && typeof node.additionalProperties === 'object') {
          walk(node.additionalProperties as Record<string, unknown>, `${path}{}`);
        }
      };
      walk(crdSchema(), '<root>');
      expect(missing).to.deep.equal([]);
    });

    it('has the names, version, status subresource and printer columns', () => {
      type Crd = {
        metadata: { name: string };
        spec: {
          group: string;
          scope: string;
          names: { kind: string; plural: string; singular: string; shortNames: string[] };
          versions: { name: string; served: boolean; storage: boolean; subresources: unknown; additionalPrinterColumns: { name: string; jsonPath: string }[] }[];
        };
      };
      const crd = parseYaml(readFileSync(crdPath(), 'utf8')) as Crd;
      expect(crd.metadata.name).to.equal('memcacheds.cache.example.com');
      expect(crd.spec.group).to.equal('cache.example.com');
      expect(crd.spec.scope).to.equal('Namespaced');
      expect(crd.spec.names).to.deep.include({ kind: 'Memcached', plural: 'memcacheds', singular: 'memcached', shortNames: ['mc'] });
      expect(crd.spec.versions).to.have.length(1);
      const [v] = crd.spec.versions;
      expect(v).to.deep.include({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
      expect(v.additionalPrinterColumns.map((c) => [c.name, c.jsonPath])).to.deep.equal([
        ['Replicas', '.status.replicas'],
        ['Ready', '.status.readyReplicas'],
        ['Available', '.status.conditions[?(@.type=="Available")].status'],
        ['Topology', '.status.topology.profile'],
        ['Age', '.metadata.creationTimestamp'],
      ]);
    });

    it('bounds every list and string a CEL rule reads, to keep CEL cost bounded', () => {
      const spec = crdSchema().properties!.spec;
      expect(spec.properties!.extraArgs.maxItems).to.be.a('number');
      expect(spec.properties!.extraArgs.items!.maxLength).to.be.a('number');
      expect(spec.properties!.maxItemSize.maxLength).to.be.a('number');
    });
  });

  describe('CEL rules', () => {
    const sites = collectCelRules(crdSchema());

    it('finds the rules of the CRD', () => {
      expect(sites.length).to.be.at.least(6);
    });

    it('has a TypeScript twin for every CEL rule in the CRD, keyed by the exact rule', () => {
      const missing = sites.filter((s) => !(s.rule in CEL_RULES)).map((s) => s.rule);
      expect(missing).to.deep.equal([]);
    });

    it('has no TypeScript twin for a rule the CRD no longer has', () => {
      const inCrd = new Set(sites.map((s) => s.rule));
      expect(Object.keys(CEL_RULES).filter((r) => !inCrd.has(r))).to.deep.equal([]);
    });

    it('gives every rule a message', () => {
      const raw = readFileSync(crdPath(), 'utf8');
      const rules = raw.match(/- rule:/g) ?? [];
      expect(rules.length).to.equal(sites.length);
      expect(sites.every((s) => !s.message.startsWith('failed rule'))).to.equal(true);
    });
  });

  describe('schema conversion', () => {
    const cases: { name: string; input: Record<string, unknown>; want: Record<string, unknown> }[] = [
      { name: 'int32 becomes a range', input: { type: 'integer', format: 'int32' }, want: { type: 'integer', minimum: -2147483648, maximum: 2147483647 } },
      { name: 'int32 keeps a tighter range', input: { type: 'integer', format: 'int32', minimum: 1, maximum: 64 }, want: { type: 'integer', minimum: 1, maximum: 64 } },
      { name: 'int64 and date-time are dropped', input: { type: 'string', format: 'date-time' }, want: { type: 'string' } },
      { name: 'nullable adds null', input: { type: 'string', nullable: true }, want: { type: ['string', 'null'] } },
      { name: 'int-or-string without anyOf', input: { 'x-kubernetes-int-or-string': true }, want: { anyOf: [{ type: 'integer' }, { type: 'string' }] } },
      {
        name: 'x-kubernetes keywords, defaults and descriptions are dropped',
        input: { type: 'array', description: 'd', default: [], 'x-kubernetes-list-type': 'atomic', items: { type: 'string', description: 'i' } },
        want: { type: 'array', items: { type: 'string' } },
      },
    ];
    for (const c of cases) {
      it(c.name, () => expect(toJsonSchema(c.input)).to.deep.equal(c.want));
    }
  });

  describe('defaults', () => {
    it('fills every default of an empty spec', () => {
      expect(applyDefaults({})).to.deep.equal(DEFAULTS);
      expect(applyDefaults(undefined)).to.deep.equal(DEFAULTS);
    });

    it('keeps what is set and does not touch its input', () => {
      const input: MemcachedSpec = { threads: 8, extraArgs: ['-o', 'modern'] };
      const out = applyDefaults(input);
      expect(out).to.deep.equal({ ...DEFAULTS, threads: 8, extraArgs: ['-o', 'modern'] });
      out.extraArgs!.push('-v');
      expect(input).to.deep.equal({ threads: 8, extraArgs: ['-o', 'modern'] });
    });

    it('prunes unknown fields like the apiserver', () => {
      const out = applyDefaults({ threads: 2, bogus: 1, resources: { requests: { cpu: '1' }, claims: [] } } as unknown as MemcachedSpec);
      expect(out).to.deep.equal({ ...DEFAULTS, threads: 2, resources: { requests: { cpu: '1' } } });
    });

    it('fills the auto pilot\'s defaults only inside the blocks that are there', () => {
      expect(applyDefaults({ autoscaling: {} }).autoscaling).to.deep.equal({
        enabled: false, targetMemoryPercent: 50, evictionsPerSecond: '1', evictingFor: '5m', scaleOutCooldown: '10m', scaleInCooldown: '20m',
      });
      expect(applyDefaults({ autoscaling: { anomalyDetection: {} } }).autoscaling?.anomalyDetection).to.deep.equal({ enabled: false, factor: '4', learningPeriod: '24h' });
    });

    it('returns the defaulted spec from validateMemcached, and an absent spec counts as empty', () => {
      expect(validateMemcached(mc({ size: 3 }))).to.deep.equal({ valid: true, spec: { ...DEFAULTS, size: 3 } });
      expect(validateMemcached({ metadata: { name: 'x' } })).to.deep.equal({ valid: true, spec: DEFAULTS });
    });
  });

  describe('accepts', () => {
    it('the sample', () => {
      const docs = parseAllDocuments(readFileSync(join(root, 'config', 'samples', 'cache_v1alpha1_memcached.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
      expect(docs).to.have.length(1);
      const r = validateMemcached(docs[0]);
      expect(r).to.deep.include({ valid: true });
      expect((docs[0].spec as MemcachedSpec).size, 'the sample leaves size to the topology').to.equal(undefined);
    });

    const good: { name: string; spec: MemcachedSpec }[] = [
      { name: 'the Operator SDK tutorial spec', spec: { size: 3, containerPort: 11211 } },
      { name: 'the bounds', spec: { size: 100, containerPort: 65535, memoryLimitMB: 65536, maxConnections: 65536, threads: 64 } },
      { name: 'the lower bounds', spec: { size: 1, containerPort: 1, memoryLimitMB: 16, maxConnections: 16, threads: 1 } },
      { name: 'item size half of memory', spec: { memoryLimitMB: 64, maxItemSize: '32m' } },
      { name: 'item size in k, a multiple of 512', spec: { memoryLimitMB: 64, maxItemSize: '1536K' } },
      { name: 'the largest item size', spec: { memoryLimitMB: 2048, maxItemSize: '1024M' } },
      { name: 'HA disabled with one replica', spec: { size: 1, highAvailability: 'Disabled' } },
      { name: 'HA enabled with two replicas', spec: { size: 2, highAvailability: 'Enabled' } },
      { name: 'HA disabled, size from topology', spec: { highAvailability: 'Disabled' } },
      { name: 'TLS on with a named Secret', spec: { tls: { enabled: true, secretName: 'cache-tls', clientCASecretName: 'client-ca' } } },
      { name: 'TLS on with the default Secret', spec: { tls: { enabled: true } } },
      { name: 'a tls block that names no Secret, TLS off', spec: { tls: { enabled: false } } },
      { name: 'extra args that are not owned', spec: { extraArgs: ['-o', 'modern,slab_reassign', '-v', '-vv', '-M', '--disable-flush-all', '--enable-shutdown', '-R', '20'] } },
      {
        name: 'resources with quantities as strings and integers',
        spec: { resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: 268435456 as unknown as string, cpu: '1.5' } } },
      },
      { name: 'autoscaling off, with nothing else', spec: { autoscaling: {} } },
      { name: 'autoscaling on with a ceiling', spec: { autoscaling: { enabled: true, maxReplicas: 6 } } },
      {
        name: 'autoscaling with every field',
        spec: {
          memoryLimitMB: 128,
          highAvailability: 'Enabled',
          autoscaling: {
            enabled: true, minReplicas: 2, maxReplicas: 10, targetMemoryPercent: 70, evictionsPerSecond: '0.5', evictingFor: '2m',
            scaleOutCooldown: '1m30s', scaleInCooldown: '1h', maxMemoryLimitMB: 1024,
            anomalyDetection: { enabled: true, factor: '3.5', learningPeriod: '2h' },
          },
        },
      },
      { name: 'autoscaling at its bounds', spec: { autoscaling: { enabled: true, minReplicas: 100, maxReplicas: 100, targetMemoryPercent: 95, maxMemoryLimitMB: 64 } } },
      { name: 'HA disabled grows memory only', spec: { highAvailability: 'Disabled', autoscaling: { enabled: true, maxReplicas: 1, maxMemoryLimitMB: 256 } } },
      { name: 'anomaly detection without scaling', spec: { autoscaling: { anomalyDetection: { enabled: true, factor: '1' } } } },
      { name: 'a memory limit without vertical scaling', spec: { resources: { limits: { memory: '1Gi' } }, autoscaling: { enabled: true, maxReplicas: 4 } } },
      {
        name: 'scheduling fields',
        spec: {
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'cache', effect: 'NoSchedule' }, { operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }],
          priorityClassName: 'high',
          image: 'quay.io/example/memcached:1.6',
        },
      },
    ];
    for (const c of good) {
      it(c.name, () => {
        const r = validateMemcached(mc(c.spec));
        expect(r, JSON.stringify(r)).to.deep.include({ valid: true });
      });
    }
  });

  describe('rejects, with a readable message', () => {
    const bad: { name: string; spec: unknown; message: string | RegExp }[] = [
      { name: 'too many threads', spec: { threads: 65 }, message: 'spec.threads: must be <= 64' },
      { name: 'zero threads', spec: { threads: 0 }, message: 'spec.threads: must be >= 1' },
      { name: 'size 0', spec: { size: 0 }, message: 'spec.size: must be >= 1' },
      { name: 'size over 100', spec: { size: 101 }, message: 'spec.size: must be <= 100' },
      { name: 'fractional size', spec: { size: 1.5 }, message: 'spec.size: must be an integer' },
      { name: 'size as a string', spec: { size: '3' }, message: 'spec.size: must be an integer' },
      { name: 'port 0', spec: { containerPort: 0 }, message: 'spec.containerPort: must be >= 1' },
      { name: 'port 65536', spec: { containerPort: 65536 }, message: 'spec.containerPort: must be <= 65535' },
      { name: 'too little memory', spec: { memoryLimitMB: 8 }, message: 'spec.memoryLimitMB: must be >= 16' },
      { name: 'too many connections', spec: { maxConnections: 100000 }, message: 'spec.maxConnections: must be <= 65536' },
      { name: 'unknown HA mode', spec: { highAvailability: 'Maybe' }, message: 'spec.highAvailability: must be one of "Auto", "Enabled", "Disabled"' },
      { name: 'empty image', spec: { image: '' }, message: 'spec.image: must NOT have fewer than 1 characters' },
      { name: 'item size without unit', spec: { maxItemSize: '1024' }, message: /^spec\.maxItemSize: must match / },
      { name: 'item size in bytes', spec: { maxItemSize: '1b' }, message: /^spec\.maxItemSize: must match / },
      { name: 'item size 0', spec: { maxItemSize: '0m' }, message: /^spec\.maxItemSize: must match / },
      { name: 'item size not a multiple of 512k', spec: { maxItemSize: '1000k' }, message: 'spec.maxItemSize: maxItemSize must be a multiple of 512k and at most 1024m' },
      { name: 'item size below the slab chunk', spec: { maxItemSize: '100k' }, message: 'spec.maxItemSize: maxItemSize must be a multiple of 512k and at most 1024m' },
      { name: 'item size over 1 GiB', spec: { memoryLimitMB: 4096, maxItemSize: '1025m' }, message: /^spec\.maxItemSize: maxItemSize must be a multiple of 512k and at most 1024m/ },
      { name: 'item size over half the memory', spec: { memoryLimitMB: 64, maxItemSize: '33m' }, message: 'spec: maxItemSize must be at most half of memoryLimitMB (memcached refuses to start otherwise)' },
      { name: 'item size over half the default memory', spec: { maxItemSize: '64m' }, message: /^spec: maxItemSize must be at most half of memoryLimitMB/ },
      { name: 'HA disabled with 3 replicas', spec: { size: 3, highAvailability: 'Disabled' }, message: /^spec: highAvailability Disabled contradicts size > 1/ },
      { name: 'HA enabled with 1 replica', spec: { size: 1, highAvailability: 'Enabled' }, message: /^spec: highAvailability Enabled needs at least 2 replicas/ },
      { name: 'extra arg -p', spec: { extraArgs: ['-p', '1'] }, message: /^spec\.extraArgs: extraArgs must not set -p/ },
      { name: 'extra arg -m attached', spec: { extraArgs: ['-m1024'] }, message: /^spec\.extraArgs: extraArgs must not set/ },
      { name: 'extra arg -d', spec: { extraArgs: ['-d'] }, message: /^spec\.extraArgs: extraArgs must not set/ },
      { name: 'extra arg -d bundled', spec: { extraArgs: ['-vvd'] }, message: /^spec\.extraArgs: extraArgs must not set/ },
      { name: 'extra arg -u', spec: { extraArgs: ['-u', 'root'] }, message: /^spec\.extraArgs: extraArgs must not set/ },
      { name: 'extra arg -U', spec: { extraArgs: ['-U', '11211'] }, message: /^spec\.extraArgs: extraArgs must not set/ },
      { name: 'extra arg -I', spec: { extraArgs: ['-I', '2m'] }, message: /^spec\.extraArgs: extraArgs must not set/ },
      { name: 'extra arg -c and -t', spec: { extraArgs: ['-M', '-c', '5', '-t', '2'] }, message: /^spec\.extraArgs: extraArgs must not set/ },
      { name: 'extra arg --port=', spec: { extraArgs: ['--port=1'] }, message: /^spec\.extraArgs: extraArgs must not set --port/ },
      { name: 'extra arg --daemon', spec: { extraArgs: ['--daemon'] }, message: /^spec\.extraArgs: extraArgs must not set --port/ },
      { name: 'extra arg --memory-limit', spec: { extraArgs: ['--memory-limit', '9'] }, message: /^spec\.extraArgs: extraArgs must not set --port/ },
      { name: 'extra arg abbreviated --thr', spec: { extraArgs: ['--thr=9'] }, message: /^spec\.extraArgs: extraArgs must not set --port/ },
      { name: 'extra arg bare --', spec: { extraArgs: ['--'] }, message: /^spec\.extraArgs: extraArgs must not set --port/ },
      { name: 'too many extra args', spec: { extraArgs: Array.from({ length: 33 }, () => '-v') }, message: 'spec.extraArgs: must NOT have more than 32 items' },
      { name: 'an empty extra arg', spec: { extraArgs: [''] }, message: 'spec.extraArgs[0]: must NOT have fewer than 1 characters' },
      { name: 'an extra arg that is not a string', spec: { extraArgs: [1] }, message: 'spec.extraArgs[0]: must be a string' },
      // A Secret named with TLS left off would serve plaintext while the user believes the cache encrypted.
      { name: 'a serving Secret without enabled', spec: { tls: { secretName: 'my-cert' } }, message: /^spec\.tls: tls names a Secret .* but tls\.enabled is not true, so memcached would serve plaintext: set tls\.enabled: true to serve TLS, or remove tls\.secretName/ },
      { name: 'a serving Secret with enabled false', spec: { tls: { enabled: false, secretName: 'my-cert' } }, message: /^spec\.tls: tls names a Secret/ },
      { name: 'a client CA Secret without enabled', spec: { tls: { clientCASecretName: 'client-ca' } }, message: /^spec\.tls: tls names a Secret/ },
      { name: 'a bad quantity', spec: { resources: { limits: { memory: 'lots' } } }, message: /^spec\.resources\.limits\.memory: must match / },
      { name: 'a quantity of the wrong type', spec: { resources: { requests: { cpu: true } } }, message: 'spec.resources.requests.cpu: must be an integer or a string' },
      { name: 'a bad toleration operator', spec: { tolerations: [{ key: 'a', operator: 'In' }] }, message: 'spec.tolerations[0].operator: must be one of "Exists", "Equal"' },
      { name: 'a bad toleration effect', spec: { tolerations: [{ effect: 'Never' }] }, message: 'spec.tolerations[0].effect: must be one of "NoSchedule", "PreferNoSchedule", "NoExecute"' },
      { name: 'a node selector value that is not a string', spec: { nodeSelector: { a: 1 } }, message: 'spec.nodeSelector.a: must be a string' },
      { name: 'autoscaling on without maxReplicas', spec: { autoscaling: { enabled: true } }, message: 'spec.autoscaling: autoscaling.enabled needs autoscaling.maxReplicas, the most replicas the operator may run' },
      { name: 'autoscaling min above max', spec: { autoscaling: { minReplicas: 5, maxReplicas: 4 } }, message: 'spec.autoscaling: autoscaling.minReplicas must be at most autoscaling.maxReplicas' },
      { name: 'autoscaling maxReplicas 0', spec: { autoscaling: { maxReplicas: 0 } }, message: 'spec.autoscaling.maxReplicas: must be >= 1' },
      { name: 'autoscaling maxReplicas over 100', spec: { autoscaling: { maxReplicas: 101 } }, message: 'spec.autoscaling.maxReplicas: must be <= 100' },
      { name: 'a memory target of 100%', spec: { autoscaling: { targetMemoryPercent: 100 } }, message: 'spec.autoscaling.targetMemoryPercent: must be <= 95' },
      { name: 'a memory target of 5%', spec: { autoscaling: { targetMemoryPercent: 5 } }, message: 'spec.autoscaling.targetMemoryPercent: must be >= 10' },
      { name: 'an eviction threshold that is not a decimal', spec: { autoscaling: { evictionsPerSecond: '1e3' } }, message: /^spec\.autoscaling\.evictionsPerSecond: must match / },
      { name: 'an eviction threshold as a number', spec: { autoscaling: { evictionsPerSecond: 1 } }, message: 'spec.autoscaling.evictionsPerSecond: must be a string' },
      { name: 'a cooldown in days', spec: { autoscaling: { scaleInCooldown: '1d' } }, message: /^spec\.autoscaling\.scaleInCooldown: must match / },
      { name: 'a cooldown without a unit', spec: { autoscaling: { scaleOutCooldown: '600' } }, message: /^spec\.autoscaling\.scaleOutCooldown: must match / },
      { name: 'an evicting window with a sign', spec: { autoscaling: { evictingFor: '-5m' } }, message: /^spec\.autoscaling\.evictingFor: must match / },
      { name: 'a memory ceiling below memoryLimitMB', spec: { memoryLimitMB: 256, autoscaling: { maxMemoryLimitMB: 128 } }, message: 'spec: autoscaling.maxMemoryLimitMB must be at least memoryLimitMB, the memory vertical scaling starts from' },
      { name: 'a memory ceiling below the default memoryLimitMB', spec: { autoscaling: { maxMemoryLimitMB: 32 } }, message: /^spec: autoscaling\.maxMemoryLimitMB must be at least memoryLimitMB/ },
      { name: 'a memory ceiling with a container memory limit', spec: { resources: { limits: { memory: '1Gi' } }, autoscaling: { maxMemoryLimitMB: 512 } }, message: /^spec: autoscaling\.maxMemoryLimitMB needs resources\.limits\.memory unset/ },
      { name: 'HA disabled with a replica ceiling above 1', spec: { highAvailability: 'Disabled', autoscaling: { enabled: true, maxReplicas: 3 } }, message: /^spec: highAvailability Disabled runs 1 replica: autoscaling\.maxReplicas must be 1/ },
      { name: 'HA enabled with a floor of 1', spec: { highAvailability: 'Enabled', autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 3 } }, message: /^spec: highAvailability Enabled needs at least 2 replicas: autoscaling\.minReplicas and maxReplicas/ },
      { name: 'HA enabled with a ceiling of 1', spec: { highAvailability: 'Enabled', autoscaling: { enabled: true, maxReplicas: 1 } }, message: /^spec: highAvailability Enabled needs at least 2 replicas/ },
      { name: 'an anomaly factor below 1', spec: { autoscaling: { anomalyDetection: { factor: '0.5' } } }, message: /^spec\.autoscaling\.anomalyDetection\.factor: must match / },
      { name: 'an anomaly factor of 100', spec: { autoscaling: { anomalyDetection: { factor: '100' } } }, message: /^spec\.autoscaling\.anomalyDetection\.factor: must match / },
      { name: 'a learning period in days', spec: { autoscaling: { anomalyDetection: { learningPeriod: '7d' } } }, message: /^spec\.autoscaling\.anomalyDetection\.learningPeriod: must match / },
      { name: 'spec that is not an object', spec: 'big', message: 'spec: must be an object' },
      { name: 'spec that is an array', spec: [1], message: 'spec: must be an object' },
      { name: 'spec null', spec: null, message: 'spec: must be an object' },
    ];
    for (const c of bad) {
      it(c.name, () => {
        const message = invalidMessage(mc(c.spec));
        if (typeof c.message === 'string') expect(message).to.equal(c.message);
        else expect(message).to.match(c.message);
      });
    }

    it('reports every schema error at once', () => {
      expect(invalidMessage(mc({ threads: 100, size: 0 }))).to.equal('spec.size: must be >= 1; spec.threads: must be <= 64');
    });

    it('reports every broken CEL rule at once', () => {
      const message = invalidMessage(mc({ size: 3, highAvailability: 'Disabled', extraArgs: ['-d', '--port'] }));
      expect(message.split('; ')).to.have.length(3);
    });
  });

  describe('never throws', () => {
    const cyclic: Record<string, unknown> = { spec: {} };
    (cyclic.spec as Record<string, unknown>).self = cyclic;
    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let i = 0; i < 100000; i++) cursor = cursor.x = {} as Record<string, unknown>;
    const garbage: { name: string; value: unknown }[] = [
      { name: 'undefined', value: undefined },
      { name: 'null', value: null },
      { name: 'a string', value: 'memcached' },
      { name: 'a number', value: 42 },
      { name: 'an array', value: [mc({})] },
      { name: 'a function', value: () => 1 },
      { name: 'a symbol', value: Symbol('x') },
      { name: 'a cyclic object', value: cyclic },
      { name: 'a deeply nested spec', value: { spec: { resources: deep } } },
      { name: 'deeply nested metadata', value: { metadata: deep } },
      { name: 'a huge spec', value: { spec: { extraArgs: Array.from({ length: 200000 }, (_, i) => `-${i}`) } } },
      { name: 'a huge map', value: { spec: { nodeSelector: Object.fromEntries(Array.from({ length: 100000 }, (_, i) => [`k${i}`, 'v'])) } } },
      { name: 'an object with a null prototype', value: Object.assign(Object.create(null) as object, { spec: { threads: 2 } }) },
      { name: 'a spec with a __proto__ key', value: JSON.parse('{"spec":{"__proto__":{"threads":99},"threads":2}}') as unknown },
    ];
    for (const g of garbage) {
      it(g.name, () => {
        const r = validateMemcached(g.value);
        expect(r).to.have.property('valid').that.is.a('boolean');
        if (!r.valid) expect(r.message).to.be.a('string').and.not.equal('');
      });
    }

    it('rejects input that is not an object', () => {
      for (const v of [undefined, null, 'x', 1, [], true]) {
        expect(validateMemcached(v)).to.deep.equal({ valid: false, message: '<root>: must be an object' });
      }
    });

    it('rejects a huge spec for its size, not by crashing', () => {
      const r = validateMemcached({ spec: { extraArgs: Array.from({ length: 200000 }, () => '-v') } });
      expect(r).to.deep.equal({ valid: false, message: 'spec.extraArgs: must NOT have more than 32 items' });
    });
  });

  describe('default image', () => {
    it('pins a memcached 1.6 image by tag', () => {
      expect(DEFAULT_MEMCACHED_IMAGE).to.match(/^docker\.io\/library\/memcached:1\.6\.\d+-alpine$/);
    });
  });
});
