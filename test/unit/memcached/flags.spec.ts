// Runs the real memcached 1.6 binary with exactly the arguments renderArgs
// produces, and checks through the text protocol that it took them. It also
// checks that the CRD's item-size rules say no exactly when memcached does.
import { existsSync } from 'node:fs';
import { expect } from 'chai';
import type { MemcachedSpec } from '../../../src/api/types.js';
import { applyDefaults, itemSizeKiB, validateMemcached } from '../../../src/api/validator.js';
import { renderArgs } from '../../../src/memcached/children/args.js';
import { MEMCACHED, type Server, freePort, get, set, start, stats as readStats, stop, waitReady } from '../../support/memcached-process.js';

describe('memcached/flags against a real memcached 1.6', function () {
  this.timeout(30_000);
  const running: Server[] = [];

  before(() => {
    if (!existsSync(MEMCACHED)) throw new Error(`${MEMCACHED} is missing: apt-get install -y memcached`);
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map(stop));
  });

  async function run(spec: MemcachedSpec): Promise<Server> {
    const server = start(renderArgs(applyDefaults({ ...spec, containerPort: await freePort() })));
    running.push(server);
    await waitReady(server);
    return server;
  }

  const cases: { name: string; spec: MemcachedSpec }[] = [
    { name: 'the defaults', spec: {} },
    { name: 'the sample', spec: { memoryLimitMB: 128, maxItemSize: '2m', threads: 2, extraArgs: ['-o', 'modern'] } },
    { name: 'small memory, small items, one thread', spec: { memoryLimitMB: 16, maxItemSize: '512k', threads: 1, maxConnections: 16 } },
    { name: 'items half the memory, upper-case unit', spec: { memoryLimitMB: 64, maxItemSize: '32M', maxConnections: 4096, threads: 8 } },
  ];

  for (const c of cases) {
    it(`runs with the rendered flags: ${c.name}`, async () => {
      expect(validateMemcached({ spec: c.spec })).to.deep.include({ valid: true });
      const spec = applyDefaults(c.spec);
      const server = await run(c.spec);
      const stats = await readStats(server.port, 'settings');
      expect(stats.tcpport).to.equal(String(server.port));
      expect(stats.udpport).to.equal('0');
      expect(stats.maxbytes).to.equal(String(spec.memoryLimitMB! * 1024 * 1024));
      expect(stats.maxconns).to.equal(String(spec.maxConnections));
      expect(stats.num_threads).to.equal(String(spec.threads));
      const itemMax = spec.maxItemSize ? itemSizeKiB(spec.maxItemSize) * 1024 : 1024 * 1024;
      expect(stats.item_size_max).to.equal(String(itemMax));

      expect(await set(server.port, 'greeting', Buffer.from('hello'))).to.equal('STORED');
      expect(await get(server.port, 'greeting')).to.equal('VALUE greeting 0 5\r\nhello\r\nEND\r\n');
      expect(await get(server.port, 'absent')).to.equal('END\r\n');
    });
  }

  it('refuses an item over maxItemSize', async () => {
    const server = await run({ memoryLimitMB: 16, maxItemSize: '512k' });
    expect(await set(server.port, 'big', Buffer.alloc(600 * 1024, 120))).to.match(/^SERVER_ERROR object too large/);
    expect(await set(server.port, 'fits', Buffer.alloc(400 * 1024, 120))).to.equal('STORED');
  });

  // The CRD's item-size rules mirror memcached's own start-up checks: the
  // validator rejects exactly the specs memcached refuses to start with.
  const itemSizeCases: { spec: MemcachedSpec; starts: boolean }[] = [
    { spec: { memoryLimitMB: 64, maxItemSize: '32m' }, starts: true },
    { spec: { memoryLimitMB: 64, maxItemSize: '33m' }, starts: false },
    { spec: { memoryLimitMB: 64, maxItemSize: '1536k' }, starts: true },
    { spec: { memoryLimitMB: 64, maxItemSize: '1000k' }, starts: false },
    { spec: { memoryLimitMB: 64, maxItemSize: '100k' }, starts: false },
    { spec: { memoryLimitMB: 4096, maxItemSize: '1025m' }, starts: false },
  ];
  for (const c of itemSizeCases) {
    it(`memcached ${c.starts ? 'starts' : 'refuses'} and the validator ${c.starts ? 'accepts' : 'rejects'}: -m ${c.spec.memoryLimitMB} -I ${c.spec.maxItemSize}`, async () => {
      expect(validateMemcached({ spec: c.spec }).valid).to.equal(c.starts);
      const server = start(renderArgs(applyDefaults({ ...c.spec, containerPort: await freePort() })));
      running.push(server);
      if (c.starts) {
        await waitReady(server);
      } else {
        expect(await server.exited).to.not.equal(0);
        expect(server.stderr()).to.match(/item|slab_chunk_max/i);
      }
    });
  }
});
