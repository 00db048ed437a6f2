import { expect } from 'chai';
import { median, percentile, ratio, round, spread, stats } from '../support/stats.js';

describe('stats (shared by the suites and the benchmark)', () => {
  it('median: the middle value, or the mean of the two middle ones; finite values only', () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(median([1, NaN, 3])).to.equal(2);
    expect(Number.isNaN(median([]))).to.equal(true);
  });

  it('percentile: nearest rank', () => {
    const v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    expect(percentile(v, 50)).to.equal(50);
    expect(percentile(v, 90)).to.equal(90);
    expect(percentile(v, 99)).to.equal(100);
    expect(percentile([5], 0)).to.equal(5);
    expect(percentile([], 50)).to.equal(undefined);
  });

  it('stats and spread agree on the median', () => {
    expect(stats([4, 1, 3, 2])).to.deep.equal({ n: 4, min: 1, median: 2.5, max: 4 });
    expect(spread([4, 1, 3, 2])).to.deep.equal({ minMs: 1, medianMs: 3, maxMs: 4 });
    expect(spread([])).to.deep.equal({ minMs: null, medianMs: null, maxMs: null });
    expect(stats([NaN]).n).to.equal(0);
  });

  it('round and ratio', () => {
    expect(round(1.005, 2)).to.equal(1);
    expect(round(undefined)).to.equal(null);
    expect(ratio(3, 2)).to.equal(1.5);
    expect(ratio(1, 0)).to.equal(null);
  });
});
