import { expect } from 'chai';
import { probeOutcome } from '../src/optionalinformer.js';

describe('probeOutcome (is an optional API served?)', () => {
  const cases: [number | undefined, string, string][] = [
    [undefined, 'unknown', 'present'],
    [404, 'present', 'absent'],
    [403, 'unknown', 'forbidden'],
    [401, 'absent', 'forbidden'],
    [0, 'unknown', 'absent'],
    [0, 'present', 'present'],
    [503, 'absent', 'absent'],
  ];
  for (const [code, previous, next] of cases) {
    it(`${code ?? 'success'} after ${previous} -> ${next}`, () => {
      expect(probeOutcome(code, previous as never)).to.equal(next);
    });
  }
});
