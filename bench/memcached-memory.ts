// What memcached really takes beyond -m, measured on the binary the pods run
// (Debian's memcached 1.6, /usr/bin/memcached, the stand-in image's): for
// each -m, with the items in a memory-mapped file on a RAM disk (warm: -e,
// for the sizes that restart warm) and without (cold: anonymous memory),
// memcached runs with the command line the operator renders (4 threads,
// -c 1024) in a memory cgroup of its own with no limit, 200 idle client
// connections open, and is filled past full (until it evicts, then a
// quarter more, and until its hash table is done growing) with each
// workload: tiny and small values (the most items, so the largest hash
// table) and mid-size ones. Recorded: the cgroup's peak and usage (tmpfs
// pages are charged to it, as in a pod), RSS by kind, the memory file, and
// memcached's stats. A warm row then restarts memcached as the pod does
// (SIGUSR1, then memcached again on the same file in the same cgroup) and
// records the restart's own peak and the items restored. Once a run, 900
// connections each holding half a request show what a busy connection costs.
// containerMemoryMi (src/memcached/children/resources.ts) is derived from
// these peaks; each row shows the limit it gives and the margin left.
// Needs root (a cgroup v1 memory controller, mount).
//
//   node .build/bench/memcached-memory.js [--sizes 16,32,64,80,128,256,512,1024] [--modes warm,cold]
//     [--workloads tiny,small,mid] [--out bench/results] [--report-only]
//
// Rows of an earlier run that this one does not repeat are kept, so sizes
// can be measured one at a time; --report-only measures nothing and only
// writes the rows again with what today's formulas give them.
import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MemcachedSession, type Endpoint } from '../src/protocol/client.js';
import { DEFAULT_MAX_CONNECTIONS, warmRestartCapable } from '../src/memcached/children/args.js';
import { containerMemoryMi, hashTablePeakMi } from '../src/memcached/children/resources.js';
import { cacheVolumeMi } from '../src/memcached/children/statefulset.js';
import { eventually } from '../test/support/cluster.js';
import { startConfined, type ConfinedMemcached } from '../test/support/confined-memcached.js';
import { fillPastFull, hashSettled, openIdleConnections, WORKLOADS, type FillResult, type Workload } from '../test/support/memcached-fill.js';
import { mib, readMemoryCgroup, readProcessMemory, resetPeak } from '../test/support/memory-cgroup.js';
import { round } from '../test/support/stats.js';
import { machine } from './env.js';

const IDLE_CONNECTIONS = 200;
/** Connections each holding a request in flight, for what a busy connection costs. */
const BUSY_CONNECTIONS = 900;
const FILL_CONNECTIONS = 4;
const FILL_TIMEOUT_MS = 15 * 60_000;
/** The smallest item memcached stores takes a 96-byte chunk: no fill needs more sets than this many per MB, times three. */
const MAX_SETS_PER_MB = Math.ceil((3 * 2 ** 20) / 96);

type Mode = 'warm' | 'cold';

export interface Row {
  memoryMB: number;
  mode: Mode;
  workload: string;
  args: string[];
  fill: FillResult;
  /** The memory cgroup's peak and final usage, and memory.stat's rss (anonymous), shmem (tmpfs) and cache, MiB. */
  cgroup: { peakMi: number; usageMi: number; rssMi: number; shmemMi: number; cacheMi: number; failcnt: number; oomKills: number };
  /** /proc/<pid>/status, MiB. */
  process: { rssMi: number; peakRssMi: number; anonMi: number; fileMi: number; shmemMi: number };
  /** The -e file: its size and what tmpfs holds of it, MiB. */
  memoryFile?: { sizeMi: number; allocatedMi: number };
  stats: Stats;
  /** Warm rows: memcached restarted on its file; the cgroup's peak from the stop to the restored cache, and the items restored. */
  restart?: { peakMi: number; restoredItems: number; stats: Stats };
  /** The peak above -m, MiB. */
  overheadMi: number;
  /** What the formulas give this -m (and -c 1024): the hash table's computed peak, the container limit and its margin above the peak (%), and the RAM disk's sizeLimit (warm only). */
  hashPeakMi: number;
  limitMi: number;
  marginPct: number;
  cacheVolumeMi?: number;
}

interface Stats {
  bytes: number;
  limitMaxbytes: number;
  hashBytes: number;
  hashPowerLevel: number;
  currItems: number;
  totalItems: number;
  evictions: number;
  currConnections: number;
  totalMalloced: number;
}

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '16,32,64,80,128,256,512,1024' },
    modes: { type: 'string', default: 'warm,cold' },
    workloads: { type: 'string', default: WORKLOADS.map((w) => w.name).join(',') },
    out: { type: 'string', default: 'bench/results' },
    'report-only': { type: 'boolean', default: false },
  },
});

function list(option: string, name: string): string[] {
  const items = option.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new Error(`--${name} names nothing`);
  return items;
}

const sizes = list(values.sizes, 'sizes').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 16) throw new Error(`--sizes: ${s} is not a whole number of MB >= 16`);
  return n;
});
const modes = list(values.modes, 'modes').map((m): Mode => {
  if (m !== 'warm' && m !== 'cold') throw new Error(`--modes: ${m} is neither warm nor cold`);
  return m;
});
const workloads = list(values.workloads, 'workloads').map((name) => {
  const w = WORKLOADS.find((x) => x.name === name);
  if (!w) throw new Error(`--workloads: no workload ${name}; there are ${WORKLOADS.map((x) => x.name).join(', ')}`);
  return w;
});

const mi = (bytes: number): number => round(mib(bytes), 1)!;

async function statsOf(endpoint: Endpoint): Promise<Stats> {
  const session = await MemcachedSession.open(endpoint, {}, { timeoutMs: 10_000 });
  try {
    const s = await session.stats();
    const slabs = await session.stats('slabs');
    const num = (name: string): number => Number(s.get(name) ?? NaN);
    return {
      bytes: num('bytes'),
      limitMaxbytes: num('limit_maxbytes'),
      hashBytes: num('hash_bytes'),
      hashPowerLevel: num('hash_power_level'),
      currItems: num('curr_items'),
      totalItems: num('total_items'),
      evictions: num('evictions'),
      currConnections: num('curr_connections'),
      totalMalloced: Number(slabs.get('total_malloced') ?? NaN),
    };
  } finally {
    session.close();
  }
}

/** What the operator's formulas give this size, and the margin the limit leaves above the measured peak. */
function sizing(memoryMB: number, mode: Mode, peakMi: number): Pick<Row, 'hashPeakMi' | 'limitMi' | 'marginPct' | 'cacheVolumeMi'> {
  const limitMi = containerMemoryMi(memoryMB, DEFAULT_MAX_CONNECTIONS);
  return {
    hashPeakMi: hashTablePeakMi(memoryMB),
    limitMi,
    marginPct: round((limitMi / peakMi - 1) * 100, 1)!,
    ...(mode === 'warm' ? { cacheVolumeMi: cacheVolumeMi(memoryMB, limitMi) } : {}),
  };
}

/** The warm restart: its own peak (the file stays charged, the new process rebuilds its hash table) and what it restored. */
async function restartWarm(mc: ConfinedMemcached, endpoint: Endpoint): Promise<NonNullable<Row['restart']>> {
  resetPeak(mc.cgroup);
  await mc.restartGraceful();
  await hashSettled(endpoint);
  const stats = await statsOf(endpoint);
  if (stats.currItems === 0) throw new Error(`memcached restored nothing after a graceful restart: ${mc.server.stderr()}`);
  return { peakMi: mi(readMemoryCgroup(mc.cgroup).peakBytes), restoredItems: stats.currItems, stats };
}

async function measure(memoryMB: number, mode: Mode, workload: Workload): Promise<Row> {
  const mc = await startConfined({ memoryMB, warm: mode === 'warm' });
  const endpoint = { host: '127.0.0.1', port: mc.port };
  try {
    const idle = await openIdleConnections(endpoint, IDLE_CONNECTIONS, FILL_TIMEOUT_MS);
    let full: Omit<Row, 'restart' | 'hashPeakMi' | 'limitMi' | 'marginPct' | 'cacheVolumeMi'>;
    try {
      const fill = await fillPastFull(endpoint, {
        workload,
        connections: FILL_CONNECTIONS,
        batch: workload.maxValueBytes > 1024 ? 100 : 2000,
        beyondFull: 0.25,
        maxSets: MAX_SETS_PER_MB * memoryMB,
        timeoutMs: FILL_TIMEOUT_MS,
      });
      const stats = await statsOf(endpoint);
      const cg = readMemoryCgroup(mc.cgroup);
      const proc = readProcessMemory(mc.pid);
      if (!proc) throw new Error(`memcached (pid ${mc.pid}) is gone after the fill: ${mc.server.stderr()}`);
      const file = mc.fileBytes();
      full = {
        memoryMB,
        mode,
        workload: workload.name,
        args: mc.args.map((a) => (a === mc.memoryFile ? '<ramdisk>/memory' : a)),
        fill,
        cgroup: { peakMi: mi(cg.peakBytes), usageMi: mi(cg.usageBytes), rssMi: mi(cg.stat.rss ?? 0), shmemMi: mi(cg.stat.shmem ?? 0), cacheMi: mi(cg.stat.cache ?? 0), failcnt: cg.failcnt, oomKills: cg.oomKills },
        process: { rssMi: mi(proc.rssKiB * 1024), peakRssMi: mi(proc.peakRssKiB * 1024), anonMi: mi(proc.anonKiB * 1024), fileMi: mi(proc.fileKiB * 1024), shmemMi: mi(proc.shmemKiB * 1024) },
        ...(file ? { memoryFile: { sizeMi: mi(file.size), allocatedMi: mi(file.allocated) } } : {}),
        stats,
        overheadMi: round(mib(cg.peakBytes) - memoryMB, 1)!,
      };
    } finally {
      idle.closeAll();
    }
    const restart = mode === 'warm' ? await restartWarm(mc, endpoint) : undefined;
    const peakMi = Math.max(full.cgroup.peakMi, restart?.peakMi ?? 0);
    return { ...full, ...(restart ? { restart } : {}), ...sizing(memoryMB, mode, peakMi) };
  } finally {
    await mc.stop();
  }
}

/** What a connection with a request in flight costs: its share of the cgroup's growth when BUSY_CONNECTIONS each hold half a request. */
export interface BusyConnections {
  connections: number;
  addedMi: number;
  perConnectionKiB: number;
}

/**
 * memcached -m 64 (cold), then BUSY_CONNECTIONS connections that each send
 * most of a long get line and no end: memcached holds a read buffer for each
 * until the line is whole. Raw sockets, as test/support/memcached-process.ts
 * converse() uses for what the operator's client would never send.
 */
async function measureBusyConnections(): Promise<BusyConnections> {
  const mc = await startConfined({ memoryMB: 64, warm: false });
  const endpoint = { host: '127.0.0.1', port: mc.port };
  const sockets: Socket[] = [];
  try {
    const idleBytes = readMemoryCgroup(mc.cgroup).usageBytes;
    const halfALine = `get ${Array.from({ length: 32 }, (_, i) => `busy-${i}-${'k'.repeat(200)}`).join(' ')}`;
    for (let i = 0; i < BUSY_CONNECTIONS; i++) {
      const socket = connect({ host: '127.0.0.1', port: mc.port });
      socket.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      socket.write(halfALine);
      sockets.push(socket);
    }
    const connected = async (): Promise<true | undefined> => ((await statsOf(endpoint)).currConnections > BUSY_CONNECTIONS ? true : undefined);
    await eventually(`memcached to count ${BUSY_CONNECTIONS} connections`, connected, { timeoutMs: 30_000, intervalMs: 100 });
    const addedBytes = readMemoryCgroup(mc.cgroup).usageBytes - idleBytes;
    return { connections: BUSY_CONNECTIONS, addedMi: mi(addedBytes), perConnectionKiB: round(addedBytes / BUSY_CONNECTIONS / 1024, 1)! };
  } finally {
    for (const socket of sockets) socket.destroy();
    await mc.stop();
  }
}

const key = (r: Pick<Row, 'memoryMB' | 'mode' | 'workload'>): string => `${r.memoryMB}/${r.mode}/${r.workload}`;
const worstPeakMi = (r: Row): number => Math.max(r.cgroup.peakMi, r.restart?.peakMi ?? 0);

function table(rows: Row[]): string {
  const lines = [
    '| -m MB | mode | workload | items | hash MiB | cgroup peak MiB | restart peak MiB | anon MiB | tmpfs MiB | peak - m | computed hash peak | limit MiB | margin |',
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.memoryMB} | ${r.mode} | ${r.workload} | ${r.stats.currItems} | ${round(r.stats.hashBytes / 2 ** 20, 1)} | ${r.cgroup.peakMi} | ${r.restart?.peakMi ?? '-'} | ${r.cgroup.rssMi} | ${r.cgroup.shmemMi} | ${r.overheadMi} | ${r.hashPeakMi} | ${r.limitMi} | ${r.marginPct}% |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  mkdirSync(values.out, { recursive: true });
  const jsonPath = path.join(values.out, 'memcached-memory.json');
  const before = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as { measuredAt: string; machine: unknown; busyConnections?: BusyConnections; rows: Row[] }) : undefined;
  const earlier = before?.rows ?? [];
  const fresh: Row[] = [];
  for (const memoryMB of values['report-only'] ? [] : sizes) {
    for (const mode of modes) {
      if (mode === 'warm' && !warmRestartCapable({ memoryLimitMB: memoryMB })) continue;
      for (const workload of workloads) {
        const started = Date.now();
        const row = await measure(memoryMB, mode, workload);
        fresh.push(row);
        const restart = row.restart ? `, restart peak ${row.restart.peakMi} MiB with ${row.restart.restoredItems} items restored` : '';
        console.log(`-m ${memoryMB} ${mode} ${workload.name}: peak ${row.cgroup.peakMi} MiB (+${row.overheadMi}), ${row.stats.currItems} items, hash ${row.stats.hashBytes / 2 ** 20} MiB${restart}; limit ${row.limitMi} MiB (${row.marginPct}% above), ${round((Date.now() - started) / 1000, 1)} s`);
      }
    }
  }
  // Kept rows show what today's formulas give them.
  const kept = earlier.filter((r) => !fresh.some((f) => key(f) === key(r))).map((r) => ({ ...r, ...sizing(r.memoryMB, r.mode, worstPeakMi(r)) }));
  const rows = [...kept, ...fresh].sort((a, b) => a.memoryMB - b.memoryMB || a.mode.localeCompare(b.mode) || a.workload.localeCompare(b.workload));
  const memcached = execFileSync('/usr/bin/memcached', ['-V'], { encoding: 'utf8' }).trim();
  const busy = values['report-only'] ? before?.busyConnections : await measureBusyConnections();
  if (busy && !values['report-only']) console.log(`${busy.connections} busy connections: +${busy.addedMi} MiB, ${busy.perConnectionKiB} KiB each`);
  // When and where the last measuring run was: a run that only reports keeps them.
  const measuredAt = fresh.length > 0 || !before ? new Date().toISOString() : before.measuredAt;
  const where = fresh.length > 0 || !before ? machine() : before.machine;
  writeFileSync(jsonPath, `${JSON.stringify({ measuredAt, memcached, machine: where, idleConnections: IDLE_CONNECTIONS, fillConnections: FILL_CONNECTIONS, busyConnections: busy, rows }, null, 2)}\n`);
  const md = [
    `# memcached memory at full cache (${memcached})`,
    '',
    'Made by `node .build/bench/memcached-memory.js` (bench/memcached-memory.ts). Each row: memcached with the command line the',
    `operator renders (4 threads, -c 1024) in a memory cgroup of its own, ${IDLE_CONNECTIONS} idle connections, filled until it evicts`,
    'and a quarter more, and until its hash table is done growing. warm: -e on a tmpfs (the tmpfs pages are charged to the',
    'cgroup), then a graceful restart on the same file (restart peak: from the stop to the restored cache); cold: anonymous',
    'memory. Workloads: values of 1-20 bytes (tiny), 10-50 (small), 1-10 KiB (mid). hash: the table at the end;',
    'computed hash peak: hashTablePeakMi; limit: containerMemoryMi with -c 1024; margin: how far the limit is above the larger peak.',
    'No run was OOM-killed. A few fills saw memcached answer `SERVER_ERROR out of memory storing object` to some sets (fill.errors',
    'in the JSON): memcached itself, at full -m, when the items it would evict are busy under the pipelined fill; no cgroup limit',
    'was set.',
    '',
    table(rows),
    '',
    ...(busy ? [`Busy connections (-m 64, cold): ${busy.connections} connections each holding half a request added ${busy.addedMi} MiB, ${busy.perConnectionKiB} KiB each (memcached's read buffer).`, ''] : []),
  ].join('\n');
  writeFileSync(path.join(values.out, 'memcached-memory.md'), md);
  console.log(table(rows));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
