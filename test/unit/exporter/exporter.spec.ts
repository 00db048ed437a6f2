// The exporter against a real memcached 1.6 on loopback: the numbers it
// reports follow real traffic, memcached_up drops to 0 when memcached is gone,
// and a memcached that accepts but never answers cannot hold a scrape past
// its deadline.
import { expect } from 'chai';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { Exporter } from '../../../src/exporter/server.js';
import { createLogger } from '@memcached-operator/runtime';
import { type Server, freePort, get, set, start, stop, waitReady } from '../../support/memcached-process.js';

const TIMEOUT_MS = 300;

async function scrape(exporterPort: number, target: string): Promise<{ status: number; body: string; ms: number }> {
  const began = performance.now();
  const res = await fetch(`http://127.0.0.1:${exporterPort}/scrape?target=${encodeURIComponent(target)}`);
  return { status: res.status, body: await res.text(), ms: performance.now() - began };
}

function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('exporter against a real memcached', function () {
  this.timeout(30_000);
  let memcached: Server;
  let exporter: Exporter;
  let exporterPort: number;
  let silent: NetServer;
  let silentPort: number;
  const held: Socket[] = [];

  before(async () => {
    const port = await freePort();
    memcached = start(['-p', String(port), '-U', '0', '-m', '16', '-c', '64']);
    await waitReady(memcached);
    // Accepts connections and never answers, like a memcached stuck in a long stall.
    silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
    exporter = new Exporter({
      bind: { host: '127.0.0.1', port: 0 },
      allowedPorts: [port, silentPort],
      timeoutMs: TIMEOUT_MS,
      maxConcurrentScrapes: 4,
      logger: createLogger('error'),
    });
    exporterPort = (await exporter.start()).port;
  });

  after(async () => {
    await exporter.close();
    held.forEach((s) => s.destroy());
    await new Promise((resolve) => silent.close(resolve));
    await stop(memcached);
  });

  it('reports the hits, misses, sets and limits that real traffic produced', async () => {
    const target = `127.0.0.1:${memcached.port}`;
    const before = await scrape(exporterPort, target);
    expect(before.status).to.equal(200);
    expect(sample(before.body, 'memcached_up')).to.equal(1);
    const hits0 = sample(before.body, 'memcached_commands_total{command="get",status="hit"}')!;
    const misses0 = sample(before.body, 'memcached_commands_total{command="get",status="miss"}')!;
    const sets0 = sample(before.body, 'memcached_commands_total{command="set",status="hit"}')!;

    for (let i = 0; i < 5; i++) expect(await set(memcached.port, `k${i}`, Buffer.from('v'))).to.equal('STORED');
    for (let i = 0; i < 5; i++) await get(memcached.port, `k${i}`);
    for (let i = 0; i < 3; i++) await get(memcached.port, `absent${i}`);

    const after = await scrape(exporterPort, target);
    expect(sample(after.body, 'memcached_commands_total{command="get",status="hit"}')! - hits0).to.equal(5);
    expect(sample(after.body, 'memcached_commands_total{command="get",status="miss"}')! - misses0).to.equal(3);
    expect(sample(after.body, 'memcached_commands_total{command="set",status="hit"}')! - sets0).to.equal(5);
    expect(sample(after.body, 'memcached_limit_bytes')).to.equal(16 * 1024 * 1024);
    expect(sample(after.body, 'memcached_max_connections')).to.equal(64);
    expect(sample(after.body, 'memcached_current_items')).to.be.at.least(5);
  });

  it('answers memcached_up 0 at once when nothing listens on the target', async () => {
    const closed = await freePort();
    const lonely = new Exporter({ bind: { host: '127.0.0.1', port: 0 }, allowedPorts: [closed], timeoutMs: TIMEOUT_MS, maxConcurrentScrapes: 1, logger: createLogger('error') });
    const port = (await lonely.start()).port;
    try {
      const r = await scrape(port, `127.0.0.1:${closed}`);
      expect(r.status).to.equal(200);
      expect(sample(r.body, 'memcached_up')).to.equal(0);
      expect(r.body).to.not.include('memcached_current_connections');
    } finally {
      await lonely.close();
    }
  });

  it('refuses with 403, before any connection, a target its refuse hook rejects (the operator: only managed pods)', async () => {
    const seen: string[] = [];
    const guarded = new Exporter({
      bind: { host: '127.0.0.1', port: 0 },
      timeoutMs: TIMEOUT_MS,
      maxConcurrentScrapes: 1,
      refuse: (t) => (seen.push(`${t.host}:${t.port}`), t.port === memcached.port ? undefined : `port ${t.port} is not ours`),
      logger: createLogger('error'),
    });
    const port = (await guarded.start()).port;
    try {
      const refused = await scrape(port, `127.0.0.1:${silentPort}`);
      expect(refused.status).to.equal(403);
      expect(refused.body).to.equal(`port ${silentPort} is not ours\n`);
      expect(held, 'no connection was opened to the refused target').to.have.length(0);
      const allowed = await scrape(port, `127.0.0.1:${memcached.port}`);
      expect(sample(allowed.body, 'memcached_up')).to.equal(1);
      expect(seen).to.deep.equal([`127.0.0.1:${silentPort}`, `127.0.0.1:${memcached.port}`]);
    } finally {
      await guarded.close();
    }
  });

  it('serves HTTP service discovery at /targets when given a discover hook', async () => {
    const groups = [{ targets: ['10.0.0.1:11211'], labels: { pod: 'a' } }];
    const sd = new Exporter({
      bind: { host: '127.0.0.1', port: 0 },
      timeoutMs: TIMEOUT_MS,
      maxConcurrentScrapes: 1,
      discover: (namespace, name) => (namespace === 'apps' && name === 'cache' ? groups : undefined),
      logger: createLogger('error'),
    });
    const port = (await sd.start()).port;
    try {
      const ok = await fetch(`http://127.0.0.1:${port}/targets?namespace=apps&name=cache`);
      expect(ok.status).to.equal(200);
      expect(ok.headers.get('content-type')).to.equal('application/json');
      expect(await ok.json()).to.deep.equal(groups);
      expect((await fetch(`http://127.0.0.1:${port}/targets?namespace=apps&name=nope`)).status).to.equal(404);
      expect((await fetch(`http://127.0.0.1:${port}/targets?namespace=apps`)).status).to.equal(400);
      // Without the hook there is no /targets.
      expect((await fetch(`http://127.0.0.1:${exporterPort}/targets?namespace=apps&name=cache`)).status).to.equal(404);
    } finally {
      await sd.close();
    }
  });

  it('gives up on a memcached that never answers at the deadline, with memcached_up 0', async () => {
    const r = await scrape(exporterPort, `127.0.0.1:${silentPort}`);
    expect(sample(r.body, 'memcached_up')).to.equal(0);
    expect(r.ms).to.be.at.least(TIMEOUT_MS - 5);
    // Well under the 1 s scrape budget even on a loaded machine.
    expect(r.ms).to.be.below(TIMEOUT_MS + 700);
  });

  it('refuses targets on ports it may not scrape, and unknown paths', async () => {
    const r = await scrape(exporterPort, '127.0.0.1:22');
    expect(r.status).to.equal(400);
    expect(r.body).to.match(/port 22 is not a memcached port/);
    const missing = await fetch(`http://127.0.0.1:${exporterPort}/scrape`);
    expect(missing.status).to.equal(400);
    expect(await missing.text()).to.match(/missing target/);
    expect((await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).status).to.equal(404);
    expect((await fetch(`http://127.0.0.1:${exporterPort}/healthz`)).status).to.equal(200);
  });

  it('turns away scrapes beyond its concurrency limit instead of queueing them', async () => {
    const target = `127.0.0.1:${silentPort}`;
    const results = await Promise.all(Array.from({ length: 6 }, () => scrape(exporterPort, target)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).to.have.length(4);
    expect(statuses.filter((s) => s === 503)).to.have.length(2);
  });
});
