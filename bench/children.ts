// Every process the harness starts, so a failed run can end them (by pid,
// never by name) instead of leaving operators running against the cluster.
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

export function track(child: ChildProcess, group = false): ChildProcess {
  children.add(child);
  if (group) groups.add(child);
  child.once('exit', () => {
    children.delete(child);
    groups.delete(child);
  });
  return child;
}

const groups = new Set<ChildProcess>();

export function killAll(): void {
  for (const child of children) {
    try {
      if (groups.has(child)) process.kill(-child.pid!, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
