import { expect } from 'chai';
import { mergePatchFrom } from '../../../src/memcached/writer.js';

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
