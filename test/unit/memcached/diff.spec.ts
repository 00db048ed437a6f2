import { expect } from 'chai';
import { DESIRED_HASH_ANNOTATION, desiredHash, isSubset, needsApply, stableStringify, withDesiredHash } from '../../../src/memcached/diff.js';

describe('desired-state diff', () => {
  const cases: Array<[string, unknown, unknown, boolean]> = [
    ['equal primitives', 3, 3, true],
    ['different primitives', 3, 4, false],
    ['int-or-string canonicalised by the apiserver', 1, '1', true],
    ['extra live fields are ignored', { a: 1 }, { a: 1, b: 2 }, true],
    ['missing live field', { a: 1, b: 2 }, { a: 1 }, false],
    ['nested drift (an edited image)', { c: [{ image: 'm:1' }] }, { c: [{ image: 'm:2', imagePullPolicy: 'IfNotPresent' }] }, false],
    ['defaulted fields inside list items are ignored', { c: [{ image: 'm:1' }] }, { c: [{ image: 'm:1', imagePullPolicy: 'IfNotPresent' }] }, true],
    ['list length must match', { args: ['-p', '1'] }, { args: ['-p', '1', '-v'] }, false],
    ['list order matters', { args: ['-p', '1'] }, { args: ['1', '-p'] }, false],
    ['undefined desired values are not wanted', { a: undefined }, {}, true],
    ['object vs array', { a: {} }, { a: [] }, false],
    ['null live', { a: 1 }, null, false],
    ['zero values read back as absent (omitempty)', { a: false, b: 0, c: '', d: [], e: {} }, {}, true],
    ['a non-zero value missing from live', { a: true }, {}, false],
  ];
  for (const [name, desired, live, expected] of cases) {
    it(`isSubset: ${name}`, () => {
      expect(isSubset(desired, live)).to.equal(expected);
    });
  }

  it('hashes independently of key order', () => {
    expect(stableStringify({ b: 1, a: [{ d: 1, c: 2 }] })).to.equal('{"a":[{"c":2,"d":1}],"b":1}');
    expect(desiredHash({ a: 1, b: 2 })).to.equal(desiredHash({ b: 2, a: 1 }));
    expect(desiredHash({ a: 1 })).not.to.equal(desiredHash({ a: 2 }));
  });

  const desired = withDesiredHash({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's', labels: { app: 'x' } },
    spec: { ports: [{ port: 11211 }] },
  });

  it('applies when the object is missing', () => {
    expect(needsApply(desired, undefined)).to.equal(true);
  });

  it('does not apply a converged object, whatever the apiserver added', () => {
    const live = {
      ...desired,
      metadata: { ...desired.metadata, uid: 'u', resourceVersion: '7', managedFields: [] },
      spec: { ports: [{ port: 11211, protocol: 'TCP', targetPort: 11211 }], clusterIP: '10.0.0.1' },
    };
    expect(needsApply(desired, live)).to.equal(false);
  });

  it('applies when the live object drifted from a field we own', () => {
    const live = { ...desired, spec: { ports: [{ port: 9999 }] } };
    expect(needsApply(desired, live)).to.equal(true);
  });

  it('applies when we stopped wanting a field (the hash changed), even though live is a superset', () => {
    const before = withDesiredHash({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { a: 1, b: 2 } });
    const after = withDesiredHash({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { a: 1 } });
    const hashOf = (o: { metadata?: { annotations?: Record<string, string> } }) => o.metadata?.annotations?.[DESIRED_HASH_ANNOTATION];
    expect(hashOf(after)).not.to.equal(hashOf(before));
    expect(needsApply(after, before)).to.equal(true);
  });
});
