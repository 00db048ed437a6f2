// Failover timings for the leader-election fault scenarios, measured the way
// a user feels them: from the fault to the moment a new leader has written a
// change made at the time of the fault.
//
// Two operator processes run with --leader-elect and short timings, each
// talking to the apiserver through its own TCP proxy (so one of them can be
// cut off). A run: find the leader from the Lease, inject the fault
// (SIGKILL, SIGTERM, or a partition: the leader's proxy drops every
// connection and black-holes new ones), at once change spec.size of a
// Memcached, and wait until its Deployment has the new replicas written by
// the other process (the cache.example.com/last-writer annotation names it).
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../src/api/types.js';
import { LAST_WRITER_ANNOTATION } from '../src/memcached/writer.js';
import type { OperatorProcess } from '../test/support/operator.js';
import { launchOperator } from './operator.js';
import { apiserverUrl, kubeconfigWithServer, usersDir } from './env.js';

export type FaultKind = 'sigkill' | 'sigterm' | 'partition';

/** A TCP pass-through to the apiserver that can be cut. */
export class TcpProxy {
  private readonly pairs = new Set<Socket>();
  private readonly held = new Set<Socket>();
  private partitioned = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const ref: { proxy?: TcpProxy } = {};
    const server = createServer((client) => ref.proxy!.accept(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    ref.proxy = new TcpProxy(server, typeof address === 'object' && address ? address.port : 0);
    return ref.proxy;
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    client.on('error', () => undefined);
    if (this.partitioned) {
      // Packets go nowhere: the connection is never answered.
      this.held.add(client);
      client.on('close', () => this.held.delete(client));
      return;
    }
    const upstream = connect(target.port, target.host);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    this.pairs.add(client);
    this.pairs.add(upstream);
    client.on('close', () => this.pairs.delete(client));
    upstream.on('close', () => this.pairs.delete(upstream));
  }

  /** Cuts every open connection and black-holes new ones. */
  partition(): void {
    this.partitioned = true;
    for (const s of this.pairs) s.destroy();
  }

  async close(): Promise<void> {
    this.partitioned = true;
    for (const s of [...this.pairs, ...this.held]) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface Candidate {
  op: OperatorProcess;
  proxy: TcpProxy;
  identity: string;
}

export interface FailoverContext {
  kc: k8s.KubeConfig;
  operatorKubeconfig: string;
  log: (msg: string) => void;
  /** Lease timings passed to both candidates. */
  leaseDuration?: string;
  renewDeadline?: string;
  retryPeriod?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`failover: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Runs `runs` failovers of one kind; returns each one's time in ms. */
export async function measureFailoverKind(kind: FaultKind, runs: number, ctx: FailoverContext): Promise<number[]> {
  const core = ctx.kc.makeApiClient(k8s.CoreV1Api);
  const custom = ctx.kc.makeApiClient(k8s.CustomObjectsApi);
  const apps = ctx.kc.makeApiClient(k8s.AppsV1Api);
  const leases = ctx.kc.makeApiClient(k8s.CoordinationV1Api);
  const ns = (await core.createNamespace({ body: { metadata: { generateName: `bench-failover-${kind}-` } } })).metadata!.name!;
  const leaseId = 'memcached-bench-failover';
  const name = 'failover';
  let size = 1;
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURAL,
    body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec: { size } },
  });
  const api = apiserverUrl();
  const target = { host: api.hostname, port: Number(api.port || 443) };
  const candidates: Candidate[] = [];

  const startCandidate = async (): Promise<Candidate> => {
    const proxy = await TcpProxy.start(target);
    const kubeconfig = kubeconfigWithServer(ctx.operatorKubeconfig, `https://127.0.0.1:${proxy.port}`, path.join(usersDir, `failover-${proxy.port}.kubeconfig`));
    const op = await launchOperator({
      kubeconfig,
      args: [
        '--leader-elect',
        `--leader-election-namespace=${ns}`,
        `--leader-election-id=${leaseId}`,
        `--leader-election-lease-duration=${ctx.leaseDuration ?? '4s'}`,
        `--leader-election-renew-deadline=${ctx.renewDeadline ?? '3s'}`,
        `--leader-election-retry-period=${ctx.retryPeriod ?? '500ms'}`,
        '--max-concurrent-reconciles=4',
      ],
      env: { WATCH_NAMESPACE: ns },
    });
    const started = op.logs().find((l) => l.msg === 'starting memcached-operator');
    const identity = typeof started?.identity === 'string' ? started.identity : '';
    if (!identity) throw new Error(`failover: cannot read the operator's identity from its log:\n${op.output()}`);
    return { op, proxy, identity };
  };

  const holder = async (): Promise<string | undefined> => {
    const lease = await leases.readNamespacedLease({ name: leaseId, namespace: ns });
    return lease.spec?.holderIdentity || undefined;
  };

  const deployment = (): Promise<k8s.V1Deployment> => apps.readNamespacedDeployment({ name, namespace: ns });

  const samples: number[] = [];
  try {
    candidates.push(await startCandidate(), await startCandidate());
    for (let run = 0; run < runs; run++) {
      while (candidates.length < 2) candidates.push(await startCandidate());
      const leader = await until(
        'a leader among the candidates',
        async () => {
          const h = await holder();
          return candidates.find((c) => c.identity === h);
        },
        60_000,
        100,
      );
      await until('the Deployment to match the spec', async () => ((await deployment()).spec?.replicas === size ? true : undefined), 60_000, 100);
      // Let the standby settle (caches synced, waiting on the lease).
      await sleep(1000);
      const standby = candidates.find((c) => c !== leader)!;

      const t0 = Date.now();
      if (kind === 'sigkill') leader.op.child.kill('SIGKILL');
      else if (kind === 'sigterm') leader.op.child.kill('SIGTERM');
      else leader.proxy.partition();
      size = size === 1 ? 2 : 1;
      await custom.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, name, body: { spec: { size } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await until(
        'the new leader to write the change',
        async () => {
          const d = await deployment();
          return d.spec?.replicas === size && d.metadata?.annotations?.[LAST_WRITER_ANNOTATION] === standby.identity ? true : undefined;
        },
        120_000,
        25,
      );
      const ms = Date.now() - t0;
      samples.push(ms);
      ctx.log(`failover ${kind} run ${run + 1}/${runs}: ${ms} ms`);

      // The old leader is gone (killed, stopped) or exits by itself once it
      // sees it lost the lease (partition); SIGKILL it if it lingers.
      const exited = await Promise.race([leader.op.exited.then(() => true), sleep(30_000).then(() => false)]);
      if (!exited) {
        ctx.log(`failover ${kind}: old leader still running 30 s after the fault; killing it`);
        leader.op.child.kill('SIGKILL');
        await leader.op.exited;
      }
      await leader.proxy.close();
      candidates.splice(candidates.indexOf(leader), 1);
    }
  } finally {
    for (const c of candidates) {
      await c.op.stop('SIGTERM');
      await c.proxy.close();
    }
    // With no operator left to remove it, drop the finalizer so the namespace can go.
    await custom
      .patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, name, body: { metadata: { finalizers: null } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      )
      .catch(() => undefined);
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  }
  return samples;
}
