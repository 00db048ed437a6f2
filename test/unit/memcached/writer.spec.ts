import { expect } from 'chai';
import { mergePatchFrom, objectPath } from '../../../src/memcached/writer.js';

describe('the status merge patch', () => {
  const cases: [string, unknown, unknown, unknown][] = [
    ['a dropped key becomes null', { a: 1, b: 2 }, { a: 1 }, { a: 1, b: null }],
    ['nested objects too', { op: { server: 'x', kept: 3 } }, { op: { server: 'y' } }, { op: { server: 'y', kept: null } }],
    ['lists are replaced whole', { list: [1, 2] }, { list: [3] }, { list: [3] }],
    ['an object where there was none', undefined, { a: { b: 1 } }, { a: { b: 1 } }],
    ['an undefined member is dropped', { a: 1 }, { a: undefined, c: 2 }, { a: null, c: 2 }],
  ];
  for (const [what, before, after, patch] of cases) it(what, () => expect(mergePatchFrom(before, after)).to.deep.equal(patch));
});

describe('the URL path of an object the writer writes', () => {
  const meta = { name: 'cache', namespace: 'ns 1' };
  const cases: [string, Parameters<typeof objectPath>, string][] = [
    ['a core kind', [{ apiVersion: 'v1', kind: 'Service', metadata: meta }], '/api/v1/namespaces/ns%201/services/cache'],
    ['a grouped kind', [{ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: meta }], '/apis/apps/v1/namespaces/ns%201/statefulsets/cache'],
    ['a subresource', [{ apiVersion: 'v1', kind: 'Pod', metadata: meta }, 'resize'], '/api/v1/namespaces/ns%201/pods/cache/resize'],
    ['the Memcached status', [{ apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: meta }, 'status'], '/apis/cache.example.com/v1alpha1/namespaces/ns%201/memcacheds/cache/status'],
  ];
  for (const [what, args, want] of cases) it(what, () => expect(objectPath(...args)).to.equal(want));

  const refused: [string, Parameters<typeof objectPath>[0]][] = [
    ['a kind the operator does not write', { apiVersion: 'v1', kind: 'Namespace', metadata: meta }],
    ['no namespace', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cache' } }],
    ['no apiVersion', { kind: 'Service', metadata: meta }],
  ];
  for (const [what, obj] of refused) it(`refuses ${what}, saying what it writes`, () => expect(() => objectPath(obj)).to.throw(/the operator writes only namespaced/));
});
