// The benchmark's environment: its own local cluster (CLUSTER_STATE_DIR,
// .cluster-bench by default), client identities minted for the operator and
// the floor so the apiserver's audit log tells their writes apart, the
// apiserver's own request counters, and /proc readings of a process tree.
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { auditLogPath, clusterStateDir, kubeconfigPath, kubectl, loadKubeConfig, repoRoot, toolsBin, type Profile } from '../test/support/cluster.js';

const clusterScript = path.join(repoRoot, 'test', 'cluster', 'cluster.sh');
export const usersDir = path.join(clusterStateDir, 'bench-users');
export const pkiDir = path.join(clusterStateDir, 'kwok', 'clusters', 'memcached-operator', 'pki');

export { auditLogPath, clusterStateDir, kubectl, loadKubeConfig, repoRoot };

/** cluster.sh up builds the tools first when their cache is cold, or waits on another build's lock. */
const CLUSTER_UP_TIMEOUT_MS = 60 * 60_000;
const CLUSTER_DOWN_TIMEOUT_MS = 2 * 60_000;

function clusterSh(args: string[], timeoutMs: number): void {
  execFileSync(clusterScript, args, { stdio: ['ignore', 'ignore', 'inherit'], env: process.env, timeout: timeoutMs });
}

/** True when the cluster in this state directory answers /readyz now. */
export function clusterRunning(): boolean {
  if (!existsSync(kubeconfigPath)) return false;
  try {
    execFileSync(path.join(toolsBin(), 'kubectl'), ['--kubeconfig', kubeconfigPath, '--request-timeout=3s', 'get', '--raw', '/readyz'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the cluster. fresh: tear down whatever ran in this state directory
 * first. kwokctl picks its ports while other clusters start on the same
 * machine, so a start that loses a port race is retried from scratch.
 */
export function startCluster(profile: Profile, fresh: boolean, log: (msg: string) => void): void {
  if (fresh) stopCluster();
  log(`cluster: waiting for cluster.sh up ${profile} (at most ${CLUSTER_UP_TIMEOUT_MS / 60_000} min: a cold tools cache is built first)`);
  for (let attempt = 1; ; attempt++) {
    try {
      clusterSh(['up', profile], CLUSTER_UP_TIMEOUT_MS);
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
      log(`cluster start failed (attempt ${attempt}), retrying from scratch: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      stopCluster();
    }
  }
}

/** Stops the cluster in this state directory and removes its state. */
export function stopCluster(): void {
  clusterSh(['down'], CLUSTER_DOWN_TIMEOUT_MS);
}

/**
 * Raises the capacity of the (fake) worker nodes so N objects × replicas fit:
 * pods (110 by default) and the CPU and memory the pods request (each
 * memcached pod asks for a share of the 16 cores and 64Gi a kwok node has).
 */
export function raiseNodeCapacity(pods: number): void {
  const names = kubectl(['get', 'nodes', '-l', 'node-role.kubernetes.io/worker', '-o', 'jsonpath={.items[*].metadata.name}']).trim().split(/\s+/).filter(Boolean);
  const resources = { pods: String(pods), cpu: String(Math.max(16, pods)), memory: `${Math.max(64, Math.ceil(pods / 4))}Gi` };
  const patch = JSON.stringify({ status: { allocatable: resources, capacity: resources } });
  for (const name of names) kubectl(['patch', 'node', name, '--subresource=status', '--type=merge', '-p', patch]);
}

/**
 * Adds a /16 of Service ClusterIPs (a ServiceCIDR, GA since Kubernetes 1.33):
 * the local cluster's default range is a /24, and every Memcached has a
 * ClusterIP Service, so N=1000 for both the operator and the floor would run
 * out after ~250 objects (creates fail with 500 "range is full").
 */
export function extendServiceCidr(): void {
  kubectl(
    ['apply', '--server-side', '--force-conflicts', '--field-manager=memcached-bench', '-f', '-'],
    JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'memcached-bench' }, spec: { cidrs: ['10.96.0.0/16'] } }),
  );
}

/** Applies the CRD and waits (at most 60 s) until it is Established. */
export function applyCrd(file: string): void {
  kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=memcached-bench', '-f', file]);
  kubectl(['wait', '--for', 'condition=Established', '--timeout', '60s', '-f', file]);
}

/**
 * A client certificate for user `name` signed by the cluster's CA, bound to
 * cluster-admin, and a kubeconfig using it. The audit log records the user,
 * so the operator's writes and the floor's are counted apart from everyone
 * else's (all other local clients are kwok-admin).
 */
export function mintUser(name: string): string {
  mkdirSync(usersDir, { recursive: true });
  const key = path.join(usersDir, `${name}.key`);
  const csr = path.join(usersDir, `${name}.csr`);
  const crt = path.join(usersDir, `${name}.crt`);
  const kubeconfig = path.join(usersDir, `${name}.kubeconfig`);
  if (!existsSync(crt)) {
    execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', `/CN=${name}/O=memcached-bench`, '-out', csr], { stdio: 'ignore' });
    execFileSync(
      'openssl',
      ['x509', '-req', '-in', csr, '-CA', path.join(pkiDir, 'ca.crt'), '-CAkey', path.join(pkiDir, 'ca.key'), '-set_serial', String(randomInt(1, 2 ** 47)), '-days', '7', '-out', crt],
      { stdio: 'ignore' },
    );
  }
  const server = loadKubeConfig().getCurrentCluster()!.server;
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: bench`,
      `  cluster: {server: "${server}", certificate-authority: "${path.join(pkiDir, 'ca.crt')}"}`,
      'users:',
      `- name: ${name}`,
      `  user: {client-certificate: "${crt}", client-key: "${key}"}`,
      'contexts:',
      `- name: ${name}`,
      `  context: {cluster: bench, user: ${name}}`,
      `current-context: ${name}`,
      '',
    ].join('\n'),
  );
  kubectl(
    ['apply', '--server-side', '--force-conflicts', '--field-manager=memcached-bench', '-f', '-'],
    JSON.stringify({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `memcached-bench-${name}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name }],
    }),
  );
  return kubeconfig;
}

// ------------------------------------------------------------- /metrics --

export interface RequestCounts {
  total: number;
  /** "VERB resource[/subresource]" → count. */
  byVerbResource: Record<string, number>;
}

/** apiserver_request_total from the apiserver's own /metrics (all clients: 1.36 has no client label). */
let kubectlBinary: string | undefined;

/** The apiserver's /metrics text (large: kubectl with a big output buffer). */
export function apiserverMetricsText(): string {
  kubectlBinary ??= path.join(toolsBin(), 'kubectl');
  return execFileSync(kubectlBinary, ['--kubeconfig', kubeconfigPath, '--request-timeout=60s', 'get', '--raw', '/metrics'], {
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    timeout: 90_000,
  });
}

export function apiserverRequests(): RequestCounts {
  const text = apiserverMetricsText();
  const counts: RequestCounts = { total: 0, byVerbResource: {} };
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const close = line.lastIndexOf('}');
    const value = Number(line.slice(close + 1).trim());
    const labels = Object.fromEntries([...line.slice(0, close).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const key = `${labels.verb} ${labels.resource || '-'}${labels.subresource ? '/' + labels.subresource : ''}`;
    counts.total += value;
    counts.byVerbResource[key] = (counts.byVerbResource[key] ?? 0) + value;
  }
  return counts;
}

export function diffCounts(after: RequestCounts, before: RequestCounts): RequestCounts {
  const byVerbResource: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.byVerbResource)) {
    const d = v - (before.byVerbResource[k] ?? 0);
    if (d > 0) byVerbResource[k] = d;
  }
  return { total: after.total - before.total, byVerbResource };
}

// ------------------------------------------------------------ audit log --

export interface AuditWrite {
  user: string;
  userAgent: string;
  verb: string;
  resource: string;
  namespace: string;
  /** requestReceivedTimestamp, ms since the epoch. */
  at: number;
  code: number;
}

/**
 * A place in the audit log: the file (by inode, which survives a rename) and
 * the byte offset in it. The apiserver writes the log through lumberjack,
 * which rotates it at --audit-log-maxsize (kwokctl sets none, so lumberjack's
 * default of 100 MB): audit.log is renamed to audit-<time>.log and a new,
 * empty audit.log begins. A full run writes several hundred MB, so a mark
 * taken before a rotation must be found again in the renamed file.
 */
export interface AuditMark {
  ino: number;
  offset: number;
}

/** Where the audit log ends now: pass it to auditWrites to read only what came after. */
export function auditMark(logPath: string = auditLogPath): AuditMark {
  if (!existsSync(logPath)) return { ino: 0, offset: 0 };
  const st = statSync(logPath);
  return { ino: st.ino, offset: st.size };
}

/** The log's files, oldest first: lumberjack's backups (their names sort by time), then the live file. */
function auditSegments(logPath: string): Array<{ file: string; ino: number; size: number }> {
  const dir = path.dirname(logPath);
  const ext = path.extname(logPath);
  const base = path.basename(logPath, ext);
  const backups = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(`${base}-`) && f.endsWith(ext)).sort() : [];
  const out: Array<{ file: string; ino: number; size: number }> = [];
  for (const f of [...backups.map((b) => path.join(dir, b)), logPath]) {
    try {
      const st = statSync(f);
      out.push({ file: f, ino: st.ino, size: st.size });
    } catch {
      // rotated away between the listing and the stat
    }
  }
  return out;
}

/**
 * Writes recorded in the audit log after `mark` (the policy logs writes
 * only), across rotations. If the marked file is gone, every file is read
 * and the time filter alone bounds the result.
 */
export function auditWrites(mark: AuditMark, filter: { user?: string; fromMs?: number; toMs?: number } = {}, logPath: string = auditLogPath): AuditWrite[] {
  const segments = auditSegments(logPath);
  let first = segments.findIndex((s) => s.ino === mark.ino);
  // Truncated in place (a new file that reused the inode): read it whole.
  const startOffset = first >= 0 && segments[first].size >= mark.offset ? mark.offset : 0;
  if (first < 0) first = 0;
  const out: AuditWrite[] = [];
  segments.slice(first).forEach((s, i) => readAuditFile(s.file, i === 0 ? startOffset : 0, filter, out));
  return out;
}

function readAuditFile(file: string, from: number, filter: { user?: string; fromMs?: number; toMs?: number }, out: AuditWrite[]): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return;
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= from) return;
    const chunk = Buffer.alloc(Math.min(size - from, 64 * 1024 * 1024));
    let offset = from;
    let rest = '';
    while (offset < size) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - offset), offset);
      if (n <= 0) break;
      offset += n;
      const text = rest + chunk.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const w = parseAudit(line);
        if (!w) continue;
        if (filter.user !== undefined && w.user !== filter.user) continue;
        if (filter.fromMs !== undefined && w.at < filter.fromMs) continue;
        if (filter.toMs !== undefined && w.at > filter.toMs) continue;
        out.push(w);
      }
    }
  } finally {
    closeSync(fd);
  }
}

function parseAudit(line: string): AuditWrite | undefined {
  if (!line.trim()) return undefined;
  try {
    const e = JSON.parse(line) as {
      verb?: string;
      user?: { username?: string };
      userAgent?: string;
      objectRef?: { resource?: string; subresource?: string; namespace?: string };
      requestReceivedTimestamp?: string;
      responseStatus?: { code?: number };
    };
    return {
      user: e.user?.username ?? '',
      userAgent: e.userAgent ?? '',
      verb: e.verb ?? '',
      resource: `${e.objectRef?.resource ?? ''}${e.objectRef?.subresource ? '/' + e.objectRef.subresource : ''}`,
      namespace: e.objectRef?.namespace ?? '',
      at: Date.parse(e.requestReceivedTimestamp ?? ''),
      code: e.responseStatus?.code ?? 0,
    };
  } catch {
    return undefined;
  }
}

/** "verb resource" → count. */
export function tally(writes: readonly AuditWrite[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of writes) out[`${w.verb} ${w.resource}`] = (out[`${w.verb} ${w.resource}`] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

// ---------------------------------------------------------------- /proc --

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: fields start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** pid and every descendant (a shell running the operator, and what it started). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (!fields) continue;
    const ppid = Number(fields[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface Footprint {
  rssMB: number;
  cpuSeconds: number;
}

/** RSS (VmRSS, /proc/<pid>/status) and user+system CPU seconds (/proc/<pid>/stat) summed over the process tree. */
export function footprintOf(pid: number): Footprint {
  let rssKB = 0;
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rssKB += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      continue;
    }
    const fields = statFields(p);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return { rssMB: Math.round((rssKB / 1024) * 10) / 10, cpuSeconds: Math.round((ticks / ticksPerSecond()) * 100) / 100 };
}

export function machine(): { cores: number; memoryMB: number; cpuModel: string; loadAverage: number[] } {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  return {
    cores: availableParallelism(),
    memoryMB: Math.round(Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) / 1024),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
  };
}
