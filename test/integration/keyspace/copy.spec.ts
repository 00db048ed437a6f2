// Keep the cache against real memcached processes on loopback: the copies
// scale-up, scale-down and park-and-return make, with the ring clients use.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { MemcachedSession, type Endpoint } from '../../../src/protocol/client.js';
import { metaKey, type MetaKey, type MetaReply } from '../../../src/protocol/meta.js';
import { copyKeys, type CopyOptions } from '../../../src/keyspace/copy.js';
import { ketamaRing, type Ring } from '../../../src/keyspace/ketama.js';
import { freePort, start, stop, waitReady, type Server } from '../../support/memcached-process.js';

const NAMES = [0, 1, 2, 3].map((i) => `mc-${i}.mc-servers.ns.svc:11211`);
const HOST = '127.0.0.1';

function key(text: string | Buffer): MetaKey {
  const k = metaKey(Buffer.isBuffer(text) ? text : Buffer.from(text));
  if (!k) throw new Error(`no meta key for ${String(text)}`);
  return k;
}

describe('keyspace: copying keys between real memcached processes', function () {
  this.timeout(120_000);
  const servers: Server[] = [];
  const endpoints = new Map<string, Endpoint>();
  const sessions: MemcachedSession[] = [];

  const endpointOf = (name: string): Endpoint => {
    const endpoint = endpoints.get(name);
    if (!endpoint) throw new Error(`no server named ${name}`);
    return endpoint;
  };
  async function session(name: string): Promise<MemcachedSession> {
    const s = await MemcachedSession.open(endpointOf(name), {}, { timeoutMs: 60_000, maxReplyBytes: 8 * 1024 * 1024 });
    sessions.push(s);
    return s;
  }
  /** Writes keys where a client using ring would (value = the key's text unless given). */
  async function fill(ring: Ring, keys: string[], value = (k: string) => Buffer.from(`value of ${k}`)): Promise<void> {
    const byOwner = new Map<string, string[]>();
    for (const k of keys) {
      const owner = ring.ownerOf(k);
      byOwner.set(owner, byOwner.get(owner) ?? []).get(owner)?.push(k);
    }
    for (const [owner, owned] of byOwner) {
      const replies = await (await session(owner)).metaSet(owned.map((k) => ({ key: key(k), value: value(k), flags: 0, exptime: 0, mode: 'S' as const })));
      expect(replies.every((r) => r.code === 'HD')).to.equal(true);
    }
  }
  async function read(name: string, keys: (string | Buffer)[]): Promise<MetaReply[]> {
    return (await session(name)).metaGet(keys.map(key));
  }
  function options(source: string, ring: Ring, wanted: (owner: string) => boolean, extra: Partial<CopyOptions> = {}): CopyOptions {
    return { source: endpointOf(source), ring, wanted, endpointOf, mode: 'add', security: {}, ...extra };
  }
  const keysNamed = (count: number, prefix = 'k') => [...Array(count).keys()].map((i) => `${prefix}:${i}`);

  beforeEach(async () => {
    for (const name of NAMES) {
      const port = await freePort();
      const server = start(['-p', String(port), '-m', '256', '-A']);
      servers.push(server);
      endpoints.set(name, { host: HOST, port });
    }
    await Promise.all(servers.map(waitReady));
  });
  afterEach(async () => {
    for (const s of sessions.splice(0)) s.close();
    await Promise.all(servers.splice(0).map(stop));
    endpoints.clear();
  });

  it('scale-up: the keys the new server owns reach it', async () => {
    const before = ketamaRing(NAMES.slice(0, 3));
    const after = ketamaRing(NAMES);
    const keys = keysNamed(3000);
    await fill(before, keys);
    for (const source of NAMES.slice(0, 3)) await copyKeys(options(source, after, (owner) => owner === NAMES[3]));
    const moving = keys.filter((k) => after.ownerOf(k) === NAMES[3]);
    expect(moving.length).to.be.greaterThan(300);
    const got = await read(NAMES[3], moving);
    expect(got.filter((r, i) => r.value?.toString() !== `value of ${moving[i]}`)).to.deep.equal([]);
    expect(Number((await (await session(NAMES[3])).currItems()))).to.equal(moving.length);
  });

  it('scale-down: every key of the removed server reaches its new owner, and leaves the source when asked', async () => {
    const before = ketamaRing(NAMES);
    const after = ketamaRing(NAMES.slice(0, 3));
    const keys = keysNamed(3000);
    await fill(before, keys);
    const removed = keys.filter((k) => before.ownerOf(k) === NAMES[3]);
    const result = await copyKeys(options(NAMES[3], after, () => true, { deleteFromSource: true }));
    expect(result).to.include({ scanned: removed.length, copied: removed.length, failed: 0 });
    for (const k of removed) expect((await read(after.ownerOf(k), [k]))[0].value?.toString()).to.equal(`value of ${k}`);
    expect(await (await session(NAMES[3])).currItems()).to.equal(0);
  });

  it('park-and-return: server 1 keys go to the ring without it, then back after it comes back empty', async () => {
    const full = ketamaRing(NAMES);
    const without = ketamaRing(NAMES.filter((n) => n !== NAMES[1]));
    const keys = keysNamed(2000);
    await fill(full, keys);
    const parked = keys.filter((k) => full.ownerOf(k) === NAMES[1]);
    await copyKeys(options(NAMES[1], without, () => true));
    expect(await (await session(NAMES[1])).send('flush_all\r\n', (r) => (r.includes('\r\n') ? r.length : undefined))).to.equal('OK\r\n');
    for (const source of NAMES.filter((n) => n !== NAMES[1])) await copyKeys(options(source, full, (owner) => owner === NAMES[1]));
    const got = await read(NAMES[1], parked);
    expect(got.filter((r, i) => r.value?.toString() !== `value of ${parked[i]}`)).to.deep.equal([]);
  });

  it('keeps client flags and the remaining TTL (beyond 30 days too); expired keys are not copied', async () => {
    const ring = ketamaRing([NAMES[0]]);
    const source = await session(NAMES[1]);
    const fortyDays = 40 * 24 * 3600;
    const replies = await source.metaSet([
      { key: key('ttl'), value: Buffer.from('a'), flags: 42, exptime: 1000, mode: 'S' },
      { key: key('forever'), value: Buffer.from('b'), flags: 4294967295, exptime: 0, mode: 'S' },
      { key: key('long'), value: Buffer.from('c'), flags: 1, exptime: Math.floor(Date.now() / 1000) + fortyDays, mode: 'S' },
      { key: key('short'), value: Buffer.from('d'), flags: 1, exptime: 1, mode: 'S' },
    ]);
    expect(replies.map((r) => r.code)).to.deep.equal(['HD', 'HD', 'HD', 'HD']);
    // memcached's clock ticks once a second: wait until the one-second item has expired.
    const deadline = Date.now() + 5000;
    while ((await source.metaGet([key('short')]))[0].code !== 'EN' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const result = await copyKeys(options(NAMES[1], ring, () => true));
    expect(result).to.include({ copied: 3, failed: 0 });
    const [ttl, forever, long, short] = await read(NAMES[0], ['ttl', 'forever', 'long', 'short']);
    expect(ttl.flags.get('f')).to.equal('42');
    expect(Number(ttl.flags.get('t'))).to.be.within(990, 1000);
    expect(forever.flags.get('f')).to.equal('4294967295');
    expect(forever.flags.get('t')).to.equal('-1');
    expect(Number(long.flags.get('t'))).to.be.within(fortyDays - 60, fortyDays);
    expect(short.code).to.equal('EN');
  });

  it('add mode never overwrites what the owner has; set mode does', async () => {
    const ring = ketamaRing([NAMES[0]]);
    await (await session(NAMES[1])).metaSet([{ key: key('k'), value: Buffer.from('old'), flags: 0, exptime: 0, mode: 'S' }]);
    await (await session(NAMES[0])).metaSet([{ key: key('k'), value: Buffer.from('new'), flags: 0, exptime: 0, mode: 'S' }]);
    expect(await copyKeys(options(NAMES[1], ring, () => true))).to.include({ copied: 0, skipped: 1 });
    expect((await read(NAMES[0], ['k']))[0].value?.toString()).to.equal('new');
    expect(await copyKeys(options(NAMES[1], ring, () => true, { mode: 'set' }))).to.include({ copied: 1 });
    expect((await read(NAMES[0], ['k']))[0].value?.toString()).to.equal('old');
  });

  it('binary values and keys that need base64 arrive intact', async () => {
    const ring = ketamaRing([NAMES[0]]);
    const values = [Buffer.from('\r\nEND\r\nVA 3\r\n'), Buffer.from([0, 255, 13, 10]), randomBytes(200_000), Buffer.alloc(0)];
    const keys = [Buffer.from('crlf'), Buffer.from([0x6b, 0, 0xff, 0x20, 0x79]), Buffer.from('big value'), Buffer.from('empty')];
    const stored = await (await session(NAMES[1])).metaSet(keys.map((k, i) => ({ key: key(k), value: values[i], flags: 0, exptime: 0, mode: 'S' as const })));
    expect(stored.map((r) => r.code)).to.deep.equal(['HD', 'HD', 'HD', 'HD']);
    const result = await copyKeys(options(NAMES[1], ring, () => true, { batch: 2 }));
    expect(result).to.include({ scanned: 4, copied: 4, failed: 0, bytes: values.reduce((n, v) => n + v.length, 0) });
    const got = await read(NAMES[0], keys);
    got.forEach((r, i) => expect(r.value?.equals(values[i]), `value ${i}`).to.equal(true));
  });

  it('a target that does not answer is a clear error', async () => {
    await fill(ketamaRing([NAMES[1]]), ['k']);
    const dead = await freePort();
    const ring = ketamaRing(['gone:11211']);
    const copy = copyKeys({ ...options(NAMES[1], ring, () => true), endpointOf: () => ({ host: HOST, port: dead }) });
    let error: Error | undefined;
    await copy.catch((err: Error) => (error = err));
    expect(error?.message).to.match(/cannot reach gone:11211 at 127\.0\.0\.1:\d+/);
  });

  it('shutdownGraceful stops a memcached started with -A', async () => {
    await (await session(NAMES[2])).shutdownGraceful();
    expect(await servers[2].exited).to.equal(0);
  });

  it('copies 40,000 keys (the duration is reported, not asserted)', async () => {
    const before = ketamaRing(NAMES.slice(0, 1));
    const keys = keysNamed(40_000, 'bulk');
    await fill(before, keys, (k) => Buffer.from(`${k}:${'v'.repeat(100)}`));
    const started = performance.now();
    const result = await copyKeys(options(NAMES[0], ketamaRing([NAMES[1]]), () => true));
    const seconds = (performance.now() - started) / 1000;
    console.log(`      copied ${result.copied} keys (${result.bytes} bytes) in ${seconds.toFixed(2)} s: ${Math.round(result.copied / seconds)} keys/s`);
    expect(result).to.include({ scanned: 40_000, copied: 40_000, failed: 0 });
    expect(await (await session(NAMES[1])).currItems()).to.equal(40_000);
  });
});
