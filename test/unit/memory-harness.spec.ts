import { expect } from 'chai';
import { fillKey, hashGrown, quietBatchEnd, quietBatchErrors, quietSetBatch, valueLength, type Workload } from '../support/memcached-fill.js';
import { parseKeyValues, parseOomControl, parseProcessMemory } from '../support/memory-cgroup.js';

// The pure parts of the memory proofs' harness (test/support/memory-cgroup.ts,
// memcached-fill.ts): what the kernel's files say, and what the fill sends and reads.

describe('memory harness: the cgroup and /proc readings', () => {
  it('reads memory.oom_control: under_oom and the OOM kill count', () => {
    expect(parseOomControl('oom_kill_disable 0\nunder_oom 0\noom_kill 0\n')).to.deep.equal({ underOom: false, oomKills: 0 });
    expect(parseOomControl('oom_kill_disable 0\nunder_oom 1\noom_kill 2\n')).to.deep.equal({ underOom: true, oomKills: 2 });
    // A kernel without the oom_kill line counts no kill.
    expect(parseOomControl('oom_kill_disable 0\nunder_oom 0\n')).to.deep.equal({ underOom: false, oomKills: 0 });
  });

  it('reads memory.stat lines as numbers, skipping what is not one', () => {
    expect(parseKeyValues('cache 12546048\nrss 5836800\nshmem 10465280\n\nodd line here\nbad x\n')).to.deep.equal({ cache: 12546048, rss: 5836800, shmem: 10465280 });
  });

  it('reads the memory lines of /proc/<pid>/status, in KiB', () => {
    const status = 'Name:\tmemcached\nVmHWM:\t   44848 kB\nVmRSS:\t   44848 kB\nRssAnon:\t    1240 kB\nRssFile:\t    3572 kB\nRssShmem:\t   40036 kB\nThreads:\t10\n';
    expect(parseProcessMemory(status)).to.deep.equal({ rssKiB: 44848, peakRssKiB: 44848, anonKiB: 1240, fileKiB: 3572, shmemKiB: 40036 });
    expect(Number.isNaN(parseProcessMemory('Name:\tzombie\n').rssKiB)).to.equal(true);
  });
});

describe('memory harness: the fill', () => {
  const tiny: Workload = { name: 'tiny', minValueBytes: 1, maxValueBytes: 20 };

  it('spreads value lengths over the workload range, the same on every run, for any key number', () => {
    const lengths = Array.from({ length: 10_000 }, (_, i) => valueLength(tiny, i));
    expect(Math.min(...lengths)).to.equal(1);
    expect(Math.max(...lengths)).to.equal(20);
    expect(valueLength(tiny, 123_456_789)).to.be.within(1, 20);
    expect(lengths).to.deep.equal(Array.from({ length: 10_000 }, (_, i) => valueLength(tiny, i)));
  });

  it('sends quiet meta sets with short keys, then mn', () => {
    const pattern = Buffer.from('abcdefghijklmnopqrstuvwxyz');
    const first = valueLength(tiny, 35);
    const second = valueLength(tiny, 36);
    const want = `ms f:z ${first} q T0\r\n${pattern.subarray(0, first).toString()}\r\nms f:10 ${second} q T0\r\n${pattern.subarray(0, second).toString()}\r\nmn\r\n`;
    expect(quietSetBatch(tiny, 35, 2, pattern).toString()).to.equal(want);
    expect(fillKey(36)).to.equal('f:10');
  });

  const replies: [string, string, number | undefined, string[]][] = [
    ['nothing yet', '', undefined, []],
    ['only MN: every set stored', 'MN\r\n', 4, []],
    ['an error before MN', 'SERVER_ERROR out of memory storing object\r\nMN\r\n', 47, ['SERVER_ERROR out of memory storing object']],
    ['MN not yet whole', 'SERVER_ERROR out of memory storing object\r\nM', undefined, []],
    ['a reply a quiet set never sends', 'HD\r\nMN\r\n', 8, ['unexpected reply: HD']],
  ];
  for (const [what, received, end, errors] of replies) {
    it(`reads the reply to a quiet batch: ${what}`, () => {
      expect(quietBatchEnd(received)).to.equal(end);
      if (end !== undefined) expect(quietBatchErrors(received.slice(0, end))).to.deep.equal(errors);
    });
  }

  const tables: [string, Record<string, string>, boolean][] = [
    ['grown: items within 1.5 a bucket', { curr_items: '98304', hash_power_level: '16', hash_is_expanding: '0' }, true],
    ['past 1.5 a bucket: memcached will double it', { curr_items: '98305', hash_power_level: '16', hash_is_expanding: '0' }, false],
    ['still moving items to the doubled table', { curr_items: '98305', hash_power_level: '17', hash_is_expanding: '1' }, false],
    ['doubled', { curr_items: '98305', hash_power_level: '17', hash_is_expanding: '0' }, true],
  ];
  for (const [what, stats, want] of tables) {
    it(`knows when the hash table is done growing: ${what}`, () => expect(hashGrown(new Map(Object.entries(stats)))).to.equal(want));
  }
});
