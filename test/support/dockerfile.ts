// The repository's Dockerfile read as stages, for the suites that check what
// the image is built from and what it contains.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './cluster.js';

export interface Stage {
  /** The base image; a global ARG (FROM ${BUILD_IMAGE}) reads as its default. */
  from: string;
  name: string;
  /** The stage's instructions, continuation lines joined, comments dropped. */
  lines: string[];
}

export function dockerfileStages(): Stage[] {
  const text = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const out: Stage[] = [];
  const args = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const arg = /^ARG\s+(\w+)=(\S+)/.exec(line);
    if (arg && out.length === 0) {
      args.set(arg[1], arg[2]);
      continue;
    }
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ from: from[1].replace(/^\$\{(\w+)\}$/, (_, name: string) => args.get(name) ?? name), name: from[2] ?? '', lines: [] });
    else out.at(-1)!.lines.push(line);
  }
  return out;
}
