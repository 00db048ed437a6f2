import { expect } from 'chai';
import type { V1StatefulSet, V1StatefulSetStatus } from '@kubernetes/client-node';
import type { Condition, MemcachedStatus } from '../../../src/api/types.js';
import { computeStatus, dataPathOf, statefulSetDataPath, statusEqual, type StatusInput } from '../../../src/memcached/status.js';
import { HIGHLY_AVAILABLE, SINGLE_NODE, memcached } from './fixtures.js';

const T0 = new Date('2025-01-01T00:00:00.000Z');
const T1 = new Date('2025-01-01T00:05:00.250Z');
const TOPOLOGY = { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable', source: 'Infrastructure' as const, schedulableNodes: 3 };

function statefulSet(status: Partial<V1StatefulSetStatus>, replicas = 3, generation = 2): V1StatefulSet {
  return {
    metadata: { name: 'cache', generation },
    spec: { replicas, selector: {}, serviceName: 'cache-servers', template: {} },
    status: { observedGeneration: generation, replicas: 0, ...status },
  };
}

function byType(s: MemcachedStatus): Record<string, Condition> {
  return Object.fromEntries((s.conditions ?? []).map((c) => [c.type, c]));
}

function summary(s: MemcachedStatus): Record<string, string> {
  return Object.fromEntries((s.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
}

describe('memcached/status', () => {
  describe('computeStatus', () => {
    const cases: { name: string; input: Partial<StatusInput>; want: Record<string, string>; replicas?: [number, number] }[] = [
      {
        name: 'no StatefulSet yet',
        input: { statefulSet: undefined },
        want: { Available: 'False/ReplicasNotReady', Progressing: 'True/Creating', Degraded: 'False/AsExpected' },
        replicas: [0, 0],
      },
      {
        name: 'invalid spec, nothing deployed',
        input: { statefulSet: undefined, invalidMessage: 'spec.threads: must be <= 64', placement: undefined },
        want: { Available: 'False/ReplicasNotReady', Progressing: 'False/InvalidSpec', Degraded: 'True/InvalidSpec' },
      },
      {
        name: 'all replicas ready',
        input: { statefulSet: statefulSet({ replicas: 3, readyReplicas: 3, updatedReplicas: 3, availableReplicas: 3 }) },
        want: { Available: 'True/AllReplicasReady', Progressing: 'False/RolloutComplete', Degraded: 'False/AsExpected' },
        replicas: [3, 3],
      },
      {
        name: 'some replicas not ready',
        input: { statefulSet: statefulSet({ replicas: 3, readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 }) },
        want: { Available: 'False/ReplicasNotReady', Progressing: 'True/RollingOut', Degraded: 'False/AsExpected' },
        replicas: [3, 2],
      },
      {
        name: 'more pods than desired (a scale down under way)',
        input: { statefulSet: statefulSet({ replicas: 4, readyReplicas: 3, updatedReplicas: 3, availableReplicas: 3 }) },
        want: { Available: 'True/AllReplicasReady', Progressing: 'True/RollingOut', Degraded: 'False/AsExpected' },
      },
      {
        name: 'the StatefulSet controller has not seen the new generation',
        input: { statefulSet: { ...statefulSet({ replicas: 3, readyReplicas: 3, updatedReplicas: 3, availableReplicas: 3 }), metadata: { generation: 3 } } },
        want: { Available: 'True/AllReplicasReady', Progressing: 'True/RollingOut', Degraded: 'False/AsExpected' },
      },
      {
        name: 'every replica ready but the servers have work left (a warm restart, a key copy)',
        input: {
          statefulSet: statefulSet({ replicas: 3, readyReplicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
          servers: { servers: [], pending: 'restarting cache-1 in place' },
        },
        want: { Available: 'True/AllReplicasReady', Progressing: 'True/RollingOut', Degraded: 'False/AsExpected' },
      },
      {
        name: 'OnDelete: pods not on the new revision yet do not count as a rollout (the servers say what is left)',
        input: { statefulSet: statefulSet({ replicas: 3, readyReplicas: 3, updatedReplicas: 0, availableReplicas: 3 }), servers: { servers: [] } },
        want: { Available: 'True/AllReplicasReady', Progressing: 'False/RolloutComplete', Degraded: 'False/AsExpected' },
      },
      {
        name: 'invalid spec with the old StatefulSet still serving',
        input: { invalidMessage: 'bad', statefulSet: statefulSet({ replicas: 3, readyReplicas: 3, updatedReplicas: 3, availableReplicas: 3 }) },
        want: { Available: 'True/AllReplicasReady', Progressing: 'False/RolloutComplete', Degraded: 'True/InvalidSpec' },
      },
      {
        name: 'a placement notice becomes a condition',
        input: {
          placement: SINGLE_NODE,
          statefulSet: statefulSet({ replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 }, 1),
        },
        want: {
          Available: 'True/AllReplicasReady',
          Progressing: 'False/RolloutComplete',
          Degraded: 'False/AsExpected',
          HighAvailabilityUnavailable: 'True/SingleNode',
        },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const s = computeStatus({ mc: memcached(), placement: HIGHLY_AVAILABLE, topology: TOPOLOGY, now: T0, ...c.input });
        expect(summary(s)).to.deep.equal(c.want);
        expect(s.observedGeneration).to.equal(3);
        for (const cond of s.conditions!) {
          expect(cond.observedGeneration).to.equal(3);
          expect(cond.reason).to.match(/^[A-Z][A-Za-z]*$/);
          expect(cond.lastTransitionTime).to.equal('2025-01-01T00:00:00Z');
        }
        if (c.replicas) expect([s.replicas, s.readyReplicas]).to.deep.equal(c.replicas);
      });
    }

    it('carries the validator message into Degraded', () => {
      const s = computeStatus({ mc: memcached(), now: T0, invalidMessage: 'spec.threads: must be <= 64' });
      expect(byType(s).Degraded.message).to.equal('spec.threads: must be <= 64');
    });

    it('carries the apiserver\'s refusal of a child into Degraded (ChildRejected), below an invalid spec', () => {
      const message = 'the apiserver rejected StatefulSet cache: spec.template.spec.nodeSelector: Invalid value';
      const s = computeStatus({ mc: memcached(), now: T0, rejectedMessage: message });
      expect(byType(s).Degraded).to.include({ status: 'True', reason: 'ChildRejected', message });
      expect(byType(s).Progressing).to.include({ status: 'False', reason: 'ChildRejected' });
      const both = computeStatus({ mc: memcached(), now: T0, rejectedMessage: message, invalidMessage: 'spec.threads: must be <= 64' });
      expect(byType(both).Degraded).to.include({ reason: 'InvalidSpec' });
    });

    it('names the StatefulSet it created, its replicas and the placement profile in Progressing (there is no Created Event)', () => {
      const justCreated = statefulSet({});
      const s = computeStatus({ mc: memcached(), statefulSet: justCreated, created: { statefulSet: 'cache', replicas: 3, profile: 'HighlyAvailable' }, now: T0 });
      expect(byType(s).Progressing).to.include({ status: 'True', reason: 'RollingOut' });
      expect(byType(s).Progressing.message).to.match(/^Created StatefulSet cache with 3 replicas \(HighlyAvailable\); /);
      const later = computeStatus({ mc: memcached(), statefulSet: justCreated, now: T0 });
      expect(byType(later).Progressing.message, 'a later pass does not repeat it').to.not.include('Created');
    });

    it('reports topology with the placement profile, and sorted ready pods', () => {
      const s = computeStatus({ mc: memcached(), placement: HIGHLY_AVAILABLE, topology: TOPOLOGY, readyPods: ['cache-b', 'cache-a'], now: T0 });
      expect(s.topology).to.deep.equal({ ...TOPOLOGY, profile: 'HighlyAvailable' });
      expect(s.nodes).to.deep.equal(['cache-a', 'cache-b']);
    });

    it('keeps lastTransitionTime of unchanged conditions and moves it for changed ones', () => {
      const ready = statefulSet({ replicas: 3, readyReplicas: 3, updatedReplicas: 3, availableReplicas: 3 });
      const first = computeStatus({ mc: memcached(), placement: HIGHLY_AVAILABLE, statefulSet: ready, now: T0 });
      const mc = { ...memcached(), status: first };
      const degraded = statefulSet({ replicas: 3, readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 });
      const second = computeStatus({ mc, placement: HIGHLY_AVAILABLE, statefulSet: degraded, now: T1 });
      expect(byType(second).Available.lastTransitionTime).to.equal('2025-01-01T00:05:00Z');
      expect(byType(second).Degraded.lastTransitionTime).to.equal('2025-01-01T00:00:00Z');
      const third = computeStatus({ mc, placement: HIGHLY_AVAILABLE, statefulSet: ready, now: T1 });
      expect(third.conditions).to.deep.equal(first.conditions);
      expect(statusEqual(first, third)).to.equal(true);
    });

    it('drops a notice condition the placement no longer has', () => {
      const withNotice = computeStatus({ mc: memcached(), placement: SINGLE_NODE, now: T0 });
      expect(byType(withNotice)).to.have.property('HighAvailabilityUnavailable');
      const after = computeStatus({ mc: { ...memcached(), status: withNotice }, placement: HIGHLY_AVAILABLE, now: T1 });
      expect(byType(after)).to.not.have.property('HighAvailabilityUnavailable');
    });

    it('reports the servers: the published list, each state and the last operation, and keeps list and operation when a pass has none', () => {
      const lastOperation = { type: 'ScaleUp' as const, phase: 'Succeeded' as const, startedAt: '2025-01-01T00:00:00Z', message: 'cache-3 added' };
      const servers = {
        serverList: ['cache-0.cache-servers.ns.svc:11211', 'cache-1.cache-servers.ns.svc:11211'],
        servers: [{ name: 'cache-0', state: 'Warm' as const }, { name: 'cache-1', state: 'Starting' as const }],
        lastOperation,
      };
      const s = computeStatus({ mc: memcached(), statefulSet: statefulSet({ replicas: 2, readyReplicas: 1, availableReplicas: 1 }, 2), servers, now: T0 });
      expect(s.serverList).to.deep.equal(servers.serverList);
      expect(s.servers).to.deep.equal(servers.servers);
      expect(s.lastOperation).to.deep.equal(lastOperation);
      const kept = computeStatus({ mc: { ...memcached(), status: s }, now: T1 });
      expect(kept.serverList, 'a pass without a report keeps the published list').to.deep.equal(servers.serverList);
      expect(kept.lastOperation).to.deep.equal(lastOperation);
      expect(kept.servers).to.equal(undefined);
    });

    it('keeps the previous topology when none was observed', () => {
      const previous: MemcachedStatus = { topology: { ...TOPOLOGY, profile: 'HighlyAvailable' } };
      const s = computeStatus({ mc: { ...memcached(), status: previous }, now: T0 });
      expect(s.topology).to.deep.equal(previous.topology);
    });

    it("reports a child write that keeps failing as Degraded (ChildWriteFailing) with the apiserver's message, below a refused child", () => {
      const message = 'writing Service cache keeps failing; retrying with backoff: Internal error occurred: failed to allocate a serviceIP: range is full';
      const s = computeStatus({ mc: memcached(), now: T0, writeFailingMessage: message });
      expect(byType(s).Degraded).to.include({ status: 'True', reason: 'ChildWriteFailing', message });
      // Still being created: the retries go on.
      expect(byType(s).Progressing).to.include({ status: 'True', reason: 'Creating' });
      const both = computeStatus({ mc: memcached(), now: T0, writeFailingMessage: message, rejectedMessage: 'the apiserver rejected StatefulSet cache: no' });
      expect(byType(both).Degraded).to.include({ reason: 'ChildRejected' });
    });

    it('says in status.tls what the data path is, with the certificate when there is one, and drops it when unknown', () => {
      const cert = { secretName: 'cache-tls', serialNumber: '0A', notAfter: '2026-01-01T00:00:00Z' };
      expect(computeStatus({ mc: memcached(), now: T0, dataPath: 'TLS', tls: cert }).tls).to.deep.equal({ ...cert, dataPath: 'TLS' });
      expect(computeStatus({ mc: memcached(), now: T0, dataPath: 'Plaintext' }).tls).to.deep.equal({ dataPath: 'Plaintext' });
      expect(computeStatus({ mc: memcached({}), now: T0, tls: cert }).tls, 'no StatefulSet: nothing serves').to.equal(undefined);
    });
  });

  describe('dataPathOf', () => {
    const cases: { name: string; args: string[]; want: string }[] = [
      { name: 'no TLS flags', args: ['-p', '11211', '-m', '64'], want: 'Plaintext' },
      { name: 'TLS (-Z)', args: ['-p', '11211', '-Z', '-o', 'ssl_chain_cert=/etc/memcached/tls/tls.crt,ssl_key=/etc/memcached/tls/tls.key'], want: 'TLS' },
      { name: 'TLS and a plaintext listener', args: ['-Z', '-o', 'ssl_key=k', '-l', '0.0.0.0,notls:0.0.0.0:11212'], want: 'TLSAndPlaintext' },
      { name: 'a notls listener without TLS is plaintext anyway', args: ['-l', 'notls:0.0.0.0:11212'], want: 'Plaintext' },
    ];
    for (const c of cases) it(c.name, () => expect(dataPathOf(c.args)).to.equal(c.want));

    it("reads the memcached container of a StatefulSet's pod template", () => {
      const d = (args: string[]): V1StatefulSet => ({ spec: { selector: {}, serviceName: 'cache-servers', template: { spec: { containers: [{ name: 'exporter', args: ['-Z'] }, { name: 'memcached', args }] } } } });
      expect(statefulSetDataPath(d(['-Z']))).to.equal('TLS');
      expect(statefulSetDataPath(d(['-p', '11211']))).to.equal('Plaintext');
      expect(statefulSetDataPath(undefined)).to.equal(undefined);
    });
  });

  describe('statusEqual', () => {
    const a = computeStatus({ mc: memcached(), placement: HIGHLY_AVAILABLE, topology: TOPOLOGY, readyPods: ['p1'], now: T0 });
    const cases: { name: string; b: () => MemcachedStatus; equal: boolean }[] = [
      { name: 'itself', b: () => structuredClone(a), equal: true },
      {
        name: 'only lastTransitionTime differs',
        b: () => ({ ...a, conditions: a.conditions!.map((c) => ({ ...c, lastTransitionTime: '2030-01-01T00:00:00Z' })) }),
        equal: true,
      },
      { name: 'conditions in another order', b: () => ({ ...a, conditions: [...a.conditions!].reverse() }), equal: true },
      { name: 'keys in another order', b: () => Object.fromEntries(Object.entries(a).reverse()), equal: true },
      { name: 'a message differs', b: () => ({ ...a, conditions: a.conditions!.map((c, i) => (i === 0 ? { ...c, message: 'x' } : c)) }), equal: false },
      { name: 'a status differs', b: () => ({ ...a, conditions: a.conditions!.map((c, i) => (i === 0 ? { ...c, status: 'True' as const } : c)) }), equal: false },
      { name: 'a condition is missing', b: () => ({ ...a, conditions: a.conditions!.slice(1) }), equal: false },
      { name: 'readyReplicas differs', b: () => ({ ...a, readyReplicas: 1 }), equal: false },
      { name: 'observedGeneration differs', b: () => ({ ...a, observedGeneration: 4 }), equal: false },
      { name: 'nodes differ', b: () => ({ ...a, nodes: ['p2'] }), equal: false },
      { name: 'topology differs', b: () => ({ ...a, topology: { ...a.topology!, schedulableNodes: 4 } }), equal: false },
    ];
    for (const c of cases) {
      it(`${c.equal ? 'equal' : 'different'}: ${c.name}`, () => expect(statusEqual(a, c.b())).to.equal(c.equal));
    }

    it('treats undefined as empty', () => {
      expect(statusEqual(undefined, {})).to.equal(true);
      expect(statusEqual(undefined, a)).to.equal(false);
    });
  });
});
