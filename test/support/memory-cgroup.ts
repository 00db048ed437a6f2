// How the kubelet confines a memcached container, rebuilt on the host for
// the memory sizing's measurement and proof (src/memcached/children/
// resources.ts): a memory cgroup of its own (cgroup v1, with a limit or
// none), and a RAM disk (tmpfs of a given size) standing in for the pod's
// memory-backed emptyDir. tmpfs pages are charged to the cgroup of the
// process that first touches them, as in a pod. Needs root, and says so.
// The readings are parsed by pure functions (table-tested).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const MEMORY_CGROUP_ROOT = '/sys/fs/cgroup/memory';
/** Every cgroup made here lives under this one, apart from anything else on the machine. */
const PARENT = path.join(MEMORY_CGROUP_ROOT, 'memcached-operator-test');
const EMPTY_DEADLINE_MS = 10_000;
const MiB = 2 ** 20;

export interface MemoryCgroup {
  path: string;
  limitBytes?: number;
}

/** What the cgroup has charged, and whether it ran out. */
export interface CgroupReading {
  usageBytes: number;
  /** The highest usage since the cgroup was made (memory.max_usage_in_bytes). */
  peakBytes: number;
  /** How often usage hit the limit (each hit reclaims first; not every hit is an OOM). */
  failcnt: number;
  underOom: boolean;
  /** Processes the kernel's OOM killer killed in this cgroup. */
  oomKills: number;
  /** memory.stat: rss (anonymous), shmem (tmpfs), cache (page cache, shmem included), mapped_file. */
  stat: Record<string, number>;
}

/** A process's memory from /proc/<pid>/status, in KiB. */
export interface ProcessMemory {
  rssKiB: number;
  peakRssKiB: number;
  anonKiB: number;
  fileKiB: number;
  shmemKiB: number;
}

function requireRoot(what: string): void {
  const uid = process.getuid?.();
  if (uid !== 0) throw new Error(`${what} needs root (uid 0); this process runs as uid ${uid}: run the suite as root`);
}

function writeControl(cg: string, file: string, value: string): void {
  writeFileSync(path.join(cg, file), value);
}

/**
 * A new memory cgroup, limited to limitBytes (and swap with it, so the limit
 * is the limit on a host with swap too), or unlimited. Throws a clear error
 * when this is not root or the machine has no cgroup v1 memory controller.
 */
export function createMemoryCgroup(name: string, limitBytes?: number): MemoryCgroup {
  requireRoot('a memory cgroup');
  if (!existsSync(path.join(MEMORY_CGROUP_ROOT, 'memory.limit_in_bytes'))) {
    throw new Error(`no cgroup v1 memory controller at ${MEMORY_CGROUP_ROOT} (memory.limit_in_bytes is missing): the memory proofs need one`);
  }
  mkdirSync(PARENT, { recursive: true });
  const cg = mkdtempSync(path.join(PARENT, `${name}-`));
  if (limitBytes !== undefined) {
    writeControl(cg, 'memory.limit_in_bytes', String(limitBytes));
    if (existsSync(path.join(cg, 'memory.memsw.limit_in_bytes'))) writeControl(cg, 'memory.memsw.limit_in_bytes', String(limitBytes));
  }
  return { path: cg, limitBytes };
}

/** memory.oom_control's lines ("under_oom 0", "oom_kill 2", ...). Pure. */
export function parseOomControl(text: string): { underOom: boolean; oomKills: number } {
  const values = parseKeyValues(text);
  return { underOom: values.under_oom === 1, oomKills: values.oom_kill ?? 0 };
}

/** "name value" lines (memory.stat, memory.oom_control) as numbers. Pure. */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) out[key] = Number(value);
  }
  return out;
}

/** The memory lines of /proc/<pid>/status ("VmRSS:   1234 kB"). Pure. */
export function parseProcessMemory(status: string): ProcessMemory {
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), peakRssKiB: kib('VmHWM'), anonKiB: kib('RssAnon'), fileKiB: kib('RssFile'), shmemKiB: kib('RssShmem') };
}

export function readMemoryCgroup(cg: MemoryCgroup): CgroupReading {
  const read = (file: string): string => readFileSync(path.join(cg.path, file), 'utf8');
  const oom = parseOomControl(read('memory.oom_control'));
  return {
    usageBytes: Number(read('memory.usage_in_bytes')),
    peakBytes: Number(read('memory.max_usage_in_bytes')),
    failcnt: Number(read('memory.failcnt')),
    underOom: oom.underOom,
    oomKills: oom.oomKills,
    stat: parseKeyValues(read('memory.stat')),
  };
}

/** The process's memory now, or undefined when it is gone. */
export function readProcessMemory(pid: number): ProcessMemory | undefined {
  try {
    return parseProcessMemory(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Removes the cgroup once its processes are gone (the caller stops them); throws if they stay past a deadline. */
export async function removeMemoryCgroup(cg: MemoryCgroup): Promise<void> {
  const deadline = Date.now() + EMPTY_DEADLINE_MS;
  while (readFileSync(path.join(cg.path, 'cgroup.procs'), 'utf8').trim() !== '') {
    if (Date.now() > deadline) throw new Error(`cgroup ${cg.path} still has processes after ${EMPTY_DEADLINE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  rmdirSync(cg.path);
}

export interface RamDisk {
  dir: string;
  sizeMi: number;
}

/**
 * A tmpfs of sizeMi MiB, as the kubelet mounts a memory-backed emptyDir (its
 * size: the sizeLimit, or the pod's memory limit when that is lower),
 * writable by anyone so memcached may use it after dropping root.
 */
export function mountRamDisk(sizeMi: number): RamDisk {
  requireRoot('mounting a tmpfs');
  const dir = mkdtempSync(path.join(tmpdir(), 'memcached-ramdisk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMi}m,mode=1777`, 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { dir, sizeMi };
}

/** Unmounts the RAM disk (its pages are freed, and uncharged) and removes its mount point. */
export function unmountRamDisk(disk: RamDisk): void {
  execFileSync('umount', [disk.dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  rmdirSync(disk.dir);
}

export const mib = (bytes: number): number => bytes / MiB;

/** Starts the cgroup's peak (memory.max_usage_in_bytes) again from its usage now. */
export function resetPeak(cg: MemoryCgroup): void {
  writeControl(cg.path, 'memory.max_usage_in_bytes', '0');
}
