// The operator's own leader-election timings follow the topology, as
// OpenShift's library-go does: on a SingleReplica control plane (sno) the
// lease is 270 s, renew 240 s, retry 60 s, to cut API load; elsewhere
// client-go's 15/10/2 s. Explicit flags always win. Checked on the log line
// main.ts writes ("msg":"leader election") and on the Lease it creates.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { createNamespace, deleteNamespace, eventually, type Profile } from '../../support/cluster.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';
import { expectHealthy, logLines, useCluster } from './support.js';

interface Case {
  profile: Profile;
  flags: string[];
  topology: 'SingleReplica' | 'HighlyAvailable';
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

const CASES: Case[] = [
  { profile: 'ha', flags: [], topology: 'HighlyAvailable', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
  {
    profile: 'ha',
    flags: ['--leader-election-retry-period=1s'],
    topology: 'HighlyAvailable',
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 1_000,
  },
  { profile: 'sno', flags: [], topology: 'SingleReplica', leaseDurationMs: 270_000, renewDeadlineMs: 240_000, retryPeriodMs: 60_000 },
  {
    profile: 'sno',
    flags: ['--leader-election-lease-duration=300s'],
    topology: 'SingleReplica',
    leaseDurationMs: 300_000,
    renewDeadlineMs: 240_000,
    retryPeriodMs: 60_000,
  },
  {
    profile: 'sno',
    flags: ['--leader-election-lease-duration=20s', '--leader-election-renew-deadline=15s', '--leader-election-retry-period=3s'],
    topology: 'SingleReplica',
    leaseDurationMs: 20_000,
    renewDeadlineMs: 15_000,
    retryPeriodMs: 3_000,
  },
];

describe('topology: leader-election timings follow the control-plane topology', function () {
  for (const c of CASES) {
    const label = c.flags.length > 0 ? c.flags.join(' ') : 'no timing flags';
    it(`${c.profile}, ${label}: ${c.leaseDurationMs / 1000}/${c.renewDeadlineMs / 1000}/${c.retryPeriodMs / 1000} s`, async function () {
      const kc = useCluster(c.profile);
      const ns = await createNamespace(kc, 'topo-le');
      let op: OperatorProcess | undefined;
      try {
        op = await startOperator({
          args: ['--leader-elect', '--leader-election-namespace', ns, ...c.flags],
          // Readiness waits for the lease; the log line comes before it.
          waitReady: false,
        });
        const line = await eventually('the "leader election" log line', () => logLines(op!, 'leader election')[0], { timeoutMs: 30_000 });
        expect(line).to.include({
          mode: 'lease',
          namespace: ns,
          topology: c.topology,
          leaseDurationMs: c.leaseDurationMs,
          renewDeadlineMs: c.renewDeadlineMs,
          retryPeriodMs: c.retryPeriodMs,
        });
        // The Lease it takes carries the same duration.
        const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
        const lease = await eventually(
          'the leader-election Lease',
          async () => {
            const leases = await coordination.listNamespacedLease({ namespace: ns });
            return leases.items.find((l) => l.spec?.holderIdentity);
          },
          { timeoutMs: 30_000 },
        );
        expect(lease.spec?.leaseDurationSeconds).to.equal(c.leaseDurationMs / 1000);
        await eventually('/healthz to answer', async () => {
          await expectHealthy(op!);
          return true;
        });
      } finally {
        await op?.stop();
        await deleteNamespace(kc, ns);
      }
    });
  }

  it('rejects inconsistent explicit timings with a clear error, naming the flags', async function () {
    const kc = useCluster('sno');
    const ns = await createNamespace(kc, 'topo-le');
    try {
      // On sno the renew deadline defaults to 240 s: longer than this lease.
      const op = await startOperator({ args: ['--leader-elect', '--leader-election-namespace', ns, '--leader-election-lease-duration=30s'], waitReady: false });
      const code = await op.exited;
      expect(code, op.output()).to.equal(2);
      expect(op.output()).to.match(/leader-election-renew-deadline/).and.to.match(/leader-election-lease-duration/);
    } finally {
      await deleteNamespace(kc, ns);
    }
  });
});
