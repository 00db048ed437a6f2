// Runs our operator as a process, like test/support/operator.ts, but from a
// chosen main.js: a long benchmark run uses a private build so that a rebuild
// of dist/ by someone else in the same checkout cannot change the operator
// under measurement halfway through.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { eventually, repoRoot } from '../test/support/cluster.js';
import { freePort, type OperatorProcess } from '../test/support/operator.js';
import { track } from './children.js';

let operatorMain = path.join(repoRoot, 'dist', 'main.js');

export function setOperatorMain(file: string): void {
  operatorMain = path.resolve(repoRoot, file);
}

export function getOperatorMain(): string {
  return operatorMain;
}

export async function launchOperator(options: { kubeconfig: string; args?: string[]; env?: Record<string, string | undefined> }): Promise<OperatorProcess> {
  const healthPort = await freePort();
  const metricsPort = await freePort();
  const child = spawn(
    process.execPath,
    [operatorMain, '--kubeconfig', options.kubeconfig, `--health-probe-bind-address=127.0.0.1:${healthPort}`, `--metrics-bind-address=127.0.0.1:${metricsPort}`, ...(options.args ?? [])],
    { env: { ...process.env, KUBECONFIG: undefined, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  track(child);
  // Keep the output bounded: a run at N=1000 logs a great deal.
  const chunks: string[] = [];
  let size = 0;
  const keep = (chunk: Buffer): void => {
    chunks.push(chunk.toString());
    size += chunk.length;
    while (size > 8 * 1024 * 1024 && chunks.length > 1) size -= chunks.shift()!.length;
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const output = (): string => chunks.join('');
  const proc: OperatorProcess = {
    child,
    healthPort,
    metricsPort,
    exited,
    output,
    logs: () =>
      output()
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
  await eventually(
    'the operator to report ready on /readyz',
    async () => {
      if (exitCode !== undefined) throw new Error(`operator exited with ${exitCode}:\n${output()}`);
      const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    },
    { timeoutMs: 60_000 },
  );
  return proc;
}
