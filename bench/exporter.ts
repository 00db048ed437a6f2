// What monitoring costs per memcached pod: the exporter's RSS and
// CPU at idle and under Prometheus-like scrapes every 5 s and 15 s, for one
// exporter serving 1 target (the sidecar shape) and 10 targets (the
// multi-target shape), and what each pod adds to a process that runs anyway
// (addedPerPod: the operator serves /scrape itself, docs/monitoring.md).
// Writes bench/results/exporter.json; asserts nothing.
// Usage: node .build/bench/exporter.js [--window-seconds 60] [--out bench/results]
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, start as startMemcached, stop as stopMemcached, waitReady } from '../test/support/memcached-process.js';
import { footprintOf, machine } from './env.js';
import { round } from '../test/support/stats.js';
import { sleep, withDeadline } from './wait.js';

interface Window {
  targets: number;
  intervalSeconds: number;
  scrapes: number;
  rssMB: number;
  millicores: number;
  perPod: { rssMB: number; millicores: number };
  /**
   * What each pod adds when the exporter runs inside a process that runs
   * anyway (the operator, the chosen design): growth over that process's
   * idle footprint, divided by the pods. Negative RSS growth (a GC between
   * samples) reads as 0.
   */
  addedPerPod: { rssMB: number; millicores: number };
}

const { values } = parseArgs({ options: { 'window-seconds': { type: 'string', default: '60' }, out: { type: 'string', default: 'bench/results' } } });
const windowSeconds = Number(values['window-seconds']);
if (!Number.isInteger(windowSeconds) || windowSeconds < 5) throw new Error(`--window-seconds must be a whole number >= 5, got ${values['window-seconds']}`);


async function main(): Promise<void> {
  const mcPort = await freePort();
  const memcached = startMemcached(['-p', String(mcPort), '-U', '0', '-m', '64']);
  await waitReady(memcached);
  const exporter = spawn(process.execPath, ['dist/exporter/main.js', '--bind-address', '127.0.0.1:0', '--allowed-ports', String(mcPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const listening = new Promise<number>((resolve, reject) => {
      let out = '';
      exporter.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.includes('exporter listening'));
        if (line) resolve((JSON.parse(line) as { port: number }).port);
      });
      exporter.once('exit', (code) => reject(new Error(`exporter exited with ${code}: ${out}`)));
    });
    const exporterPort = await withDeadline('the exporter to log "exporter listening"', 30_000, listening);
    const target = `http://127.0.0.1:${exporterPort}/scrape?target=127.0.0.1:${mcPort}`;
    // A first scrape loads every code path before anything is measured.
    await (await fetch(target)).text();

    const idleStart = footprintOf(exporter.pid!);
    await sleep(windowSeconds * 1000);
    const idleEnd = footprintOf(exporter.pid!);
    const idle = { rssMB: idleEnd.rssMB, millicores: round(((idleEnd.cpuSeconds - idleStart.cpuSeconds) / windowSeconds) * 1000, 1)! };

    const windows: Window[] = [];
    for (const targets of [1, 10, 50]) {
      for (const intervalSeconds of [5, 15]) {
        const before = footprintOf(exporter.pid!);
        let scrapes = 0;
        const began = Date.now();
        while (Date.now() - began < windowSeconds * 1000) {
          const round0 = Date.now();
          await Promise.all(Array.from({ length: targets }, async () => (await fetch(target)).text()));
          scrapes += targets;
          await sleep(Math.max(0, intervalSeconds * 1000 - (Date.now() - round0)));
        }
        const after = footprintOf(exporter.pid!);
        const seconds = (Date.now() - began) / 1000;
        const millicores = ((after.cpuSeconds - before.cpuSeconds) / seconds) * 1000;
        windows.push({
          targets,
          intervalSeconds,
          scrapes,
          rssMB: after.rssMB,
          millicores: round(millicores, 1)!,
          perPod: { rssMB: round(after.rssMB / targets, 1)!, millicores: round(millicores / targets, 2)! },
          addedPerPod: {
            rssMB: round(Math.max(0, after.rssMB - idle.rssMB) / targets, 2)!,
            millicores: round(Math.max(0, millicores - idle.millicores) / targets, 3)!,
          },
        });
      }
    }
    const memcachedRss = footprintOf(memcached.proc.pid!).rssMB;
    const result = { generatedAt: new Date().toISOString(), machine: machine(), node: process.version, windowSeconds, memcachedIdleRssMB: memcachedRss, exporterIdle: idle, windows };
    mkdirSync(values.out, { recursive: true });
    const file = path.join(values.out, 'exporter.json');
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
    console.log(`wrote ${file}`);
  } finally {
    exporter.kill('SIGTERM');
    await stopMemcached(memcached);
  }
}

main().catch((err: Error) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
