// The contenders a run measures, each launched as its own process on its own
// namespace: our operator, the floor (bench/floor.ts, the least any operator
// must write), the Go peer (bench/peer-go, controller-runtime) and any other
// operator given as a shell command.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './children.js';
import { repoRoot } from './env.js';
import { launchOperator } from './operator.js';
import { round } from '../test/support/stats.js';
import { sleep, waitUntil, withDeadline } from './wait.js';

export const OPERATOR_USER = 'bench-operator';
export const FLOOR_USER = 'bench-floor';
export const OTHER_USER = 'bench-other';
export const GO_PEER_USER = 'bench-peer-go';
export const GO_PEER_NAME = 'go-controller-runtime';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Launched {
  pid: number;
  /** Prometheus endpoint of the process, when it has one we know of. */
  metricsUrl?: string;
  stop(): Promise<void>;
  output(): string;
}

type Log = (msg: string) => void;

/** How long a contender has to exit on SIGTERM before it is killed, and to be gone after SIGKILL. */
const STOP_GRACE_MS = 15_000;
const KILL_GRACE_MS = 10_000;
/** How long a contender has to start and sync its caches. */
const READY_TIMEOUT_MS = 60_000;

export interface Contender {
  label: string;
  user: string;
  /** What "converged" means for it. */
  mode: 'memcached' | 'deployment';
  launch(namespace: string, extraEnv?: Record<string, string>): Promise<Launched>;
}

export function operatorContender(kubeconfig: string, opts: { concurrency: number; operatorArgs: string[]; log: Log }): Contender {
  return {
    label: 'operator',
    user: OPERATOR_USER,
    mode: 'memcached',
    launch: async (namespace, extraEnv = {}) => {
      const op = await launchOperator({
        kubeconfig,
        args: [`--max-concurrent-reconciles=${opts.concurrency}`, ...opts.operatorArgs],
        env: { WATCH_NAMESPACE: namespace, ...extraEnv },
      });
      return {
        pid: op.child.pid!,
        metricsUrl: op.metricsUrl,
        output: () => op.output(),
        stop: () => stopGracefully(`the operator (pid ${op.child.pid})`, (signal) => void op.stop(signal), op.exited, opts.log),
      };
    },
  };
}

/**
 * SIGTERM, then SIGKILL if it has not exited within the grace period; each
 * wait bounded. A contender that outlives SIGKILL fails the run by name
 * rather than hang it.
 */
async function stopGracefully(who: string, signal: (sig: NodeJS.Signals) => void, exited: Promise<unknown>, log: Log): Promise<void> {
  signal('SIGTERM');
  const done = await withDeadline(`${who} to exit on SIGTERM`, STOP_GRACE_MS, exited).then(
    () => true,
    () => false,
  );
  if (done) return;
  log(`${who} did not exit ${STOP_GRACE_MS / 1000} s after SIGTERM; killing it`);
  signal('SIGKILL');
  await withDeadline(`${who} to exit after SIGKILL`, KILL_GRACE_MS, exited);
}

function childHandle(child: ChildProcess, group: boolean, who: string, log: Log): Launched {
  track(child, group);
  let text = '';
  child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals): void => {
    try {
      if (group) process.kill(-child.pid!, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };
  return {
    pid: child.pid!,
    output: () => text,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await stopGracefully(`${who} (pid ${child.pid})`, signal, exited, log);
    },
  };
}

/** Waits for `ready` in a starting contender's output; fails at once if it exits first. */
async function waitReady(who: string, child: ChildProcess, handle: Launched, ready: (output: string) => boolean, log: Log): Promise<void> {
  await waitUntil(
    `${who} to start and sync its caches`,
    () => {
      if (child.exitCode !== null) throw new Error(`${who} exited with ${child.exitCode}:\n${handle.output().slice(-4000)}`);
      return ready(handle.output()) ? true : undefined;
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 50, log, progress: () => `its output so far:\n${handle.output().slice(-4000)}` },
  );
}

export function floorContender(kubeconfig: string, concurrency: number, log: Log): Contender {
  return {
    label: `floor×${concurrency}`,
    user: FLOOR_USER,
    mode: 'memcached',
    launch: async (namespace) => {
      const child = spawn(process.execPath, [path.join(here, 'floor.js'), '--kubeconfig', kubeconfig, '--namespace', namespace, '--concurrency', String(concurrency)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const handle = childHandle(child, false, `the floor ×${concurrency}`, log);
      await waitReady(`the floor ×${concurrency}`, child, handle, (output) => output.includes('"ready":true'), log);
      return handle;
    },
  };
}

/** How the harness runs another operator. */
export interface PeerSpec {
  name: string;
  /** Shell command; {kubeconfig}, {namespace} and {metricsPort} are replaced. */
  command: string;
  user: string;
  /** What "converged" means for it (see AvailabilityWatch). */
  mode: 'memcached' | 'deployment';
  /** Output that says its caches are synced; without one the harness waits 5 s. */
  readyPattern?: RegExp;
}

/** A TCP port free now on 127.0.0.1, for a peer's /metrics. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export function peerContender(spec: PeerSpec, kubeconfig: string, log: Log): Contender {
  return {
    label: spec.name,
    user: spec.user,
    mode: spec.mode,
    launch: async (namespace) => {
      const metricsPort = spec.command.includes('{metricsPort}') ? await freePort() : undefined;
      const command = spec.command
        .replaceAll('{kubeconfig}', kubeconfig)
        .replaceAll('{namespace}', namespace)
        .replaceAll('{metricsPort}', String(metricsPort));
      const child = spawn('sh', ['-c', command], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, KUBECONFIG: kubeconfig, WATCH_NAMESPACE: namespace },
      });
      const handle = childHandle(child, true, spec.name, log);
      const pattern = spec.readyPattern;
      if (pattern) {
        await waitReady(spec.name, child, handle, (output) => pattern.test(output), log);
      } else {
        // No common readiness endpoint: give it a few seconds to start and sync.
        await sleep(5_000);
      }
      if (child.exitCode !== null) throw new Error(`${spec.name} exited with ${child.exitCode}:\n${handle.output()}`);
      return { ...handle, metricsUrl: metricsPort ? `http://127.0.0.1:${metricsPort}/metrics` : undefined };
    },
  };
}

const GO_PEER_BUILD_TIMEOUT_MS = 45 * 60_000;

/** bench/peer-go built into the tools cache (its build.sh); the path of the binary. */
export function buildGoPeer(log: Log): { binary: string; seconds: number } {
  const started = Date.now();
  log(`go peer: building or finding it (at most ${GO_PEER_BUILD_TIMEOUT_MS / 60_000} min; a cold build takes minutes on 2 cores)`);
  const binary = execFileSync(path.join(repoRoot, 'bench', 'peer-go', 'build.sh'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: GO_PEER_BUILD_TIMEOUT_MS,
  }).trim();
  const seconds = round((Date.now() - started) / 1000, 1)!;
  log(`go peer: ${binary} (${seconds} s to build or find)`);
  return { binary, seconds };
}

export function goPeerSpec(binary: string, concurrency: number): PeerSpec {
  return {
    name: GO_PEER_NAME,
    command: `${binary} --metrics-bind-address=127.0.0.1:{metricsPort} --max-concurrent-reconciles=${concurrency}`,
    user: GO_PEER_USER,
    mode: 'memcached',
    // controller-runtime logs it once the caches have synced.
    readyPattern: /Starting workers/,
  };
}
