// Leader-election fault harness: several real operator processes (dist/main.js)
// against one local apiserver, each with its own ServiceAccount so the
// apiserver's audit log tells their writes apart, plus fault injection
// (SIGKILL, SIGTERM, a TCP partition, an apiserver outage, leader-for-life Pod
// eviction and node loss) and the proof that no two processes ever wrote in
// overlapping leadership windows.
//
// The integration specs (test/integration/leaderelection) assert on what
// measureFailover() returns; the benchmark harness calls it for the numbers.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { isConditionTrue } from '@memcached-operator/runtime';
import {
  auditLogPath,
  clusterStateDir,
  createNamespace,
  deleteNamespace,
  ensureCluster,
  eventually,
  kubectl,
  repoRoot,
} from './cluster.js';
import { startOperator, type OperatorProcess } from './operator.js';
import { freezeKwok, startApiserver, stopApiserver, thawKwok } from './faults.js';
import { stats, type Stats } from './stats.js';
import { TcpProxy } from './tcpproxy.js';


// ---------------------------------------------------------------- timings --

/** Leader-election timings passed to the operator as flags (milliseconds). */
export interface ElectionTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/**
 * Short timings so a failover takes seconds, not the default 15 s: they keep
 * client-go's ratios (LeaseDuration > RenewDeadline > 1.2 × RetryPeriod, with
 * a RetryPeriod-sized gap between lease and deadline) at roughly a quarter of
 * the defaults. A 1 s RetryPeriod is still far above the apiserver round trip
 * of a local cluster, so renewals do not fail from load.
 */
export const FAST_TIMINGS: Readonly<ElectionTimings> = Object.freeze({
  leaseDurationMs: 4_000,
  renewDeadlineMs: 3_000,
  retryPeriodMs: 1_000,
});

export function timingFlags(t: ElectionTimings): string[] {
  return [
    `--leader-election-lease-duration=${t.leaseDurationMs}ms`,
    `--leader-election-renew-deadline=${t.renewDeadlineMs}ms`,
    `--leader-election-retry-period=${t.retryPeriodMs}ms`,
  ];
}

// ------------------------------------------------------------------ audit --

/** One write as the apiserver's audit log recorded it (times in ms since the epoch, sub-ms kept). */
export interface AuditWrite {
  user: string;
  verb: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code: number;
  received: number;
  completed: number;
}

/** RFC 3339 with microseconds → ms since the epoch, keeping the fraction. */
export function parseMicroTime(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) return Date.parse(ts);
  const fraction = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return Date.parse(`${m[1]}Z`) + fraction;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Every completed write in `namespace` the audit log holds (cluster-scoped writes are skipped). */
export function readAuditWrites(namespace: string, sinceMs = 0): AuditWrite[] {
  if (!existsSync(auditLogPath)) throw new Error(`no audit log at ${auditLogPath}`);
  const writes: AuditWrite[] = [];
  for (const line of readFileSync(auditLogPath, 'utf8').split('\n')) {
    if (!line.includes(`"namespace":"${namespace}"`)) continue;
    let e: {
      stage?: string;
      verb?: string;
      user?: { username?: string };
      objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
      responseStatus?: { code?: number };
      requestReceivedTimestamp?: string;
      stageTimestamp?: string;
    };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue; // a line being written right now
    }
    if (e.stage !== 'ResponseComplete' || !e.verb || !WRITE_VERBS.has(e.verb)) continue;
    if (e.objectRef?.namespace !== namespace) continue;
    const received = parseMicroTime(e.requestReceivedTimestamp ?? '');
    if (received < sinceMs) continue;
    writes.push({
      user: e.user?.username ?? '',
      verb: e.verb,
      resource: e.objectRef.resource ?? '',
      subresource: e.objectRef.subresource,
      namespace: e.objectRef.namespace,
      name: e.objectRef.name,
      code: e.responseStatus?.code ?? 0,
      received,
      completed: parseMicroTime(e.stageTimestamp ?? ''),
    });
  }
  return writes.sort((a, b) => a.completed - b.completed);
}

/** The reconciler's writes: what must never come from two leaders at once (Events excluded). */
export const RECONCILER_RESOURCES: ReadonlySet<string> = new Set(['memcacheds', 'statefulsets', 'services', 'configmaps', 'poddisruptionbudgets']);

export interface LeadershipWindow {
  user: string;
  /** When the write that made `user` the lock holder completed. */
  start: number;
  /** When the next holder's first lock write was received (Infinity while still leading). */
  end: number;
}

export interface OverlapReport {
  windows: LeadershipWindow[];
  /** Reconciler writes by candidates that were checked. */
  writesChecked: number;
  /** Writes by a candidate outside each of its leadership windows. */
  violations: Array<AuditWrite & { why: string }>;
}

/**
 * Leadership windows from the lock writes in the audit log. A candidate only
 * ever writes the lock while it holds it (create, take over, renew, release;
 * leader-for-life: create), so the holder's window runs from its first
 * successful lock write to the moment the next holder's first lock write
 * reached the apiserver.
 */
export function leadershipWindows(
  writes: AuditWrite[],
  lock: { resource: 'leases' | 'configmaps'; name: string },
  isCandidate: (user: string) => boolean,
): LeadershipWindow[] {
  const windows: LeadershipWindow[] = [];
  let current: LeadershipWindow | undefined;
  for (const w of writes) {
    if (w.resource !== lock.resource || w.name !== lock.name || w.subresource) continue;
    if (!isCandidate(w.user) || w.code >= 300 || !['create', 'update', 'patch'].includes(w.verb)) continue;
    if (current?.user === w.user) continue;
    if (current) current.end = w.received;
    current = { user: w.user, start: w.completed, end: Infinity };
    windows.push(current);
  }
  return windows;
}

/**
 * The overlapping-writer proof: every reconciler write by a candidate (any
 * outcome: even a rejected write means a non-leader tried) must lie wholly
 * inside one of that candidate's leadership windows. Windows are consecutive
 * by construction, so this means no two identities wrote in overlapping
 * windows.
 */
export function checkOverlap(
  writes: AuditWrite[],
  lock: { resource: 'leases' | 'configmaps'; name: string },
  isCandidate: (user: string) => boolean,
): OverlapReport {
  const windows = leadershipWindows(writes, lock, isCandidate);
  const violations: OverlapReport['violations'] = [];
  let writesChecked = 0;
  for (const w of writes) {
    if (!RECONCILER_RESOURCES.has(w.resource) || !isCandidate(w.user)) continue;
    // The leader-for-life lock is a ConfigMap too: its writes make the windows, they are not the reconciler's.
    if (w.resource === lock.resource && w.name === lock.name) continue;
    writesChecked++;
    const mine = windows.filter((win) => win.user === w.user);
    if (mine.some((win) => win.start <= w.received && w.completed <= win.end)) continue;
    const why =
      mine.length === 0
        ? 'the writer never held the lock'
        : `outside its windows ${mine.map((win) => `[${iso(win.start)}, ${iso(win.end)}]`).join(', ')}`;
    violations.push({ ...w, why });
  }
  return { windows, writesChecked, violations };
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '∞';
}

export function describeViolations(report: OverlapReport): string {
  return report.violations
    .map((v) => `${v.user} ${v.verb} ${v.resource}${v.subresource ? '/' + v.subresource : ''} ${v.name ?? ''} at ${iso(v.received)}: ${v.why}`)
    .join('\n');
}

// -------------------------------------------------------------------- lab --

export type ElectionMode = 'lease' | 'leader-for-life';

export interface Candidate {
  /** ServiceAccount name (also the Pod name in leader-for-life mode). */
  readonly name: string;
  /** The audit log's user.username for this process. */
  readonly user: string;
  /** The elector identity the process logged at startup. */
  readonly identity: string;
  readonly proc: OperatorProcess;
  readonly proxy?: TcpProxy;
  /** leader-for-life: the Pod this process stands for. */
  readonly podName?: string;
  /** Set once the process has exited. */
  exitCode?: number | null;
  exitedAt?: number;
}

export interface CandidateOptions {
  /** Reach the apiserver through a TcpProxy owned by the lab. */
  proxied?: boolean;
  /** leader-for-life: reuse this Pod (and its ServiceAccount), as a container restart does. */
  pod?: string;
  /** leader-for-life: the node to put a new Pod on. */
  node?: string;
  extraArgs?: string[];
}

const CRD_PATH = path.join(repoRoot, 'config', 'crd', 'bases', 'cache.example.com_memcacheds.yaml');
export const LOCK_NAME = 'memcached-operator-lock';

let crdInstalled = false;

/** A namespace with N operator candidates, their RBAC, and fault injection. */
export class ElectionLab {
  readonly candidates: Candidate[] = [];
  readonly startedAt = Date.now();
  private serial = 0;
  private readonly nodes: string[] = [];
  private kubeletTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  /** The operator's entry point for new candidates (default dist/main.js). */
  main: string | undefined;
  private readonly core: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly apps: k8s.AppsV1Api;
  private readonly leases: k8s.CoordinationV1Api;

  private constructor(
    readonly kc: k8s.KubeConfig,
    readonly namespace: string,
    readonly mode: ElectionMode,
    readonly timings: ElectionTimings,
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.leases = kc.makeApiClient(k8s.CoordinationV1Api);
  }

  static async open(options: { prefix: string; mode?: ElectionMode; timings?: ElectionTimings; main?: string }): Promise<ElectionLab> {
    const kc = ensureCluster('ha');
    if (!crdInstalled) {
      kubectl(['apply', '--server-side', '--force-conflicts', '-f', CRD_PATH]);
      kubectl(['wait', '--for', 'condition=Established', '--timeout=60s', 'crd/memcacheds.cache.example.com']);
      // The operator's real cluster-wide rights (config/rbac), not cluster-admin.
      kubectl(['apply', '--server-side', '--force-conflicts', '-f', path.join(repoRoot, 'config', 'rbac', 'role.yaml')]);
      crdInstalled = true;
    }
    const namespace = await createNamespace(kc, options.prefix);
    const lab = new ElectionLab(kc, namespace, options.mode ?? 'lease', options.timings ?? { ...FAST_TIMINGS });
    lab.main = options.main;
    const group = `system:serviceaccounts:${namespace}`;
    const electionRole = readFileSync(path.join(repoRoot, 'config', 'rbac', 'leader_election_role.yaml'), 'utf8').replace(
      /namespace: system/,
      `namespace: ${namespace}`,
    );
    kubectl(['apply', '--server-side', '-f', '-'], electionRole);
    const bindings = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: `le-${namespace}` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'manager-role' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'leader-election', namespace },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'leader-election-role' },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
        },
      ],
    };
    kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(bindings));
    if (lab.mode === 'leader-for-life') lab.startFakeKubelet();
    return lab;
  }

  // ---- candidates ---------------------------------------------------------

  isCandidateUser = (user: string): boolean => user.startsWith(`system:serviceaccount:${this.namespace}:`);

  async startCandidate(options: CandidateOptions = {}): Promise<Candidate> {
    const name = options.pod ?? `op-${++this.serial}`;
    if (!options.pod) await this.core.createNamespacedServiceAccount({ namespace: this.namespace, body: { metadata: { name } } });
    if (this.mode === 'leader-for-life' && !options.pod) await this.createPod(name, options.node ?? (await this.addNode()));
    const token = await this.core.createNamespacedServiceAccountToken({
      name,
      namespace: this.namespace,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = this.kc.getCurrentCluster();
    if (!cluster?.server || !cluster.caFile) throw new Error('the admin kubeconfig has no server or certificate-authority file');
    let server = cluster.server;
    let proxy: TcpProxy | undefined;
    if (options.proxied) {
      const url = new URL(cluster.server);
      proxy = new TcpProxy(url.hostname, Number(url.port));
      server = `https://127.0.0.1:${await proxy.start()}`;
    }
    const dir = path.join(clusterStateDir, 'leaderelection');
    mkdirSync(dir, { recursive: true });
    const kubeconfig = path.join(dir, `${this.namespace}-${name}-${this.serial}.kubeconfig`);
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'local', cluster: { server, 'certificate-authority': cluster.caFile } }],
        users: [{ name, user: { token: token.status!.token } }],
        contexts: [{ name: 'local', context: { cluster: 'local', user: name, namespace: this.namespace } }],
        'current-context': 'local',
      }),
      { mode: 0o600 },
    );
    const args = [
      '--leader-elect',
      `--leader-election-mode=${this.mode}`,
      `--leader-election-id=${LOCK_NAME}`,
      `--leader-election-namespace=${this.namespace}`,
      ...timingFlags(this.timings),
      ...(options.extraArgs ?? []),
    ];
    const env: Record<string, string> = { WATCH_NAMESPACE: this.namespace };
    if (this.mode === 'leader-for-life') Object.assign(env, { POD_NAME: name, POD_NAMESPACE: this.namespace });
    const proc = await startOperator({ kubeconfig, args, env, ...(this.main ? { main: this.main } : {}) });
    const started = proc.logs().find((l) => l.msg === 'starting memcached-operator');
    const candidate: Candidate = {
      name,
      user: `system:serviceaccount:${this.namespace}:${name}`,
      identity: typeof started?.identity === 'string' ? started.identity : '',
      proc,
      proxy,
      podName: this.mode === 'leader-for-life' ? name : undefined,
    };
    void proc.exited.then((code) => {
      candidate.exitCode = code;
      candidate.exitedAt = Date.now();
    });
    this.candidates.push(candidate);
    return candidate;
  }

  live(): Candidate[] {
    return this.candidates.filter((c) => c.exitCode === undefined);
  }

  /** The lock holder as the apiserver has it: lease holderIdentity, or the lock ConfigMap's owner Pod. */
  async holder(): Promise<string | undefined> {
    try {
      if (this.mode === 'lease') {
        const lease = await this.leases.readNamespacedLease({ name: LOCK_NAME, namespace: this.namespace });
        return lease.spec?.holderIdentity ?? '';
      }
      const cm = await this.core.readNamespacedConfigMap({ name: LOCK_NAME, namespace: this.namespace });
      return cm.metadata?.ownerReferences?.find((r) => r.kind === 'Pod')?.name ?? '';
    } catch (err) {
      if (err instanceof k8s.ApiException && err.code === 404) return undefined;
      throw err;
    }
  }

  private byHolder(holder: string | undefined): Candidate | undefined {
    if (!holder) return undefined;
    return this.candidates.find((c) => c.exitCode === undefined && (this.mode === 'lease' ? c.identity === holder : c.podName === holder));
  }

  async leader(): Promise<Candidate | undefined> {
    return this.byHolder(await this.holder());
  }

  /** Waits until a live candidate (not one of `not`) holds the lock. */
  async waitForLeader(options: { not?: Candidate[]; timeoutMs?: number } = {}): Promise<Candidate> {
    return eventually(
      'a live candidate to hold the lock',
      async () => {
        const c = await this.leader();
        return c && !(options.not ?? []).includes(c) ? c : undefined;
      },
      { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 50 },
    );
  }

  /** Starts candidates one by one; the first becomes the leader before the others start. */
  async startCandidates(n: number, first: CandidateOptions = {}): Promise<Candidate> {
    const leader = await this.startCandidate(first);
    await this.waitForLeader().then((c) => {
      if (c !== leader) throw new Error(`expected ${leader.name} to lead, ${c.name} does`);
    });
    for (let i = 1; i < n; i++) await this.startCandidate();
    return leader;
  }

  // ---- memcacheds ---------------------------------------------------------

  async createMemcached(name: string, size: number): Promise<void> {
    await this.custom.createNamespacedCustomObject({
      group: 'cache.example.com',
      version: 'v1alpha1',
      namespace: this.namespace,
      plural: 'memcacheds',
      body: { apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name, namespace: this.namespace }, spec: { size } },
    });
  }

  async setSize(name: string, size: number): Promise<void> {
    await this.custom.patchNamespacedCustomObject(
      { group: 'cache.example.com', version: 'v1alpha1', namespace: this.namespace, plural: 'memcacheds', name, body: { spec: { size } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  /** Waits until StatefulSet `name` asks for `size` replicas; resolves with its last-writer annotation. */
  async waitForStatefulSet(name: string, size: number, timeoutMs = 60_000): Promise<string> {
    return eventually(
      `StatefulSet ${name} to have ${size} replicas`,
      async () => {
        const d = await this.apps.readNamespacedStatefulSet({ name, namespace: this.namespace }).catch((err: unknown) => {
          if (err instanceof k8s.ApiException && err.code === 404) return undefined;
          throw err;
        });
        if (!d) return undefined;
        return d.spec?.replicas === size ? (d.metadata?.annotations?.['cache.example.com/last-writer'] ?? '') : undefined;
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  // ---- audit --------------------------------------------------------------

  audit(sinceMs = this.startedAt - 1_000): AuditWrite[] {
    return readAuditWrites(this.namespace, sinceMs);
  }

  get lock(): { resource: 'leases' | 'configmaps'; name: string } {
    return { resource: this.mode === 'lease' ? 'leases' : 'configmaps', name: LOCK_NAME };
  }

  overlap(): OverlapReport {
    return checkOverlap(this.audit(), this.lock, this.isCandidateUser);
  }

  /** Successful lock writes (lease create/update, lock ConfigMap create) by candidates. */
  lockWrites(sinceMs = 0): AuditWrite[] {
    return this.audit().filter(
      (w) =>
        w.resource === this.lock.resource &&
        w.name === LOCK_NAME &&
        !w.subresource &&
        w.code < 300 &&
        ['create', 'update', 'patch'].includes(w.verb) &&
        this.isCandidateUser(w.user) &&
        w.received >= sinceMs,
    );
  }

  /** The first audit entry matching `pred`, waiting for the log to have it. */
  async firstWrite(what: string, pred: (w: AuditWrite) => boolean, timeoutMs = 10_000): Promise<AuditWrite> {
    return eventually(`the audit log to record ${what}`, () => this.audit().find(pred), { timeoutMs, intervalMs: 100 });
  }

  // ---- leader-for-life: nodes, Pods, and a kubelet stand-in ---------------

  /** A fake node of our own (tainted, so nothing else lands there); kwok marks it Ready. */
  async addNode(): Promise<string> {
    const name = `${this.namespace}-n${this.nodes.length}`;
    await this.core.createNode({
      body: {
        metadata: {
          name,
          annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
          labels: { type: 'kwok', 'kubernetes.io/hostname': name },
        },
        spec: { taints: [{ key: 'leaderelection-test', effect: 'NoSchedule' }] },
        status: { allocatable: { cpu: '16', memory: '64Gi', pods: '110' }, capacity: { cpu: '16', memory: '64Gi', pods: '110' } },
      },
    });
    this.nodes.push(name);
    await eventually(`node ${name} to be Ready`, async () => ((await this.nodeReady(name)) ? true : undefined), { timeoutMs: 30_000 });
    return name;
  }

  async nodeReady(name: string): Promise<boolean> {
    const node = await this.core.readNode({ name });
    return isConditionTrue(node.status?.conditions, 'Ready');
  }

  private async createPod(name: string, node: string): Promise<void> {
    await this.core.createNamespacedPod({
      namespace: this.namespace,
      body: {
        metadata: { name, labels: { app: 'memcached-operator-le' } },
        spec: {
          nodeName: node,
          serviceAccountName: name,
          tolerations: [{ key: 'leaderelection-test', operator: 'Exists' }],
          containers: [{ name: 'manager', image: 'example.invalid/memcached-operator:test' }],
        },
      },
    });
    await eventually(
      `Pod ${name} to run`,
      async () => ((await this.core.readNamespacedPod({ name, namespace: this.namespace })).status?.phase === 'Running' ? true : undefined),
      // kwok marks the pod Running. cluster.sh restarts kwok with the
      // apiserver, so this is quick; the deadline allows for a loaded machine.
      { timeoutMs: 120_000 },
    );
  }

  /** Marks a Pod Failed/Evicted through the status subresource, as the kubelet does after killing it. */
  async evictPod(name: string): Promise<void> {
    await this.core.patchNamespacedPodStatus(
      {
        name,
        namespace: this.namespace,
        body: { status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  /**
   * Marks a node NotReady. kwok (--manage-all-nodes) puts Ready back within
   * milliseconds, so its controller is frozen (SIGSTOP) until thawKwok().
   */
  async markNodeNotReady(name: string): Promise<void> {
    this.freezeKwok();
    const node = await this.core.readNodeStatus({ name });
    const conditions = (node.status?.conditions ?? []).map((c) =>
      c.type === 'Ready'
        ? { ...c, status: 'False', reason: 'KubeletNotReady', message: 'node lost (leader election test)', lastTransitionTime: new Date() }
        : c,
    );
    await this.core.patchNodeStatus(
      { name, body: { status: { conditions } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
  }

  freezeKwok(): void {
    freezeKwok();
  }

  thawKwok(): void {
    thawKwok();
  }

  /**
   * What the kubelet would do for our stand-in Pods: once a candidate's Pod is
   * deleted, its process is killed (a process on a lost node is killed when
   * the node comes back and its kubelet learns the Pod is gone).
   */
  private startFakeKubelet(): void {
    const tick = async (): Promise<void> => {
      if (this.disposed) return;
      try {
        const pods = await this.core.listNamespacedPod({ namespace: this.namespace });
        const present = new Set(pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name));
        for (const c of this.live()) {
          if (c.podName && !present.has(c.podName)) c.proc.child.kill('SIGKILL');
        }
      } catch {
        // the apiserver may be down in a fault test; try again
      }
      // dispose() may have run while this tick was waiting for the apiserver.
      if (!this.disposed) this.kubeletTimer = setTimeout(() => void tick(), 100);
    };
    this.kubeletTimer = setTimeout(() => void tick(), 100);
  }

  // ---- apiserver outage ---------------------------------------------------

  /** Asynchronous, so the operators' output keeps being drained while the apiserver stops. */
  async stopApiserver(): Promise<void> {
    await stopApiserver();
  }

  async startApiserver(): Promise<void> {
    await startApiserver();
  }

  // ---- teardown -----------------------------------------------------------

  async dispose(): Promise<void> {
    this.disposed = true;
    clearTimeout(this.kubeletTimer);
    this.kubeletTimer = undefined;
    this.thawKwok();
    await Promise.all(this.candidates.map((c) => c.proc.stop('SIGKILL')));
    for (const c of this.candidates) await c.proxy?.cut();
    // Stand-in Pods go at once (grace 0): with their node gone no kubelet would confirm a graceful delete.
    await this.core.deleteCollectionNamespacedPod({ namespace: this.namespace, gracePeriodSeconds: 0 }).catch(() => undefined);
    for (const node of this.nodes) await this.core.deleteNode({ name: node }).catch(() => undefined);
    // With every operator gone nobody removes the Memcacheds' finalizer; do it, or the namespace never goes.
    await this.dropFinalizers().catch(() => undefined);
    try {
      kubectl(['delete', 'clusterrolebinding', `le-${this.namespace}`, '--ignore-not-found']);
    } catch {
      // best effort
    }
    await deleteNamespace(this.kc, this.namespace);
  }

  private async dropFinalizers(): Promise<void> {
    const list = (await this.custom.listNamespacedCustomObject({
      group: 'cache.example.com',
      version: 'v1alpha1',
      namespace: this.namespace,
      plural: 'memcacheds',
    })) as { items?: Array<{ metadata?: { name?: string } }> };
    for (const item of list.items ?? []) {
      await this.custom.patchNamespacedCustomObject(
        {
          group: 'cache.example.com',
          version: 'v1alpha1',
          namespace: this.namespace,
          plural: 'memcacheds',
          name: item.metadata!.name!,
          body: { metadata: { finalizers: null } },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    }
  }

  /** Every candidate's output, for a failing test's message. */
  dump(): string {
    return this.candidates
      .map((c) => `--- ${c.name} (${c.identity}) exit=${c.exitCode}\n${c.proc.output().split('\n').slice(-40).join('\n')}`)
      .join('\n');
  }
}

/** For a suite's tests that each open a lab: dumps the candidates' output when a test failed, then disposes the lab. */
export function disposeLabAfterEach(get: () => ElectionLab | undefined, clear: () => void): void {
  afterEach(async function () {
    const lab = get();
    if (this.currentTest?.state === 'failed' && lab) console.log(lab.dump());
    await lab?.dispose();
    clear();
  });
}

/** Waits until the candidate's process has exited (its exit code is then set). */
export async function eventuallyExited(c: Candidate, timeoutMs: number): Promise<void> {
  await eventually(`${c.name} to exit`, () => (c.exitCode !== undefined ? true : undefined), { timeoutMs, intervalMs: 50 });
}

/** The time (ms) of the first log line of `c` whose msg matches. */
export function logTime(c: Candidate, msg: string | RegExp): number | undefined {
  const line = c.proc.logs().find((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))));
  return typeof line?.timestamp === 'string' ? Date.parse(line.timestamp) : undefined;
}

// -------------------------------------------------------- measureFailover --

export type FailoverKind = 'sigkill' | 'sigterm' | 'partition' | 'apiserver-outage' | 'lfl-evicted' | 'lfl-node-notready';

export interface FailoverRun {
  /** When the fault was injected (test clock = apiserver clock: same host). */
  faultAt: number;
  oldLeader: { name: string; identity: string; exitCode?: number | null; exitedAt?: number };
  newLeader: { name: string; identity: string };
  /** Last successful lock write (renewal or release) by the old leader. */
  oldLastLockWriteAt?: number;
  /** When the old leader logged that it lost leadership (partition, outage). */
  oldStoppedLeadingAt?: number;
  /** The new leader's first successful lock write (takeover / lock creation). */
  takeoverAt: number;
  /** The new leader's first StatefulSet write (the reconcile of the change made after the fault). */
  firstWriteAt: number;
  /** takeoverAt - faultAt */
  takeoverMs: number;
  /** firstWriteAt - faultAt: the failover time as a user sees it. */
  failoverMs: number;
  /** sigterm: takeoverAt - release write of the old leader. */
  handoverMs?: number;
}

export interface FailoverReport {
  kind: FailoverKind;
  mode: ElectionMode;
  timings: ElectionTimings;
  candidates: number;
  runs: FailoverRun[];
  summary: { failoverMs: Stats; takeoverMs: Stats; handoverMs?: Stats };
  overlap: OverlapReport;
}

export interface FailoverOptions {
  /** Operator processes kept running (default 3). */
  candidates?: number;
  timings?: ElectionTimings;
  /**
   * leader-for-life: before the fault, wait until every standby has backed
   * off to the longest wait (16 s), as in a long-running deployment, so the
   * measured failover is the steady-state one (~30 s more per run).
   */
  settle?: boolean;
  /** Called with the lab before it is disposed (extra assertions, dumps). */
  inspect?: (lab: ElectionLab, report: FailoverReport) => void | Promise<void>;
  /** The operator's entry point (default dist/main.js; the benchmark runs a private build). */
  main?: string;
}

/**
 * Runs `runs` failovers of one kind against the local cluster and reports the
 * measured times plus the overlapping-writer proof over the whole session.
 * Each run changes a Memcached's spec.size after the fault and waits for its
 * StatefulSet to follow; the failover time is fault → the new leader's first
 * StatefulSet write, as the apiserver's audit log records it.
 */
export async function measureFailover(kind: FailoverKind, runs: number, options: FailoverOptions = {}): Promise<FailoverReport> {
  const mode: ElectionMode = kind.startsWith('lfl-') ? 'leader-for-life' : 'lease';
  const n = options.candidates ?? 3;
  const lab = await ElectionLab.open({ prefix: `le-${kind}`, mode, timings: options.timings, main: options.main });
  try {
    const results: FailoverRun[] = [];
    const mc = 'cache';
    let size = 1;
    await lab.startCandidates(n, { proxied: kind === 'partition' || kind === 'lfl-node-notready' });
    await lab.createMemcached(mc, size);
    await lab.waitForStatefulSet(mc, size);
    for (let i = 0; i < runs; i++) {
      if (i > 0 && (kind === 'partition' || kind === 'lfl-node-notready')) await makeProxiedLeader(lab, n);
      const old = await lab.waitForLeader();
      // The old leader is active: it reconciles a change before the fault.
      size = (size % 9) + 1;
      await lab.setSize(mc, size);
      await lab.waitForStatefulSet(mc, size);
      size = (size % 9) + 1;
      if (options.settle && mode === 'leader-for-life') {
        const waits = (c: Candidate): number => c.proc.logs().filter((l) => l.msg === 'not the leader; waiting').length;
        await eventually('the standbys to reach the longest backoff', () => (lab.live().every((c) => c === old || waits(c) >= 5) ? true : undefined), {
          timeoutMs: 90_000,
        });
      }
      const faultAt = await injectFault(lab, kind, old);
      await lab.setSize(mc, size);
      const next = await lab.waitForLeader({ not: [old], timeoutMs: 90_000 });
      await lab.waitForStatefulSet(mc, size, 90_000);
      lab.thawKwok(); // new nodes (for replacement candidates) need kwok again
      if (kind === 'sigterm' || kind === 'partition' || kind === 'apiserver-outage') {
        await eventually(`${old.name} to exit`, () => (old.exitCode !== undefined ? true : undefined), { timeoutMs: 30_000 });
      }
      const takeover = await eventually('the audit log to record the takeover', () => lab.lockWrites(faultAt).find((w) => w.user === next.user), {
        timeoutMs: 10_000,
        intervalMs: 100,
      });
      const first = await lab.firstWrite(
        'the new leader reconciling',
        (w) => w.resource === 'statefulsets' && w.name === mc && w.user === next.user && w.received >= faultAt,
      );
      const oldLast = lab
        .lockWrites()
        .filter((w) => w.user === old.user && w.completed <= takeover.received)
        .pop();
      results.push({
        faultAt,
        oldLeader: { name: old.name, identity: old.identity, exitCode: old.exitCode, exitedAt: old.exitedAt },
        newLeader: { name: next.name, identity: next.identity },
        oldLastLockWriteAt: oldLast?.completed,
        oldStoppedLeadingAt: logTime(old, 'leader election lost'),
        takeoverAt: takeover.completed,
        firstWriteAt: first.completed,
        takeoverMs: takeover.completed - faultAt,
        failoverMs: first.completed - faultAt,
        handoverMs: kind === 'sigterm' && oldLast ? takeover.completed - oldLast.completed : undefined,
      });
      // Keep N candidates, as a Deployment's ReplicaSet (or the kubelet) would.
      while (lab.live().length < n) await lab.startCandidate();
    }
    const report: FailoverReport = {
      kind,
      mode,
      timings: lab.timings,
      candidates: n,
      runs: results,
      summary: {
        failoverMs: stats(results.map((r) => r.failoverMs)),
        takeoverMs: stats(results.map((r) => r.takeoverMs)),
        ...(kind === 'sigterm' ? { handoverMs: stats(results.map((r) => r.handoverMs ?? NaN)) } : {}),
      },
      overlap: lab.overlap(),
    };
    await options.inspect?.(lab, report);
    return report;
  } catch (err) {
    const detail = lab.dump();
    throw Object.assign(err instanceof Error ? err : new Error(String(err)), {
      message: `${err instanceof Error ? err.message : String(err)}\n${detail}`,
    });
  } finally {
    await lab.dispose();
  }
}

/** Gracefully stops every candidate and starts a proxied one first, so it leads. */
async function makeProxiedLeader(lab: ElectionLab, n: number): Promise<void> {
  if (lab.mode === 'leader-for-life') {
    // The lock goes only with its Pod: delete the Pods (the stand-in kubelet kills their processes).
    const core = lab.kc.makeApiClient(k8s.CoreV1Api);
    for (const c of lab.live()) await core.deleteNamespacedPod({ name: c.podName!, namespace: lab.namespace, gracePeriodSeconds: 0 });
    await eventually('the lock to be garbage collected', async () => ((await lab.holder()) === undefined ? true : undefined), {
      timeoutMs: 60_000,
    });
  }
  await Promise.all(lab.live().map((c) => c.proc.stop('SIGTERM')));
  await lab.startCandidates(n, { proxied: true });
}

async function injectFault(lab: ElectionLab, kind: FailoverKind, leader: Candidate): Promise<number> {
  const faultAt = Date.now();
  switch (kind) {
    case 'sigkill':
      leader.proc.child.kill('SIGKILL');
      await leader.proc.exited;
      break;
    case 'sigterm':
      await leader.proc.stop('SIGTERM');
      break;
    case 'partition':
      await leader.proxy!.cut();
      break;
    case 'apiserver-outage':
      await lab.stopApiserver();
      await eventually(`${leader.name} to give up leadership`, () => (leader.exitCode !== undefined ? true : undefined), {
        timeoutMs: 30_000,
      });
      await lab.startApiserver();
      break;
    case 'lfl-evicted':
      // The kubelet kills the containers, then reports the Pod Failed/Evicted.
      leader.proc.child.kill('SIGKILL');
      await leader.proc.exited;
      await lab.evictPod(leader.podName!);
      break;
    case 'lfl-node-notready': {
      // The node drops off the network: its Pod keeps running, unreachable.
      await leader.proxy!.cut();
      const pod = await lab.kc.makeApiClient(k8s.CoreV1Api).readNamespacedPod({ name: leader.podName!, namespace: lab.namespace });
      await lab.markNodeNotReady(pod.spec!.nodeName!);
      break;
    }
  }
  return faultAt;
}

// ---------------------------------------------------------------- results --

/** Where the integration specs leave their measurements for the benchmark report. */
export const FAILOVER_RESULTS_PATH = path.join(repoRoot, 'bench', 'results', 'failover-raw.json');

/** Merges one report into bench/results/failover-raw.json (keyed by kind). */
export function recordFailoverReport(report: FailoverReport, file = FAILOVER_RESULTS_PATH): void {
  mkdirSync(path.dirname(file), { recursive: true });
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // first report
  }
  const { overlap, ...rest } = report;
  all[report.kind] = {
    ...rest,
    recordedAt: new Date().toISOString(),
    overlap: { windows: overlap.windows.length, writesChecked: overlap.writesChecked, violations: overlap.violations.length },
  };
  writeFileSync(file, JSON.stringify(all, null, 2) + '\n');
}
