// Runs our operator as a process, like test/support/operator.ts, but from a
// chosen main.js: a long benchmark run uses a private build so that a rebuild
// of dist/ by someone else in the same checkout cannot change the operator
// under measurement halfway through.
import path from 'node:path';
import { repoRoot } from '../test/support/cluster.js';
import { startOperator, type OperatorProcess } from '../test/support/operator.js';
import { track } from './children.js';

let operatorMain = path.join(repoRoot, 'dist', 'main.js');

export function setOperatorMain(file: string): void {
  operatorMain = path.resolve(repoRoot, file);
}

export function getOperatorMain(): string {
  return operatorMain;
}

export async function launchOperator(options: { kubeconfig: string; args?: string[]; env?: Record<string, string | undefined> }): Promise<OperatorProcess> {
  return startOperator({
    ...options,
    main: operatorMain,
    onSpawn: track,
    // Keep the output bounded: a run at N=1000 logs a great deal.
    maxOutputBytes: 8 * 1024 * 1024,
    readyTimeoutMs: 60_000,
  });
}
