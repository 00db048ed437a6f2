// The memcached command line for a (defaulted, validated) spec.
import type { MemcachedSpec } from '../../api/types.js';
import { itemSizeKiB } from '../../api/validator.js';
import { securityArgs } from './secret-mounts.js';

/** Defaults of the CRD, repeated only so a spec that skipped defaulting still renders a working command line. */
export const DEFAULT_PORT = 11211;
export const DEFAULT_MEMORY_LIMIT_MB = 64;
export const DEFAULT_MAX_CONNECTIONS = 1024;
export const DEFAULT_THREADS = 4;

/**
 * memcached -e preallocates all of -m, a slab page for each class, and
 * refuses to start when -m is below that (39 MB with 1 MB pages); larger
 * items mean larger pages. Below these, servers restart cold.
 */
export const WARM_RESTART_MIN_MB = 64;

export function warmRestartCapable(spec: MemcachedSpec): boolean {
  const memory = spec.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB;
  const itemKiB = spec.maxItemSize ? itemSizeKiB(spec.maxItemSize) : 1024;
  return memory >= WARM_RESTART_MIN_MB && itemKiB <= 1024;
}

/** How the pod passes what changes in place: -m through the environment, and the warm-restart file. */
export interface ArgsOptions {
  /** The -m value as written in the container's args (a `$(VAR)` the kubelet expands), else memoryLimitMB. */
  memory?: string;
  /** -e: keep the items in this memory-mapped file, restored on restart. With it, -A allows `shutdown graceful`. */
  memoryFile?: string;
}

/**
 * memcached 1.6 short flags, in a fixed order:
 * -p port, -U 0 (UDP off: it is an amplification vector and nothing here uses
 * it), -m item memory in MB, -c max connections, -t threads, -I max item size
 * when set, -e and -A for warm restarts (the operator restarts a server with
 * `shutdown graceful`; without authentication any client can already
 * flush_all, so -A adds no power a client did not have), the TLS and
 * authentication flags (secret-mounts.ts), then spec.extraArgs verbatim (the
 * CRD forbids flags owned here).
 */
export function renderArgs(spec: MemcachedSpec, opts: ArgsOptions = {}): string[] {
  const args = [
    '-p', String(spec.containerPort ?? DEFAULT_PORT),
    '-U', '0',
    '-m', opts.memory ?? String(spec.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB),
    '-c', String(spec.maxConnections ?? DEFAULT_MAX_CONNECTIONS),
    '-t', String(spec.threads ?? DEFAULT_THREADS),
  ];
  if (spec.maxItemSize) args.push('-I', spec.maxItemSize);
  if (opts.memoryFile && warmRestartCapable(spec)) args.push('-e', opts.memoryFile, '-A');
  return [...args, ...securityArgs(spec), ...(spec.extraArgs ?? [])];
}
