// The benchmark against another operator that puts a finalizer on each
// Memcached, as every Operator SDK scaffold does (bench-finalizer-contender.ts,
// run as --operator-cmd). The harness stops each contender before deleting
// its namespace, and a stopped contender can no longer take its finalizers
// off: the run must finish anyway, with the namespace gone, instead of
// waiting on a deletion that cannot complete.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { GROUP, LEGACY_FINALIZER, PLURAL, VERSION } from '../../src/api/types.js';
import { deleteNamespace, loadKubeConfig, repoRoot } from '../support/cluster.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
// The harness compiled next to this spec (.build/test/integration → .build/bench).
const cli = path.join(here, '..', '..', 'bench', 'cli.js');
const contender = path.join(here, 'bench-finalizer-contender.js');
const NAME = 'finalizer-contender';

interface Results {
  runId: string;
  peers: Array<{ name: string; convergence: Array<{ n: number; complete: boolean }>; footprint: Array<{ n: number }> }>;
  notes: string[];
}

describe('benchmark harness against a contender that puts finalizers on its Memcacheds', function () {
  this.timeout(900_000);
  let out: string;
  let results: Results;
  let stderr = '';
  const kc = loadKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const namespace = (n: number): string => `bench-${results.runId}-other-${n}`;

  before(async () => {
    out = mkdtempSync(path.join(tmpdir(), 'bench-finalizers-'));
    const env = { ...process.env, CLUSTER_STATE_DIR: process.env.CLUSTER_STATE_DIR ?? '.cluster' };
    // N=1 namespaces stay after the run; N=3 is deleted once the contender has stopped.
    const args = ['--smoke', '--sizes', '1,3', '--no-go-peer', '--floor-sweep', '4', '--failover-runs', '0', '--out', out];
    args.push('--operator-cmd', `${process.execPath} ${contender}`, '--operator-name', NAME);
    try {
      const res = await run(process.execPath, [cli, ...args], { cwd: repoRoot, env, maxBuffer: 64 * 1024 * 1024, timeout: 840_000 });
      stderr = res.stderr;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`the run failed: ${e.message}\n${e.stderr ?? ''}`);
    }
    results = JSON.parse(readFileSync(path.join(out, 'smoke.json'), 'utf8')) as Results;
  });

  after(async () => {
    if (out) rmSync(out, { recursive: true, force: true });
    if (!results) return;
    // The kept N=1 namespace still holds the stopped contender's finalizer: take it off so the namespace can go.
    await custom
      .patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace: namespace(1), plural: PLURAL, name: 'mc-00000', body: { metadata: { finalizers: null } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      )
      .catch(() => undefined);
    await deleteNamespace(kc, namespace(1));
  });

  it('measures the contender at every N and finishes', () => {
    const peer = results.peers.find((p) => p.name === NAME);
    expect(peer, `no ${NAME} in peers:\n${stderr}`).to.not.equal(undefined);
    expect(peer!.convergence.map((c) => [c.n, c.complete])).to.deep.equal([
      [1, true],
      [3, true],
    ]);
    expect(results.notes.filter((n) => n.includes('still terminating'))).to.deep.equal([]);
  });

  it('left its finalizer on every Memcached it saw (the kept N=1 namespace shows it)', async () => {
    const mc = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: namespace(1), plural: PLURAL, name: 'mc-00000' })) as {
      metadata?: { finalizers?: string[] };
    };
    expect(mc.metadata?.finalizers).to.include(LEGACY_FINALIZER);
  });

  it('took the stopped contender\'s finalizers off and deleted its namespace', async () => {
    expect(stderr).to.include(`namespace ${namespace(3)}: took the finalizers off 3 Memcacheds`);
    const read = await core.readNamespace({ name: namespace(3) }).then(
      (ns) => `still there, ${ns.status?.phase ?? 'unknown phase'}`,
      (err: unknown) => (err instanceof k8s.ApiException ? err.code : err),
    );
    expect(read).to.equal(404);
  });

  it('says in its last line what became of the cluster', () => {
    const last = stderr.trimEnd().split('\n').pop() ?? '';
    expect(last).to.match(/cluster: left running in \S+ \(it was running before this run; about 1 GB of memory\): stop it with CLUSTER_STATE_DIR=\S+ make cluster-down$/);
  });
});
