// TLS, mutual TLS, the plaintext port, authentication and certificate
// rotation on real pods, with real clients: openssl s_client on
// the host through kubectl port-forward, and Node's tls.connect in a client
// pod that runs the operator's image (it has node; the memcached image has no
// TLS client). Certificates come from throw-away test CAs (test/support/certs.ts).
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { eventually, repoRoot } from '../../support/cluster.js';
import { condition, Memcacheds } from '../../support/memcached.js';
import { CertificateAuthority, type Issued } from '../../support/certs.js';
import { isPodReady, type Cluster } from '../../integration/topology/support.js';
import { IMG, clusterKubeconfig, deleteNamespaces, k, kRun, kRunAsync, kubectlBin, restrictedNamespace } from '../support.js';
import { applyMemcached, deployOperator, eventsAbout, kindCluster, ReadySampler, recordResult } from './support.js';

/**
 * The in-pod client: one JSON argument, one JSON line out. mode "once" opens
 * one connection per host and runs the payload; mode "loop" opens a new
 * connection to host every intervalMs, each setting and getting its own
 * key, until untilSerial has been served 50 times in a row and then for
 * settleMs more (or durationMs passed), and reports every attempt.
 */
const CLIENT = String.raw`
const tls = require('node:tls'), net = require('node:net');
const o = JSON.parse(process.argv[1]);
function session(host, payload) {
  return new Promise((resolve) => {
    const openedAt = Date.now();
    const opts = { host, port: o.port, ca: o.ca, servername: o.servername, rejectUnauthorized: o.ca !== undefined };
    if (o.cert) Object.assign(opts, { cert: o.cert, key: o.key });
    const s = o.tls ? tls.connect(opts) : net.connect({ host, port: o.port });
    let reply = '', serial, done = false;
    const end = (error) => { if (done) return; done = true; clearTimeout(t); s.destroy(); resolve({ host, openedAt, serial, reply, error }); };
    const t = setTimeout(() => end('timeout'), 5000);
    s.on(o.tls ? 'secureConnect' : 'connect', () => { if (o.tls) serial = s.getPeerCertificate().serialNumber; s.write(payload); });
    s.on('data', (d) => { reply += d.toString('latin1'); if (/END\r\n$/.test(reply) || /ERROR/.test(reply)) end(); });
    s.on('error', (e) => end(e.code || e.message));
    s.on('close', () => end(reply ? undefined : 'closed'));
  });
}
const auth = o.auth ? 'set auth 0 0 ' + Buffer.byteLength(o.auth) + '\r\n' + o.auth + '\r\n' : '';
(async () => {
  if (o.mode === 'once') {
    const out = [];
    for (const h of o.hosts) out.push(await session(h, auth + o.payload));
    console.log(JSON.stringify(out));
    return;
  }
  const out = [];
  const stop = Date.now() + o.durationMs;
  let seen, streak = 0;
  for (let i = 0; Date.now() < stop && !(seen && Date.now() - seen > o.settleMs); i++) {
    const v = 'v' + i;
    const r = await session(o.hosts[0], auth + 'set loop' + i + ' 0 0 ' + v.length + '\r\n' + v + '\r\nget loop' + i + '\r\n');
    r.ok = !r.error && r.reply.includes('VALUE loop' + i + ' 0 ' + v.length + '\r\n' + v + '\r\nEND');
    delete r.reply;
    // 50 new-serial answers in a row through the Service: every pod has it (very likely); then settle.
    streak = r.serial && r.serial.toUpperCase() === o.untilSerial ? streak + 1 : 0;
    if (streak >= 50 && seen === undefined) seen = Date.now();
    out.push(r);
    await new Promise((res) => setTimeout(res, o.intervalMs));
  }
  console.log(JSON.stringify(out));
})();
`;

interface SessionOut {
  host: string;
  openedAt: number;
  serial?: string;
  reply: string;
  error?: string;
  ok?: boolean;
}

interface ClientOptions {
  hosts: string[];
  port: number;
  tls?: boolean;
  ca?: string;
  servername?: string;
  cert?: string;
  key?: string;
  auth?: string;
  payload?: string;
  mode?: 'once' | 'loop';
  durationMs?: number;
  intervalMs?: number;
  untilSerial?: string;
  settleMs?: number;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('kind: TLS, mutual TLS, the plaintext port, auth and rotation with real clients', function () {
  this.timeout(900_000);
  let cluster: Cluster;
  let ns = '';
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let serving: Issued;
  let client: Issued;
  let stranger: Issued;
  const CLIENT_POD = 'tls-client';
  const tlsName = 'cache';
  const mtlsName = 'cache-mtls';
  const authName = 'cache-auth';
  let servername = '';
  const port = 11211;
  const plaintextPort = 11212;

  const exec = (o: ClientOptions): SessionOut[] => {
    const r = kRun(['exec', '-n', ns, CLIENT_POD, '--', '/nodejs/bin/node', '-e', CLIENT, JSON.stringify({ mode: 'once', ...o })]);
    if (r.status !== 0) throw new Error(`client failed (${r.status}): ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout) as SessionOut[];
  };
  const execAsync = async (o: ClientOptions): Promise<SessionOut[]> => {
    const r = await kRunAsync(['exec', '-n', ns, CLIENT_POD, '--', '/nodejs/bin/node', '-e', CLIENT, JSON.stringify(o)]);
    if (r.status !== 0) throw new Error(`client failed (${r.status}): ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout) as SessionOut[];
  };

  function applyTlsSecret(name: string, cert: string, key: string): void {
    k(['apply', '--server-side', '--force-conflicts', '-n', ns, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(cert), 'tls.key': b64(key) } }));
  }

  async function podsOf(name: string): Promise<k8s.V1Pod[]> {
    return (await cluster.pods(ns, name)).filter((p) => !p.metadata?.deletionTimestamp);
  }

  async function podIps(name: string): Promise<string[]> {
    return (await podsOf(name)).filter(isPodReady).map((p) => p.status!.podIP!);
  }

  /** Pod uid → restart count, and the StatefulSet's generation: what "untouched" means. */
  async function fingerprint(name: string): Promise<string> {
    const pods = await podsOf(name);
    const d = await cluster.apps.readNamespacedStatefulSet({ namespace: ns, name });
    const podsPart = pods.map((p) => `${p.metadata!.uid}:${p.status?.containerStatuses?.[0]?.restartCount ?? 0}`).sort().join(',');
    return `generation=${d.metadata?.generation} template=${JSON.stringify(d.spec?.template)} pods=${podsPart}`;
  }

  before(async () => {
    cluster = kindCluster();
    await deployOperator(cluster);
    ns = restrictedNamespace('e2e-tls');
    servername = `${tlsName}.${ns}.svc`;
    ca = new CertificateAuthority('e2e-cache-ca');
    otherCa = new CertificateAuthority('e2e-stranger-ca');
    serving = ca.issue(servername);
    client = ca.issue('app');
    stranger = otherCa.issue('app');
    applyTlsSecret('cache-tls', serving.cert, serving.key);
    k(['create', 'secret', 'generic', 'client-ca', '-n', ns, `--from-literal=ca.crt=${ca.cert}`]);
    k(['create', 'secret', 'generic', 'users', '-n', ns, '--from-literal=authfile=app:right-password\n']);
    applyMemcached(ns, tlsName, { size: 2, memoryLimitMB: 64, tls: { enabled: true, secretName: 'cache-tls' } });
    applyMemcached(ns, mtlsName, {
      size: 1,
      memoryLimitMB: 64,
      tls: { enabled: true, secretName: 'cache-tls', clientCASecretName: 'client-ca', clientCertificates: 'Require', plaintextPort },
      auth: { secretName: 'users' },
    });
    k(['create', 'secret', 'generic', 'auth-users', '-n', ns, '--from-literal=authfile=app:first-password\n']);
    applyMemcached(ns, authName, { size: 2, memoryLimitMB: 64, auth: { secretName: 'auth-users' } });
    // A client pod from the operator's image: node with tls.connect, nothing else.
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: CLIENT_POD, labels: { 'app.kubernetes.io/name': 'e2e-tls-client' } },
      spec: {
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 1,
        securityContext: { runAsNonRoot: true, runAsUser: 1001, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'client',
            image: IMG,
            imagePullPolicy: 'IfNotPresent',
            command: ['/nodejs/bin/node', '-e', 'setInterval(() => {}, 1 << 30)'],
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    };
    k(['apply', '--server-side', '-n', ns, '-f', '-'], JSON.stringify(pod));
    await eventually(`client pod Ready`, async () => (isPodReady(await cluster.core.readNamespacedPod({ namespace: ns, name: CLIENT_POD })) ? true : undefined), { timeoutMs: 120_000, intervalMs: 500 });
    const mcs = new Memcacheds(cluster.kc, ns);
    await mcs.waitAvailable(tlsName, 240_000);
    await mcs.waitAvailable(mtlsName, 240_000);
    await mcs.waitAvailable(authName, 240_000);
  });

  after(() => {
    if (ns) deleteNamespaces(ns);
    ca?.dispose();
    otherCa?.dispose();
  });

  it('TLS on: status shows the certificate; a plaintext connection to the TLS port fails; set/get over TLS works (Node tls.connect and openssl s_client)', async () => {
    const mc = await new Memcacheds(cluster.kc, ns).get(tlsName);
    expect(mc?.status?.tls).to.include({ secretName: 'cache-tls', serialNumber: serving.serial });
    // The test CA issues two-day certificates: inside the 14-day warning.
    expect(condition(mc, 'CertificateExpiring')).to.include({ status: 'True', reason: 'CertificateExpiresSoon' });
    expect(condition(mc, 'CertificateExpiring')?.message).to.include(`serial ${serving.serial}`);
    const warned = await eventsAbout(cluster, ns, 'Memcached', tlsName);
    expect(warned.some((e) => e.type === 'Warning' && e.reason === 'CertificateExpiresSoon'), 'a Warning Event').to.equal(true);
    await eventually('CertificateServed True', async () => (condition(await new Memcacheds(cluster.kc, ns).get(tlsName), 'CertificateServed')?.status === 'True' ? true : undefined), { timeoutMs: 60_000 });

    const ips = await podIps(tlsName);
    const plain = exec({ hosts: ips, port, payload: 'get k\r\n' });
    for (const r of plain) expect(r.reply, `${r.host}: plaintext must get no answer`).to.not.match(/END|VALUE/);

    const overTls = exec({ hosts: [servername, ...ips], port, tls: true, ca: ca.cert, servername, payload: 'set k 0 0 2\r\nhi\r\nget k\r\n' });
    for (const r of overTls) {
      expect(r.error, r.host).to.equal(undefined);
      expect(r.reply, r.host).to.include('STORED\r\nVALUE k 0 2\r\nhi\r\nEND');
      expect(r.serial?.toUpperCase(), r.host).to.equal(serving.serial);
    }

    // openssl s_client from the host, through a port-forward to one pod.
    const [pod] = (await podsOf(tlsName)).filter(isPodReady);
    await withPortForward(ns, pod.metadata!.name!, port, (local) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'e2e-tls-'));
      try {
        writeFileSync(path.join(dir, 'ca.crt'), ca.cert);
        const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${local}`, '-servername', servername, '-verify_hostname', servername, '-CAfile', path.join(dir, 'ca.crt'), '-verify_return_error', '-quiet'], { input: 'version\r\nquit\r\n', encoding: 'utf8', timeout: 20_000 });
        expect(r.stdout, r.stderr).to.match(/^VERSION 1\.6\./m);
        writeFileSync(path.join(dir, 'other.crt'), otherCa.cert);
        const wrong = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${local}`, '-CAfile', path.join(dir, 'other.crt'), '-verify_return_error', '-quiet'], { input: 'version\r\nquit\r\n', encoding: 'utf8', timeout: 20_000 });
        expect(wrong.stdout, 'a client trusting another CA must not get an answer').to.not.match(/VERSION/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('the plaintext port is closed when not enabled', async () => {
    for (const r of exec({ hosts: await podIps(tlsName), port: plaintextPort, payload: 'version\r\n' })) {
      expect(r.error, r.host).to.equal('ECONNREFUSED');
    }
  });

  it('mutual TLS with auth: no client certificate and another CA\'s are refused, the right one works; the wrong password is refused; the plaintext port works', async () => {
    const ips = await podIps(mtlsName);
    const base = { hosts: ips, port, tls: true, ca: ca.cert, servername, auth: 'app right-password', payload: 'set m 0 0 1\r\nx\r\nget m\r\n' };
    for (const r of exec(base)) expect(r.reply, `no client certificate: ${r.host}`).to.not.include('VALUE');
    for (const r of exec({ ...base, cert: stranger.cert, key: stranger.key })) expect(r.reply, `another CA: ${r.host}`).to.not.include('VALUE');
    for (const r of exec({ ...base, cert: client.cert, key: client.key })) expect(r.reply, `right certificate: ${r.host}`).to.include('STORED\r\nSTORED\r\nVALUE m 0 1\r\nx\r\nEND');
    for (const r of exec({ ...base, cert: client.cert, key: client.key, auth: 'app wrong' })) expect(r.reply, `wrong password: ${r.host}`).to.match(/^CLIENT_ERROR/);
    for (const r of exec({ hosts: ips, port: plaintextPort, auth: 'app right-password', payload: 'get m\r\n' })) expect(r.reply, `plaintext port: ${r.host}`).to.equal('STORED\r\nVALUE m 0 1\r\nx\r\nEND\r\n');
    for (const r of exec({ hosts: ips, port: plaintextPort, auth: 'app wrong', payload: 'get m\r\n' })) expect(r.reply, `plaintext, wrong password: ${r.host}`).to.match(/^CLIENT_ERROR/);
  });

  it('the shipped NetworkPolicy (config/network-policy/memcached-namespace-only.yaml) admits the namespace\'s clients; the rotation below runs with it in place', () => {
    k(['apply', '-n', ns, '-f', path.join(repoRoot, 'config', 'network-policy', 'memcached-namespace-only.yaml')]);
    expect(k(['get', 'networkpolicy', '-n', ns, 'memcached-namespace-only', '-o', 'name'])).to.include('memcached-namespace-only');
    // (The kind bed's bridge CNI does not enforce NetworkPolicy, so refusals are not proven here.)
    const r = exec({ hosts: [servername], port, tls: true, ca: ca.cert, servername, payload: 'set np 0 0 1\r\n1\r\nget np\r\n' });
    expect(r[0].reply).to.include('VALUE np 0 1');
  });

  it('rotation while a client loops: the new serial everywhere within a measured bound, no restart, no failed request, items kept', async () => {
    const ips = await podIps(tlsName);
    const tlsTo = { port, tls: true, ca: ca.cert, servername };
    for (const ip of ips) expect(exec({ ...tlsTo, hosts: [ip], payload: `set kept-${ip} 0 0 6\r\nbefore\r\nget kept-${ip}\r\n` })[0].reply).to.include('VALUE');
    const before = await fingerprint(tlsName);

    const next = ca.issue(servername);
    const loop = execAsync({ ...tlsTo, hosts: [servername], mode: 'loop', durationMs: 360_000, intervalMs: 100, untilSerial: next.serial, settleMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 3000)); // some requests before the rotation
    const rotatedAt = Date.now();
    applyTlsSecret('cache-tls', next.cert, next.key);

    // Measured independently of the operator: a handshake with every pod every 2 s.
    const servedEverywhereAt = await eventually(
      `every pod to serve serial ${next.serial}`,
      () => {
        const serials = exec({ ...tlsTo, hosts: ips, payload: 'version\r\n' }).map((r) => r.serial?.toUpperCase());
        if (serials.every((s) => s === next.serial)) return Date.now();
        throw new Error(`served: ${serials.join(', ')}`);
      },
      { timeoutMs: 300_000, intervalMs: 2000 },
    );
    const rotationMs = servedEverywhereAt - rotatedAt;
    const mc = await eventually('status.tls.servedSerialNumber', async () => {
      const m = await new Memcacheds(cluster.kc, ns).get(tlsName);
      return m?.status?.tls?.servedSerialNumber === next.serial ? m : undefined;
    }, { timeoutMs: 60_000 });
    expect(condition(mc, 'CertificateServed')).to.include({ status: 'True' });
    const events = await eventsAbout(cluster, ns, 'Memcached', tlsName);
    expect(events.map((e) => e.reason)).to.include('CertificateRotated');

    const attempts = await loop;
    const failed = attempts.filter((a) => !a.ok);
    const failedAfter = failed.filter((a) => a.openedAt >= rotatedAt);
    const afterRotation = attempts.filter((a) => a.openedAt >= servedEverywhereAt);
    recordResult('tlsRotation', {
      rotationMs,
      requests: attempts.length,
      failedRequests: failed.length,
      failedOnConnectionsOpenedAfterRotation: failedAfter.length,
      requestsServedNewSerial: attempts.filter((a) => a.serial?.toUpperCase() === next.serial).length,
      pods: ips.length,
    });
    expect(failed, JSON.stringify(failed.slice(0, 5))).to.deep.equal([]);
    expect(afterRotation.length, 'the loop ran past the rotation').to.be.greaterThan(0);
    expect(afterRotation.every((a) => a.serial?.toUpperCase() === next.serial)).to.equal(true);
    expect(await fingerprint(tlsName), 'no pod restarted, no rollout').to.equal(before);
    for (const ip of ips) expect(exec({ ...tlsTo, hosts: [ip], payload: `get kept-${ip}\r\n` })[0].reply).to.equal(`VALUE kept-${ip} 0 6\r\nbefore\r\nEND\r\n`);
    serving = next;
  });

  it('a changed authfile restarts each server (memcached reads it only at start) with a Ready pod throughout; the new password works, the old is refused', async () => {
    const login = (password: string, hosts: string[]) => exec({ hosts, port, auth: `app ${password}`, payload: 'get k\r\n' });
    for (const r of login('first-password', await podIps(authName))) expect(r.reply, r.host).to.equal('STORED\r\nEND\r\n');
    const restarts = new Map((await podsOf(authName)).map((p) => [p.metadata!.uid!, p.status?.containerStatuses?.[0]?.restartCount ?? 0]));
    const sampler = new ReadySampler(cluster, ns, authName);
    sampler.start();
    const start = new Date();
    k(['apply', '--server-side', '--force-conflicts', '-n', ns, '-f', '-'], k(['create', 'secret', 'generic', 'auth-users', '-n', ns, '--from-literal=authfile=app:second-password\n', '--dry-run=client', '-o', 'json']));
    // The operator first has the kubelet write the new Secret into each pod (up to its sync period), then restarts memcached warm.
    const restarted = await eventually(
      'every server restarted and Ready, the warm restart Succeeded',
      async () => {
        const pods = await podsOf(authName);
        const ready = pods.filter(isPodReady);
        const op = (await new Memcacheds(cluster.kc, ns).get(authName))?.status?.lastOperation;
        const finished = op?.type === 'WarmRestart' && op.phase === 'Succeeded' && new Date(op.startedAt) >= new Date(start.getTime() - 1000);
        // In place: the operator asks each memcached to stop with the credentials of the authfile it runs.
        const each = pods.every((p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) > (restarts.get(p.metadata!.uid!) ?? -1));
        return pods.length === 2 && ready.length === 2 && each && finished ? ready : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    await sampler.stop();
    sampler.check();
    const inPlace = restarted.filter((p) => restarts.has(p.metadata!.uid!)).length;
    recordResult('authRestart', { minReady: sampler.minReady(), samples: sampler.samples.length, maxGapMs: sampler.maxGapMs(), restartedInPlace: inPlace, seconds: (Date.now() - start.getTime()) / 1000 });
    expect(sampler.minReady(), 'at least one Ready pod throughout').to.be.greaterThan(0);
    expect(inPlace, 'servers restarted in place, not replaced').to.equal(2);
    const ips = restarted.map((p) => p.status!.podIP!);
    for (const r of login('second-password', ips)) expect(r.reply, r.host).to.equal('STORED\r\nEND\r\n');
    for (const r of login('first-password', ips)) expect(r.reply, r.host).to.match(/^CLIENT_ERROR/);
  });

  describe('invalid input gives a clear condition and leaves the running cache untouched', () => {
    const useSecret = (secretName: string) => applyMemcached(ns, tlsName, { size: 2, memoryLimitMB: 64, tls: { enabled: true, secretName } });
    const cases: { name: string; reason: RegExp; apply: () => void }[] = [
      { name: 'a key that does not match the certificate', reason: /CertificateKeyMismatch/, apply: () => applyTlsSecret('cache-tls', serving.cert, client.key) },
      {
        name: 'an expired certificate',
        reason: /CertificateExpired/,
        apply: () => {
          const expired = ca.issueExpired(servername);
          applyTlsSecret('cache-tls', expired.cert, expired.key);
        },
      },
      {
        name: 'a Secret without tls.crt',
        reason: /SecretKeyMissing/,
        apply: () => {
          k(['apply', '--server-side', '-n', ns, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'no-crt' }, data: { 'tls.key': b64(serving.key) } }));
          useSecret('no-crt');
        },
      },
      { name: 'a missing Secret', reason: /SecretNotFound/, apply: () => useSecret('does-not-exist') },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const before = await fingerprint(tlsName);
        c.apply();
        const mc = await eventually(`Degraded ${c.reason}`, async () => {
          const m = await new Memcacheds(cluster.kc, ns).get(tlsName);
          const d = condition(m, 'Degraded');
          return d?.status === 'True' && c.reason.test(d.reason) ? m : undefined;
        }, { timeoutMs: 60_000 });
        const degraded = condition(mc, 'Degraded')!;
        expect(degraded.message).to.match(/Secret (cache-tls|no-crt|does-not-exist)/);
        const events = await eventsAbout(cluster, ns, 'Memcached', tlsName);
        expect(events.some((e) => e.type === 'Warning' && c.reason.test(e.reason ?? '')), 'a Warning Event').to.equal(true);
        expect(await fingerprint(tlsName), 'the Deployment and pods are untouched').to.equal(before);
        // Still serving the certificate it had.
        for (const r of exec({ hosts: await podIps(tlsName), port, tls: true, ca: ca.cert, servername, payload: 'get kept\r\n' })) expect(r.serial?.toUpperCase(), r.host).to.equal(serving.serial);
        // Repair: the valid Secret and spec again.
        applyTlsSecret('cache-tls', serving.cert, serving.key);
        useSecret('cache-tls');
        await eventually('Degraded False again', async () => (condition(await new Memcacheds(cluster.kc, ns).get(tlsName), 'Degraded')?.status === 'False' ? true : undefined), { timeoutMs: 60_000 });
        expect(await fingerprint(tlsName), 'repaired without a rollout').to.equal(before);
      });
    }
  });
});

/** Runs fn with a local port forwarded to pod:port (kubectl port-forward), then stops the forward. */
async function withPortForward(ns: string, pod: string, port: number, fn: (local: number) => void): Promise<void> {
  const child: ChildProcess = spawn(kubectlBin(), ['--kubeconfig', clusterKubeconfig(), 'port-forward', '-n', ns, `pod/${pod}`, `:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const local = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`port-forward gave no port: ${out}`)), 30_000);
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code) => reject(new Error(`port-forward exited (${code}): ${out}`)));
    });
    fn(local);
  } finally {
    child.kill();
  }
}
