// The watcher's pure parts: what counts as a change of the topology inputs.
import { expect } from 'chai';
import { infrastructureFingerprint, nodeFingerprint } from '../../../src/topology/watcher.js';
import { infrastructure, node } from './fixtures.js';

describe('topology watcher fingerprints', function () {
  it('an absent object differs from an object without status', function () {
    expect(infrastructureFingerprint(undefined)).to.not.equal(infrastructureFingerprint({ metadata: { name: 'cluster' } }));
  });

  it('a status that changes shape is a change, even when both shapes read as HighlyAvailable', function () {
    const shapes = [
      { metadata: { name: 'cluster' } },
      { metadata: { name: 'cluster' }, status: {} },
      { metadata: { name: 'cluster' }, status: 'broken' },
      { metadata: { name: 'cluster' }, status: { controlPlaneTopology: 'Banana' } },
      { metadata: { name: 'cluster' }, status: { controlPlaneTopology: 7 } },
      { metadata: { name: 'cluster' }, status: { controlPlaneTopology: 'HighlyAvailable', infrastructureTopology: 'HighlyAvailable' } },
    ];
    const prints = shapes.map(infrastructureFingerprint);
    expect(new Set(prints).size).to.equal(shapes.length);
  });

  it('fields that cannot change a placement are not a change', function () {
    const a = infrastructure('SingleReplica', 'SingleReplica') as { status: Record<string, unknown> };
    const b = { ...a, status: { ...a.status, apiServerURL: 'https://elsewhere:6443' } };
    expect(infrastructureFingerprint(b)).to.equal(infrastructureFingerprint(a));
  });

  it('a node heartbeat is not a change; readiness, taints, labels and cordoning are', function () {
    const base = node('worker-0', { zone: 'a' });
    const heartbeat = { ...base, status: { ...base.status, conditions: base.status!.conditions!.map((c) => ({ ...c, lastHeartbeatTime: new Date() })) } };
    expect(nodeFingerprint(heartbeat)).to.equal(nodeFingerprint(base));
    for (const changed of [
      node('worker-0', { zone: 'a', ready: false }),
      node('worker-0', { zone: 'a', taints: ['dedicated'] }),
      node('worker-0', { zone: 'b' }),
      node('worker-0', { zone: 'a', unschedulable: true }),
    ]) {
      expect(nodeFingerprint(changed)).to.not.equal(nodeFingerprint(base));
    }
  });
});
