import { expect } from 'chai';
import { LEGACY_FINALIZER } from '../../../src/api/types.js';
import { withoutLegacyFinalizer } from '../../../src/memcached/children/metadata.js';

describe('memcached/finalizer: removing the legacy finalizer', () => {
  const cases: Array<[string, string[] | undefined, string[] | undefined]> = [
    ['no finalizers at all: nothing to write', undefined, undefined],
    ['an empty list: nothing to write', [], undefined],
    ['only other controllers\' finalizers: nothing to write (not ours to touch)', ['example.com/keep'], undefined],
    ['the legacy one alone: written as an empty list', [LEGACY_FINALIZER], []],
    ['the legacy one among others: the others stay, in order', ['a.example.com/x', LEGACY_FINALIZER, 'b.example.com/y'], ['a.example.com/x', 'b.example.com/y']],
    ['the legacy one twice (a hand edit): both go', [LEGACY_FINALIZER, LEGACY_FINALIZER], []],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => expect(withoutLegacyFinalizer(input)).to.deep.equal(expected));
  }

  it('asks for one write, never a second: its own result needs nothing', () => {
    const once = withoutLegacyFinalizer(['x/y', LEGACY_FINALIZER]);
    expect(once).to.deep.equal(['x/y']);
    expect(withoutLegacyFinalizer(once)).to.equal(undefined);
  });

  it('names the finalizer earlier versions wrote', () => expect(LEGACY_FINALIZER).to.equal('cache.example.com/finalizer'));
});
