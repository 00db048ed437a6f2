// A real memcached 1.6 process on loopback, for the suites that prove
// behaviour against memcached itself (rendered flags, the exporter): stats,
// set and get go through the operator's own memcached client; converse sends
// raw bytes, for what that client would never send. memcached comes from
// Debian (make test-unit installs it).
import { spawn, type ChildProcess } from 'node:child_process';
import { type Socket, connect, createServer } from 'node:net';
import { MemcachedSession } from '../../src/protocol/client.js';
import { lineReplyEnd, replyLine } from '../../src/protocol/text.js';

export const MEMCACHED = '/usr/bin/memcached';
const STARTUP_DEADLINE_MS = 10_000;
const POLL_INTERVAL_MS = 20;

/**
 * memcached refuses to start as root unless -u names a user to drop to. The
 * operator never renders -u (the container already runs as a non-root user,
 * and the CRD forbids it in extraArgs), so only this test adds it, and only
 * when the test itself runs as root (as in CI containers).
 */
const RUN_AS = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];

export interface Server {
  proc: ChildProcess;
  port: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

export async function freePort(): Promise<number> {
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

export interface StartOptions {
  /**
   * A cgroup directory (memory-cgroup.ts) memcached runs in from its first
   * instruction: a shell joins it, then execs memcached, so the process (the
   * same pid) is charged for every page it ever touches.
   */
  cgroup?: string;
}

/** Joins the cgroup named by $0, then becomes the command in "$@". */
const IN_CGROUP = 'echo $$ > "$0/cgroup.procs" && exec "$@"';

/** Starts memcached with args; on loopback unless args name their own listeners (-l). */
export function start(args: string[], opts: StartOptions = {}): Server {
  const listen = args.includes('-l') ? [] : ['-l', '127.0.0.1'];
  const argv = [MEMCACHED, ...listen, ...args, ...RUN_AS];
  const proc = opts.cgroup
    ? spawn('/bin/sh', ['-c', IN_CGROUP, opts.cgroup, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
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
export async function waitReady(server: Server): Promise<void> {
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

/**
 * Sends payload on a fresh connection (to a loopback port, or a socket the
 * caller opens, such as a TLS one) and collects the reply until done(reply).
 * Rejects when the peer closes first, as memcached does on a refused client.
 */
export function converse(to: number | (() => Socket), payload: string | Buffer, done: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = typeof to === 'number' ? connect({ host: '127.0.0.1', port: to }) : to();
    let reply = '';
    socket.once('close', () => reject(new Error(`connection closed before a complete reply, got ${JSON.stringify(reply)}`)));
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

/** One command on a fresh loopback connection, through the operator's memcached client. */
async function onLoopback<T>(port: number, talk: (session: MemcachedSession) => Promise<T>): Promise<T> {
  // Large enough for the item-size tests' values.
  const session = await MemcachedSession.open({ host: '127.0.0.1', port }, {}, { timeoutMs: STARTUP_DEADLINE_MS, maxReplyBytes: 8 * 1024 * 1024 });
  try {
    return await talk(session);
  } finally {
    session.close();
  }
}

/** The reply to `stats` (or `stats settings`, ...) as name-value pairs. */
export async function stats(port: number, group = ''): Promise<Record<string, string>> {
  return Object.fromEntries(await onLoopback(port, (session) => session.stats(group)));
}

export async function set(port: number, key: string, value: Buffer): Promise<string> {
  const payload = Buffer.concat([Buffer.from(`set ${key} 0 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]);
  return replyLine(await onLoopback(port, (session) => session.send(payload, lineReplyEnd)));
}

/** The raw reply to `get` (VALUE lines and data, then END). */
export async function get(port: number, key: string): Promise<string> {
  return onLoopback(port, (session) => session.send(`get ${key}\r\n`, (r) => (r.endsWith('END\r\n') ? r.length : undefined)));
}

export async function stop(server: Server): Promise<void> {
  // SIGKILL: memcached takes up to a second to notice SIGTERM, and no state matters here.
  if (server.proc.exitCode === null && server.proc.signalCode === null) server.proc.kill('SIGKILL');
  await server.exited;
}
