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

export const OPERATOR_USER = 'bench-operator';
export const FLOOR_USER = 'bench-floor';
export const OTHER_USER = 'bench-other';
export const GO_PEER_USER = 'bench-peer-go';
export const GO_PEER_NAME = 'go-controller-runtime';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const here = path.dirname(fileURLToPath(import.meta.url));

export interface Launched {
  pid: number;
  /** Prometheus endpoint of the process, when it has one we know of. */
  metricsUrl?: string;
  stop(): Promise<void>;
  output(): string;
}

export interface Contender {
  label: string;
  user: string;
  /** What "converged" means for it. */
  mode: 'memcached' | 'deployment';
  launch(namespace: string, extraEnv?: Record<string, string>): Promise<Launched>;
}

export function operatorContender(kubeconfig: string, opts: { concurrency: number; operatorArgs: string[] }): Contender {
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
        stop: async () => void (await op.stop('SIGTERM')),
      };
    },
  };
}

function childHandle(child: ChildProcess, group: boolean): Launched {
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
      signal('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!done) {
        signal('SIGKILL');
        await exited;
      }
    },
  };
}

export function floorContender(kubeconfig: string, concurrency: number): Contender {
  return {
    label: `floor×${concurrency}`,
    user: FLOOR_USER,
    mode: 'memcached',
    launch: async (namespace) => {
      const child = spawn(process.execPath, [path.join(here, 'floor.js'), '--kubeconfig', kubeconfig, '--namespace', namespace, '--concurrency', String(concurrency)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const handle = childHandle(child, false);
      const deadline = Date.now() + 60_000;
      while (!handle.output().includes('"ready":true')) {
        if (child.exitCode !== null) throw new Error(`the floor exited with ${child.exitCode}:\n${handle.output()}`);
        if (Date.now() > deadline) throw new Error(`the floor did not get ready in 60 s:\n${handle.output()}`);
        await sleep(50);
      }
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

export function peerContender(spec: PeerSpec, kubeconfig: string): Contender {
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
      const handle = childHandle(child, true);
      if (spec.readyPattern) {
        const deadline = Date.now() + 60_000;
        while (!spec.readyPattern.test(handle.output())) {
          if (child.exitCode !== null) throw new Error(`${spec.name} exited with ${child.exitCode}:\n${handle.output()}`);
          if (Date.now() > deadline) throw new Error(`${spec.name} did not get ready in 60 s:\n${handle.output().slice(-4000)}`);
          await sleep(50);
        }
      } else {
        // No common readiness endpoint: give it a few seconds to start and sync.
        await sleep(5_000);
      }
      if (child.exitCode !== null) throw new Error(`${spec.name} exited with ${child.exitCode}:\n${handle.output()}`);
      return { ...handle, metricsUrl: metricsPort ? `http://127.0.0.1:${metricsPort}/metrics` : undefined };
    },
  };
}

/** bench/peer-go built into the tools cache (its build.sh); the path of the binary. */
export function buildGoPeer(log: (msg: string) => void): { binary: string; seconds: number } {
  const started = Date.now();
  const binary = execFileSync(path.join(repoRoot, 'bench', 'peer-go', 'build.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
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
