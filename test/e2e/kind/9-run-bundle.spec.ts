// operator-sdk run bundle against the bed's registry, as the README shows it:
// operator-sdk builds a catalog for the bundle (served by the opm image) and
// subscribes to it; the CSV must reach Succeeded, the operator run from the
// pushed image, and a Memcached serve. Needs the bundle 7-olm publishes.
import { expect } from 'chai';
import path from 'node:path';
import { repoRoot } from '../../support/cluster.js';
import { deleteNamespaces, kRun, restrictedNamespace, run } from '../support.js';
import { applyMemcached, kindCluster, memcachedSession, recordResult, startClientPod } from './support.js';
import { Memcacheds } from '../../support/memcached.js';
import { PACKAGE, bundleImage, csvSucceeded, operatorImage, operatorPodsRunning, publishBundles, registry } from './olm.js';
import { clusterKubeconfig } from '../support.js';

describe('kind: operator-sdk run bundle from the bed\'s registry', function () {
  this.timeout(900_000);
  let ns = '';

  after(() => {
    if (!ns) return;
    const sdk = path.join(run(path.join(repoRoot, 'test', 'cluster', 'build-olm-tools.sh'), ['--dir']).stdout.trim(), 'operator-sdk');
    run(sdk, ['cleanup', PACKAGE, '-n', ns, '--kubeconfig', clusterKubeconfig(), '--timeout', '2m']);
    deleteNamespaces(ns);
  });

  it('installs the bundle: CSV Succeeded, the operator pod from the real image, a Memcached serves', async () => {
    const cluster = kindCluster();
    // Publishes (idempotently) what 7-olm publishes, so this spec stands alone.
    publishBundles(['0.1.0']);
    ns = restrictedNamespace('olm-run-bundle');
    const sdk = path.join(run(path.join(repoRoot, 'test', 'cluster', 'build-olm-tools.sh'), ['--dir']).stdout.trim(), 'operator-sdk');
    const started = Date.now();
    const r = run(sdk, [
      'run', 'bundle', bundleImage('0.1.0'), '-n', ns, '--kubeconfig', clusterKubeconfig(),
      '--index-image', `${registry()}/opm:v1.61.0`,
      '--decompression-image', `${registry()}/debian:bookworm`,
      '--security-context-config', 'restricted', '--use-http', '--timeout', '5m',
    ]);
    expect(r.status, `operator-sdk run bundle failed:\n${r.stdout}\n${r.stderr}\n${kRun(['get', 'pods,csv,subscription,installplan', '-n', ns, '-o', 'wide']).stdout}`).to.equal(0);
    const csv = await csvSucceeded(ns, `${PACKAGE}.v0.1.0`);
    await operatorPodsRunning(cluster, ns, operatorImage('0.1.0'));
    applyMemcached(ns, 'sample', { memoryLimitMB: 64 });
    const client = await startClientPod(cluster, ns);
    await new Memcacheds(cluster.kc, ns).waitAvailable('sample', 300_000);
    const s = memcachedSession(ns, client, `sample.${ns}.svc`, 'run-bundle', 'yes');
    expect(s.value, s.raw).to.equal('yes');
    recordResult('olm.runBundle', { csv: csv.metadata.name, ms: Date.now() - started });
  });
});
