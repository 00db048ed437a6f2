import { expect } from 'chai';
import { COMMAND_STATS, STAT_METRICS, renderExposition } from '../../../src/exporter/metrics.js';
import { parseTarget } from '../../../src/exporter/scrape.js';


describe('exporter/metrics', () => {
  describe('renderExposition', () => {
    it('reports only memcached_up 0 when memcached could not be read', () => {
      const text = renderExposition(undefined);
      expect(text.split('\n').filter((l) => l && !l.startsWith('#'))).to.deep.equal(['memcached_up 0']);
    });

    it('maps each stat to its metric and each command counter to its labels', () => {
      const stats = new Map([
        ['version', '1.6.18'],
        ['curr_connections', '12'],
        ['max_connections', '1024'],
        ['evictions', '5'],
        ['limit_maxbytes', '67108864'],
        ['get_hits', '90'],
        ['get_misses', '10'],
        ['cmd_set', '40'],
        ['rusage_user', '0.123456'],
      ]);
      const samples = renderExposition(stats)
        .split('\n')
        .filter((l) => l && !l.startsWith('#'));
      expect(samples).to.deep.equal([
        'memcached_up 1',
        'memcached_version{version="1.6.18"} 1',
        'memcached_current_connections 12',
        'memcached_max_connections 1024',
        'memcached_items_evicted_total 5',
        'memcached_limit_bytes 67108864',
        'memcached_rusage_user_seconds_total 0.123456',
        'memcached_commands_total{command="get",status="hit"} 90',
        'memcached_commands_total{command="get",status="miss"} 10',
        'memcached_commands_total{command="set",status="hit"} 40',
      ]);
    });

    it('leaves out fields that are missing or not numbers instead of writing 0', () => {
      const text = renderExposition(new Map([['evictions', 'n/a']]));
      expect(text).to.not.include('memcached_items_evicted_total ');
      expect(text).to.not.include('memcached_commands_total{');
    });

    it('escapes label values and declares every metric once with HELP and TYPE', () => {
      const all = new Map<string, string>([['version', 'a"b\\c'], ...STAT_METRICS.map((m) => [m.stat, '1'] as [string, string]), ...COMMAND_STATS.map((c) => [c.stat, '2'] as [string, string])]);
      const text = renderExposition(all);
      expect(text).to.include('memcached_version{version="a\\"b\\\\c"} 1');
      const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
      expect(new Set(types).size).to.equal(types.length);
      expect(types).to.have.length(STAT_METRICS.length + 3); // + up, version, commands
    });
  });

  describe('parseTarget', () => {
    const allowed = [11211];
    const cases: { target: string | null; want: string | { host: string; port: number } | RegExp }[] = [
      { target: '10.1.2.3:11211', want: { host: '10.1.2.3', port: 11211 } },
      { target: '[fd00::7]:11211', want: { host: 'fd00::7', port: 11211 } },
      { target: 'mc-0.mc.cache.svc:11211', want: { host: 'mc-0.mc.cache.svc', port: 11211 } },
      { target: null, want: /missing target/ },
      { target: '10.1.2.3', want: /missing ":port"/ },
      { target: ':11211', want: /expected "<host>:<port>"/ },
      { target: '10.1.2.3:6443', want: /port 6443 is not a memcached port .*allowed: 11211/ },
      { target: '10.1.2.3:99999', want: /invalid target/ },
    ];
    for (const c of cases) {
      it(`${JSON.stringify(c.target)}`, () => {
        const got = parseTarget(c.target, allowed);
        if (c.want instanceof RegExp) expect(got).to.be.a('string').and.match(c.want);
        else expect(got).to.deep.equal(c.want);
      });
    }
  });
});
