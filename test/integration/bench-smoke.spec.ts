// The benchmark harness's smoke size, run as CI runs it: proves that the
// harness works end to end and that its results keep their stable keys.
// It asserts shapes and sane values, never timing thresholds: benchmarks
// measure, they do not judge (the machines are shared and noisy).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { loadKubeConfig, repoRoot } from '../support/cluster.js';

const run = promisify(execFile);
// The harness compiled next to this spec (.build/test/integration → .build/bench).
const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'cli.js');

interface Smoke {
  convergence: Array<Record<string, unknown>>;
  idle: Record<string, unknown>;
  footprint: Array<Record<string, unknown>>;
  failover: Record<string, Record<string, unknown>>;
  apiCost: Array<Record<string, unknown>>;
  churn: Record<string, unknown>;
  date: string;
  commit: string;
  machine: { cores: number; memoryMB: number };
  timeToAvailable: Array<{ n: number; operatorMs: number[]; floorMs: number[] }>;
  floorSweep: Array<{ concurrency: number; n: number; seconds: number; writesPerObject: number; complete: boolean }>;
  operatorStats: Array<{ n: number; reconciles: number; queueAdds: number; enqueuesBySource: Record<string, number> }>;
  peers: Array<{
    name: string;
    command: string;
    convergence: Array<{ n: number; seconds: number; writesPerObject: number; complete: boolean; floorRatio: number | null; saturatedFloorRatio: number | null }>;
    footprint: Array<{ n: number; rssMB: number; cpuSeconds: number }>;
    idle: Record<string, unknown> | null;
    churn: { changes: number; reflected: number } | null;
    stats: Array<{ n: number; reconciles: number; queueAdds: number }>;
  }>;
  goPeerBuildSeconds: number | null;
  runId: string;
}

const isNonNegative = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

describe('benchmark harness (smoke size)', function () {
  // A cold build of the Go peer (bench/peer-go) takes minutes on 2 cores; a warm cache, none.
  this.timeout(1_200_000);
  let out: string;
  let results: Smoke;
  let stderr = '';

  before(async () => {
    out = mkdtempSync(path.join(tmpdir(), 'bench-smoke-'));
    // The smoke run uses whatever cluster the suite runs on (CLUSTER_STATE_DIR, else .cluster).
    const env = { ...process.env, CLUSTER_STATE_DIR: process.env.CLUSTER_STATE_DIR ?? '.cluster' };
    try {
      const res = await run(process.execPath, [cli, '--smoke', '--out', out], {
        cwd: repoRoot,
        env,
        maxBuffer: 64 * 1024 * 1024,
      });
      stderr = res.stderr;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`the smoke run failed: ${e.message}\n${e.stderr ?? ''}`);
    }
    results = JSON.parse(readFileSync(path.join(out, 'smoke.json'), 'utf8')) as Smoke;
  });

  after(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('writes the JSON, the summary and the chart under the smoke name', () => {
    expect(readFileSync(path.join(out, 'smoke.md'), 'utf8')).to.match(/^# Benchmark results \(smoke\)/);
    const svg = readFileSync(path.join(out, 'smoke.svg'), 'utf8');
    expect(svg).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.trim()).to.match(/<\/svg>$/);
  });

  it('reports convergence for N=1 and N=5 against the floor, with the stable keys', () => {
    expect(results.convergence.map((c) => c.n)).to.deep.equal([1, 5]);
    for (const c of results.convergence) {
      expect(c).to.include.all.keys('n', 'seconds', 'floorSeconds', 'ratio', 'saturatedFloorSeconds', 'saturatedRatio', 'p50Ms', 'p90Ms', 'p99Ms');
      expect(c.complete, `N=${String(c.n)} did not converge:\n${stderr}`).to.equal(true);
      for (const key of ['seconds', 'floorSeconds', 'ratio', 'saturatedFloorSeconds', 'saturatedRatio', 'p50Ms', 'p90Ms', 'p99Ms']) expect(isNonNegative(c[key]), `${key} of N=${String(c.n)}`).to.equal(true);
      expect(Number(c.p50Ms)).to.be.at.most(Number(c.p90Ms));
      expect(Number(c.p90Ms)).to.be.at.most(Number(c.p99Ms));
    }
    expect(results.timeToAvailable.find((t) => t.n === 5)?.operatorMs).to.have.length(5);
  });

  // StatefulSet, three Services, the servers ConfigMap, PDB (server-side apply) and one status write.
  const FLOOR_WRITES = 7;

  it('counts API writes per object: the floor makes exactly StatefulSet, three Services, ConfigMap, PDB and status', () => {
    for (const a of results.apiCost) {
      expect(a.floorWritesPerObject).to.equal(FLOOR_WRITES);
      expect(a.writesPerObject).to.be.at.least(FLOOR_WRITES);
      const written = Object.keys(a.writesByResource as Record<string, number>).map((k) => k.split(' ')[1]);
      expect(written, 'the operator writes no Deployment').to.include.members(['statefulsets', 'services', 'configmaps', 'poddisruptionbudgets', 'memcacheds/status']);
      expect(written).to.not.include('deployments');
    }
  });

  it('sweeps the floor over concurrencies and takes the fastest as the saturating floor', () => {
    expect([...new Set(results.floorSweep.map((f) => f.concurrency))].sort((a, b) => a - b)).to.deep.equal([4, 16]);
    for (const c of results.convergence) {
      const sweep = results.floorSweep.filter((f) => f.n === c.n);
      expect(sweep, `sweep at N=${String(c.n)}`).to.have.length(2);
      for (const f of sweep) {
        expect(f.complete, `floor ×${f.concurrency} at N=${f.n}`).to.equal(true);
        // The same writes at every concurrency.
        expect(f.writesPerObject, `floor ×${f.concurrency} at N=${f.n}`).to.equal(FLOOR_WRITES);
      }
      expect(c.saturatedFloorSeconds).to.equal(Math.min(...sweep.map((f) => f.seconds)));
      expect(c.floorSeconds).to.equal(sweep.find((f) => f.concurrency === 4)?.seconds);
    }
  });

  it('reads reconciles and queue adds from the operator\'s /metrics', () => {
    expect(results.operatorStats.map((s) => s.n)).to.deep.equal([1, 5]);
    for (const s of results.operatorStats) {
      expect(s.reconciles, `reconciles at N=${s.n}`).to.be.at.least(s.n);
      expect(s.queueAdds, `queue adds at N=${s.n}`).to.be.at.least(s.reconciles);
      // Every object is enqueued by its own add event, attributed to the Memcached watch.
      expect(s.enqueuesBySource['Memcached/add'], `Memcached adds at N=${s.n}`).to.be.at.least(s.n);
    }
  });

  it('runs the Go peer side by side and reports every table for it', () => {
    const peer = results.peers.find((p) => p.name === 'go-controller-runtime');
    expect(peer, `no go-controller-runtime in peers:\n${stderr}`).to.not.equal(undefined);
    expect(peer!.command).to.match(/peer-go/);
    expect(isNonNegative(results.goPeerBuildSeconds)).to.equal(true);
    expect(peer!.convergence.map((c) => c.n)).to.deep.equal([1, 5]);
    for (const c of peer!.convergence) {
      expect(c.complete, `the peer at N=${c.n} did not converge:\n${stderr}`).to.equal(true);
      // The peer (unchanged): Deployment, two Services, PDB (server-side apply), at least one status write.
      expect(c.writesPerObject, `peer writes at N=${c.n}`).to.be.at.least(5);
      for (const v of [c.seconds, c.floorRatio, c.saturatedFloorRatio]) expect(isNonNegative(v)).to.equal(true);
    }
    expect(peer!.footprint.map((f) => f.n)).to.deep.equal([0, 1, 5]);
    for (const f of peer!.footprint) expect(f.rssMB).to.be.greaterThan(10);
    expect(peer!.idle).to.include.all.keys('writes', 'requestsPerMinute');
    expect(peer!.churn?.changes).to.be.greaterThan(0);
    expect(peer!.churn?.reflected).to.equal(peer!.churn?.changes);
    // controller-runtime's own metrics, scraped as ours are.
    expect(peer!.stats.map((s) => s.n)).to.deep.equal([1, 5]);
    for (const s of peer!.stats) expect(s.reconciles, `peer reconciles at N=${s.n}`).to.be.at.least(s.n);
  });

  it('has the Go peer make the same Services and PDB as the operator; the operator adds the StatefulSet, <name>-servers and its ConfigMap where the peer has a Deployment', async () => {
    const kc = loadKubeConfig();
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const policy = kc.makeApiClient(k8s.PolicyV1Api);
    // What both choose; what the apiserver, the writer's identity or the uid adds is left out.
    const strip = (o: { metadata?: k8s.V1ObjectMeta; spec?: object }): unknown => {
      const spec = { ...(o.spec as Record<string, unknown>) };
      // An allocated ClusterIP differs; the headless Service's None is chosen.
      if (spec.clusterIP !== 'None') {
        delete spec.clusterIP;
        delete spec.clusterIPs;
      }
      return {
        name: o.metadata?.name,
        labels: o.metadata?.labels,
        owner: o.metadata?.ownerReferences?.map((r) => ({ ...r, uid: undefined })),
        spec,
      };
    };
    const shared = async (namespace: string): Promise<unknown[]> => [
      strip(await core.readNamespacedService({ name: 'mc-00000', namespace })),
      strip(await core.readNamespacedService({ name: 'mc-00000-headless', namespace })),
      strip(await policy.readNamespacedPodDisruptionBudget({ name: 'mc-00000', namespace })),
    ];
    const oursNs = `bench-${results.runId}-op-1`;
    const peerNs = `bench-${results.runId}-peer-1`;
    expect(await shared(peerNs)).to.deep.equal(await shared(oursNs));
    // The workloads differ by design (the Go peer is not changed): count them, per kind.
    const workloads = async (namespace: string): Promise<string[]> => {
      const [d, s] = await Promise.all([apps.listNamespacedDeployment({ namespace }), apps.listNamespacedStatefulSet({ namespace })]);
      return [...d.items.map((o) => `Deployment/${o.metadata?.name}`), ...s.items.map((o) => `StatefulSet/${o.metadata?.name}`)];
    };
    expect(await workloads(oursNs)).to.deep.equal(['StatefulSet/mc-00000']);
    expect(await workloads(peerNs)).to.deep.equal(['Deployment/mc-00000']);
    const sts = await apps.readNamespacedStatefulSet({ name: 'mc-00000', namespace: oursNs });
    const peer = await apps.readNamespacedDeployment({ name: 'mc-00000', namespace: peerNs });
    expect(sts.spec?.replicas).to.equal(peer.spec?.replicas);
    expect(sts.spec?.selector).to.deep.equal(peer.spec?.selector);
    expect(sts.spec?.serviceName).to.equal('mc-00000-servers');
    expect((await core.readNamespacedService({ name: 'mc-00000-servers', namespace: oursNs })).spec?.publishNotReadyAddresses).to.equal(true);
    const cm = await core.readNamespacedConfigMap({ name: 'mc-00000-servers', namespace: oursNs });
    expect(cm.data?.servers?.split('\n').filter(Boolean)).to.have.length(sts.spec!.replicas!);
  });

  it('reports idle cost, footprint, churn and failover with the stable keys', () => {
    expect(results.idle).to.include.all.keys('writes', 'requestsPerMinute');
    expect(isNonNegative(results.idle.writes)).to.equal(true);
    expect(results.footprint.map((f) => f.n)).to.deep.equal([0, 1, 5]);
    for (const f of results.footprint) {
      expect(f.rssMB).to.be.greaterThan(10);
      expect(isNonNegative(f.cpuSeconds)).to.equal(true);
    }
    expect(results.churn.changes).to.be.greaterThan(0);
    expect(results.churn.reflected).to.equal(results.churn.changes);
    expect(results.failover).to.have.all.keys('sigkill', 'sigterm', 'partition');
    for (const [kind, f] of Object.entries(results.failover)) {
      expect(f, kind).to.include.all.keys('minMs', 'medianMs', 'maxMs');
      expect(f.runs, `${kind}: ${String(f.error)}`).to.equal(1);
      expect((f.minMs as number) > 0 && (f.minMs as number) <= (f.maxMs as number), kind).to.equal(true);
    }
  });

  it('records when, on what and on which commit it ran', () => {
    expect(Date.parse(results.date)).to.be.greaterThan(0);
    expect(results.commit).to.match(/^[0-9a-f]{40}/);
    expect(results.machine.cores).to.be.greaterThan(0);
    expect(results.machine.memoryMB).to.be.greaterThan(0);
  });
});
