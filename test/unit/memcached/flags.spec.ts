// Runs the real memcached 1.6 binary with exactly the arguments renderArgs
// produces, and checks through the text protocol that it took them. It also
// checks that the CRD's item-size rules say no exactly when memcached does.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { expect } from 'chai';
import type { MemcachedSpec } from '../../../src/api/types.js';
import { applyDefaults, itemSizeKiB, validateMemcached } from '../../../src/api/validator.js';
import { renderArgs } from '../../../src/memcached/args.js';

const MEMCACHED = '/usr/bin/memcached';
const STARTUP_DEADLINE_MS = 10_000;
const POLL_INTERVAL_MS = 20;

/**
 * memcached refuses to start as root unless -u names a user to drop to. The
 * operator never renders -u (the container already runs as a non-root user,
 * and the CRD forbids it in extraArgs), so only this test adds it, and only
 * when the test itself runs as root (as in CI containers).
 */
const RUN_AS = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];

interface Server {
  proc: ChildProcess;
  port: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function start(args: string[]): Server {
  const proc = spawn(MEMCACHED, ['-l', '127.0.0.1', ...args, ...RUN_AS], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const portArg = args.indexOf('-p');
  return { proc, port: Number(args[portArg + 1]), stderr: () => err, exited };
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves once the port accepts connections; rejects if memcached exits first or the deadline passes. */
async function waitReady(server: Server): Promise<void> {
  let exitCode: number | null | undefined;
  void server.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + STARTUP_DEADLINE_MS;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`memcached exited with ${exitCode}: ${server.stderr()}`);
    if (await tryConnect(server.port)) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new Error(`memcached did not listen on ${server.port} within ${STARTUP_DEADLINE_MS}ms: ${server.stderr()}`);
}

/** Sends payload on a fresh connection and collects the reply until done(reply). */
function converse(port: number, payload: string | Buffer, done: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(STARTUP_DEADLINE_MS, () => {
      socket.destroy();
      reject(new Error(`no complete reply, got ${JSON.stringify(reply)}`));
    });
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (done(reply)) {
        socket.end();
        resolve(reply);
      }
    });
    socket.once('error', reject);
    socket.write(payload);
  });
}

const endsWithLine = (reply: string): boolean => reply.endsWith('\r\n');

async function statsSettings(port: number): Promise<Record<string, string>> {
  const reply = await converse(port, 'stats settings\r\n', (r) => r.endsWith('END\r\n'));
  const stats: Record<string, string> = {};
  for (const line of reply.split('\r\n')) {
    const m = /^STAT (\S+) (.*)$/.exec(line);
    if (m) stats[m[1]] = m[2];
  }
  return stats;
}

async function set(port: number, key: string, value: Buffer): Promise<string> {
  const payload = Buffer.concat([Buffer.from(`set ${key} 0 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]);
  return (await converse(port, payload, endsWithLine)).trim();
}

async function get(port: number, key: string): Promise<string> {
  return converse(port, `get ${key}\r\n`, (r) => r.endsWith('END\r\n'));
}

async function stop(server: Server): Promise<void> {
  // SIGKILL: memcached takes up to a second to notice SIGTERM, and no state matters here.
  if (server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill('SIGKILL');
  await server.exited;
}

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
      const stats = await statsSettings(server.port);
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
