// The memcached command line for a (defaulted, validated) spec.
import type { MemcachedSpec } from '../../api/types.js';
import { securityArgs } from './secret-mounts.js';

/** Defaults of the CRD, repeated only so a spec that skipped defaulting still renders a working command line. */
export const DEFAULT_PORT = 11211;
export const DEFAULT_MEMORY_LIMIT_MB = 64;
export const DEFAULT_MAX_CONNECTIONS = 1024;
export const DEFAULT_THREADS = 4;

/**
 * memcached 1.6 short flags, in a fixed order:
 * -p port, -U 0 (UDP off: it is an amplification vector and nothing here uses
 * it), -m item memory in MB, -c max connections, -t threads, -I max item size
 * when set, the TLS and authentication flags (secret-mounts.ts), then
 * spec.extraArgs verbatim (the CRD forbids flags owned here).
 */
export function renderArgs(spec: MemcachedSpec): string[] {
  const args = [
    '-p', String(spec.containerPort ?? DEFAULT_PORT),
    '-U', '0',
    '-m', String(spec.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB),
    '-c', String(spec.maxConnections ?? DEFAULT_MAX_CONNECTIONS),
    '-t', String(spec.threads ?? DEFAULT_THREADS),
  ];
  if (spec.maxItemSize) args.push('-I', spec.maxItemSize);
  return [...args, ...securityArgs(spec), ...(spec.extraArgs ?? [])];
}
