// memcached confined as the operator runs it in a pod, on the host: the
// command line the operator renders (renderArgs), in a memory cgroup with
// the container's limit (or none, to measure), and for a warm-restart
// capable size its items in a memory-mapped file on a RAM disk sized as the
// kubelet sizes the memory-backed emptyDir. Used by the memory benchmark
// (bench/memcached-memory.ts) and the full-cache proof (test/integration/memory).
import { statSync } from 'node:fs';
import path from 'node:path';
import type { MemcachedSpec } from '../../src/api/types.js';
import { renderArgs, warmRestartCapable } from '../../src/memcached/children/args.js';
import { createMemoryCgroup, mountRamDisk, removeMemoryCgroup, unmountRamDisk, type MemoryCgroup, type RamDisk } from './memory-cgroup.js';
import { freePort, start, stop, waitReady, type Server } from './memcached-process.js';
import { eventually } from './cluster.js';

export interface ConfinedOptions {
  memoryMB: number;
  /** With -e on a RAM disk (only where warmRestartCapable allows it, as in the pod). */
  warm: boolean;
  /** The cgroup's limit in MiB; unset: no limit (to measure the peak). */
  limitMi?: number;
  /** The RAM disk's size in MiB (warm only). */
  ramDiskMi?: number;
}

export interface ConfinedMemcached {
  /** The running memcached (a new one after restartGraceful). */
  server: Server;
  port: number;
  pid: number;
  args: string[];
  cgroup: MemoryCgroup;
  disk?: RamDisk;
  memoryFile?: string;
  /** The memory file's size and the bytes tmpfs holds for it, or undefined without one. */
  fileBytes: () => { size: number; allocated: number } | undefined;
  /**
   * A warm restart as the pod's stop hook and the kubelet make it: SIGUSR1
   * (memcached saves its restart metadata and exits), then memcached again
   * with the same command line, in the same cgroup, on the same file.
   */
  restartGraceful: () => Promise<void>;
  /** Stops memcached, unmounts the RAM disk, removes the cgroup. */
  stop: () => Promise<void>;
}

const GRACEFUL_STOP_MS = 30_000;

/** Resolves when the wall clock is in a later second than at the call: memcached restores a saved cache only then. */
function nextSecond(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
}

export async function startConfined(opts: ConfinedOptions): Promise<ConfinedMemcached> {
  const port = await freePort();
  const spec: MemcachedSpec = { memoryLimitMB: opts.memoryMB, containerPort: port };
  if (opts.warm && !warmRestartCapable(spec)) throw new Error(`memcached -m ${opts.memoryMB} runs without -e in the pod: no warm variant to run`);
  const cgroup = createMemoryCgroup(`memcached-${opts.memoryMB}`, opts.limitMi === undefined ? undefined : opts.limitMi * 2 ** 20);
  let disk: RamDisk | undefined;
  let server: Server | undefined;
  const cleanUp = async (): Promise<void> => {
    if (server) await stop(server);
    if (disk) unmountRamDisk(disk);
    await removeMemoryCgroup(cgroup);
  };
  try {
    disk = opts.warm ? mountRamDisk(opts.ramDiskMi ?? opts.memoryMB + 64) : undefined;
    const memoryFile = disk ? path.join(disk.dir, 'memory') : undefined;
    const args = renderArgs(spec, { memoryFile });
    server = start(args, { cgroup: cgroup.path });
    await waitReady(server);
    const fileBytes = () => {
      if (!memoryFile) return undefined;
      const st = statSync(memoryFile);
      return { size: st.size, allocated: st.blocks * 512 };
    };
    const confined: ConfinedMemcached = {
      server,
      port,
      pid: server.proc.pid!,
      args,
      cgroup,
      disk,
      memoryFile,
      fileBytes,
      restartGraceful: async () => {
        const stopping = confined.server;
        stopping.proc.kill('SIGUSR1');
        const exited = () => (stopping.proc.exitCode !== null || stopping.proc.signalCode !== null ? true : undefined);
        await eventually(`memcached (pid ${confined.pid}) to stop after SIGUSR1`, exited, { timeoutMs: GRACEFUL_STOP_MS, intervalMs: 20 });
        if (stopping.proc.exitCode !== 0) throw new Error(`memcached's graceful stop ended with ${stopping.proc.exitCode ?? stopping.proc.signalCode}: ${stopping.stderr()}`);
        await nextSecond();
        server = start(args, { cgroup: cgroup.path });
        confined.server = server;
        confined.pid = server.proc.pid!;
        await waitReady(server);
      },
      stop: cleanUp,
    };
    return confined;
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
