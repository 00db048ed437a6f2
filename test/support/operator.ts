// Runs the built operator (dist/main.js) as a real process against the local
// cluster, the way a user runs it with `make run`.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { eventually, kubeconfigPath, repoRoot } from './cluster.js';

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly healthPort: number;
  readonly metricsPort: number;
  /** Everything the process wrote, stdout and stderr interleaved. */
  output(): string;
  /** JSON log lines parsed, non-JSON lines skipped. */
  logs(): Array<Record<string, unknown>>;
  /** Sends SIGTERM (or the given signal) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface StartOptions {
  args?: string[];
  env?: Record<string, string | undefined>;
  kubeconfig?: string;
  /** Wait until /readyz answers 200. Default true. */
  waitReady?: boolean;
  /** How long to wait for /readyz. Default 30 s. */
  readyTimeoutMs?: number;
  /** The operator's entry point. Default dist/main.js (the benchmark passes a private build). */
  main?: string;
  /** Keep only about this much output (a long benchmark logs a great deal). Default unbounded. */
  maxOutputBytes?: number;
  /** Called with the child process as soon as it is spawned. */
  onSpawn?: (child: ChildProcess) => void;
}

export async function startOperator(options: StartOptions = {}): Promise<OperatorProcess> {
  const healthPort = await freePort();
  const metricsPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      options.main ?? path.join(repoRoot, 'dist', 'main.js'),
      '--kubeconfig',
      options.kubeconfig ?? kubeconfigPath,
      `--health-probe-bind-address=127.0.0.1:${healthPort}`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      ...(options.args ?? []),
    ],
    { env: { ...process.env, KUBECONFIG: undefined, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  options.onSpawn?.(child);
  const chunks: string[] = [];
  let size = 0;
  const keep = (chunk: Buffer): void => {
    chunks.push(chunk.toString());
    size += chunk.length;
    while (options.maxOutputBytes !== undefined && size > options.maxOutputBytes && chunks.length > 1) size -= chunks.shift()!.length;
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const text = (): string => chunks.join('');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));

  const proc: OperatorProcess = {
    child,
    healthPort,
    metricsPort,
    exited,
    output: text,
    logs: () =>
      text()
        .split('\n')
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    stop: async (signal = 'SIGTERM') => {
      if (exitCode === undefined) child.kill(signal);
      return exited;
    },
  };
  if (options.waitReady ?? true) {
    await eventually(
      'the operator to report ready on /readyz',
      async () => {
        if (exitCode !== undefined) throw new Error(`operator exited with ${exitCode}:\n${text()}`);
        const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      { timeoutMs: options.readyTimeoutMs ?? 30_000 },
    );
  }
  return proc;
}
