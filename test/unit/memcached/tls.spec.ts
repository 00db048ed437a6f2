// The TLS and authentication flags the operator renders, proven against a
// real memcached 1.6 on loopback with real clients: Node's tls.connect and
// the openssl command line. Only the mount directory differs from a pod:
// the files live in a temporary directory instead of /etc/memcached.
import { expect } from 'chai';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { MemcachedSpec } from '../../../src/api/types.js';
import { applyDefaults } from '../../../src/api/validator.js';
import { renderArgs } from '../../../src/memcached/children/args.js';
import { AUTH_DIR, AUTHFILE_KEY, CLIENT_CA_DIR, TLS_DIR } from '../../../src/memcached/children/secret-mounts.js';
import { fetchStats } from '../../../src/protocol/client.js';
import { CertificateRotator, networkTlsControl } from '../../../src/memcached/tls/rotation.js';
import { SecureServing } from '../../../src/memcached/tls/secure-serving.js';
import { digestSecret } from '../../../src/memcached/tls/secret-digest.js';
import type { V1Secret } from '@kubernetes/client-node';
import type { Memcached } from '../../../src/api/types.js';
import { CertificateAuthority, type Issued } from '../../support/certs.js';
import { type Server, converse, freePort, start, stop, waitReady } from '../../support/memcached-process.js';

const untilEnd = (r: string) => r.endsWith('END\r\n');
const untilLine = (r: string) => r.endsWith('\r\n');

describe('memcached/security against a real memcached 1.6', function () {
  this.timeout(30_000);
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let root: string;
  const running: Server[] = [];

  before(() => {
    ca = new CertificateAuthority('cache-ca');
    otherCa = new CertificateAuthority('stranger-ca');
  });

  after(() => {
    ca.dispose();
    otherCa.dispose();
  });

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'memcached-secrets-'));
    // memcached drops to an unprivileged user when the test runs as root.
    chmodSync(root, 0o755);
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map(stop));
    rmSync(root, { recursive: true, force: true });
  });

  /** Writes the Secret files where the pod would mount them, under root. */
  function mount(dir: string, files: Record<string, string>): void {
    const local = path.join(root, dir);
    mkdirSync(local, { recursive: true, mode: 0o755 });
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(local, name), content, { mode: 0o644 });
  }

  function serve(server: Issued): void {
    mount(TLS_DIR, { 'tls.crt': server.cert, 'tls.key': server.key });
  }

  /** memcached with the operator's rendered flags, mount paths moved under root, listeners on loopback. */
  async function run(spec: MemcachedSpec): Promise<Server> {
    const args = renderArgs(applyDefaults({ ...spec, containerPort: await freePort() })).map((a) =>
      a.replaceAll('/etc/memcached', path.join(root, 'etc/memcached')).replaceAll('0.0.0.0', '127.0.0.1'),
    );
    const server = start(args.includes('-l') ? args : [...args, '-l', '127.0.0.1']);
    running.push(server);
    await waitReady(server);
    return server;
  }

  function tlsSocket(port: number, client?: Issued, caCert = ca.cert) {
    return () => tls.connect({ host: '127.0.0.1', port, ca: caCert, servername: 'localhost', ...(client ? { cert: client.cert, key: client.key } : {}) });
  }

  async function servedSerial(port: number, client?: Issued): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tlsSocket(port, client)();
      socket.once('secureConnect', () => {
        resolve(socket.getPeerCertificate().serialNumber.toUpperCase());
        socket.end();
      });
      socket.once('error', reject);
    });
  }

  const setOver = (to: number | (() => tls.TLSSocket), key: string, value: string) => converse(to, `set ${key} 0 0 ${value.length}\r\n${value}\r\n`, untilLine);
  const getOver = (to: number | (() => tls.TLSSocket), key: string) => converse(to, `get ${key}\r\n`, untilEnd);

  it('TLS on: a TLS client sets and gets; a plaintext client on the same port gets no answer', async () => {
    serve(ca.issue('cache'));
    const server = await run({ tls: { enabled: true } });
    expect(await setOver(tlsSocket(server.port), 'k', 'secret')).to.equal('STORED\r\n');
    expect(await getOver(tlsSocket(server.port), 'k')).to.equal('VALUE k 0 6\r\nsecret\r\nEND\r\n');
    // memcached resets or closes a connection that does not start a TLS handshake.
    await assert.rejects(getOver(server.port, 'k'), /ECONNRESET|closed before a complete reply/);
  });

  it('openssl s_client verifies the served certificate against the CA and talks to memcached', async () => {
    const cert = ca.issue('cache');
    serve(cert);
    const server = await run({ tls: { enabled: true } });
    const caFile = path.join(root, 'ca.crt');
    writeFileSync(caFile, ca.cert);
    const out = execFileSync('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-CAfile', caFile, '-verify_return_error', '-quiet'], { input: 'version\r\nquit\r\n', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    expect(out).to.match(/^VERSION 1\.6\./m);
  });

  it('mutual TLS: refuses no certificate and one from another CA, accepts the right one', async () => {
    serve(ca.issue('cache'));
    mount(CLIENT_CA_DIR, { 'ca.crt': ca.cert });
    const server = await run({ tls: { enabled: true, clientCASecretName: 'client-ca' } });
    await assert.rejects(getOver(tlsSocket(server.port), 'k'));
    await assert.rejects(getOver(tlsSocket(server.port, otherCa.issue('intruder')), 'k'));
    expect(await getOver(tlsSocket(server.port, ca.issue('app')), 'k')).to.equal('END\r\n');
  });

  it('the plaintext port serves plaintext beside TLS when asked for', async () => {
    serve(ca.issue('cache'));
    const plaintextPort = await freePort();
    const server = await run({ tls: { enabled: true, plaintextPort } });
    expect(await setOver(plaintextPort, 'k', 'v')).to.equal('STORED\r\n');
    expect(await getOver(tlsSocket(server.port), 'k')).to.equal('VALUE k 0 1\r\nv\r\nEND\r\n');
  });

  it('without a plaintext port, nothing but TLS listens', async () => {
    serve(ca.issue('cache'));
    const server = await run({ tls: { enabled: true } });
    const args = server.proc.spawnargs.join(' ');
    expect(args).to.not.include('notls');
    await assert.rejects(getOver(server.port, 'k'));
  });

  it('authentication: the wrong password is refused, the right one works', async () => {
    mount(AUTH_DIR, { [AUTHFILE_KEY]: 'app:s3cret\nreporting:other\n' });
    const server = await run({ auth: { secretName: 'users' } });
    const login = (user: string, password: string) => `set auth 0 0 ${user.length + 1 + password.length}\r\n${user} ${password}\r\n`;
    expect(await converse(server.port, 'get k\r\n', untilLine)).to.match(/^CLIENT_ERROR unauthenticated/);
    expect(await converse(server.port, login('app', 'wrong'), untilLine)).to.match(/^CLIENT_ERROR authentication failure/);
    expect(await converse(server.port, `${login('app', 's3cret')}get k\r\n`, untilEnd)).to.equal('STORED\r\nEND\r\n');
  });

  it('refresh_certs serves a rotated certificate without a restart, and items stay', async () => {
    const first = ca.issue('cache');
    serve(first);
    const server = await run({ tls: { enabled: true } });
    const pid = server.proc.pid;
    expect(await servedSerial(server.port)).to.equal(first.serial);
    expect(await setOver(tlsSocket(server.port), 'kept', 'before')).to.equal('STORED\r\n');

    const second = ca.issue('cache');
    serve(second);
    // New files alone change nothing until memcached is told to reload.
    expect(await servedSerial(server.port)).to.equal(first.serial);
    expect(await converse(tlsSocket(server.port), 'refresh_certs\r\n', untilLine)).to.equal('OK\r\n');

    expect(await servedSerial(server.port)).to.equal(second.serial);
    expect(server.proc.pid).to.equal(pid);
    expect(server.proc.exitCode).to.equal(null);
    expect(await getOver(tlsSocket(server.port), 'kept')).to.equal('VALUE kept 0 6\r\nbefore\r\nEND\r\n');
  });

  it('the operator\'s rotator: reads the served serial, sends refresh_certs over mutual TLS with auth, and says when the files are not updated yet', async () => {
    const first = ca.issue('cache');
    serve(first);
    mount(CLIENT_CA_DIR, { 'ca.crt': ca.cert });
    mount(AUTH_DIR, { [AUTHFILE_KEY]: 'operator:pw1\napp:pw2\n' });
    const server = await run({ tls: { enabled: true, clientCASecretName: 'client-ca', clientCertificates: 'Require' }, auth: { secretName: 'users' } });
    const pid = server.proc.pid;
    const pod = { name: 'cache-0', uid: 'u0', ip: '127.0.0.1' };
    let loads = 0;
    const credentials = (issued: Issued) => () => {
      loads++;
      return Promise.resolve({ clientCert: { cert: issued.cert, key: issued.key }, auth: { username: 'operator', password: 'pw1' } });
    };
    // The handshake shows the served certificate even though memcached then refuses a client without one.
    expect(await networkTlsControl.servedSerial('127.0.0.1', server.port)).to.equal(first.serial);
    const rotator = new CertificateRotator();
    expect(await rotator.bringToSerial([pod], server.port, first.serial, credentials(first))).to.deep.equal([{ pod: 'cache-0', served: first.serial, refreshed: false }]);
    expect(loads, 'no credentials needed while the pod serves the serial').to.equal(0);
    const app = ca.issue('app');
    const login = 'set auth 0 0 7\r\napp pw2\r\n';
    expect(await converse(tlsSocket(server.port, app), `${login}set kept 0 0 6\r\nbefore\r\n`, (r) => r.split('\r\n').length > 2)).to.equal('STORED\r\nSTORED\r\n');

    const second = ca.issue('cache');
    // The Secret changed but the kubelet has not rewritten the files yet: refresh_certs reloads the old ones.
    expect(await rotator.bringToSerial([pod], server.port, second.serial, credentials(first), [first.serial])).to.deep.equal([{ pod: 'cache-0', served: first.serial, refreshed: true }]);
    serve(second);
    expect(await rotator.bringToSerial([pod], server.port, second.serial, credentials(first), [first.serial])).to.deep.equal([{ pod: 'cache-0', served: second.serial, refreshed: true }]);
    expect(await rotator.bringToSerial([pod], server.port, second.serial, credentials(second))).to.deep.equal([{ pod: 'cache-0', served: second.serial, refreshed: false }]);
    expect(loads).to.equal(2);
    expect(server.proc.pid).to.equal(pid);
    expect(await converse(tlsSocket(server.port, app), `${login}get kept\r\n`, untilEnd)).to.equal('STORED\r\nVALUE kept 0 6\r\nbefore\r\nEND\r\n');
    expect(server.proc.exitCode).to.equal(null);

    // Wrong credentials are reported, not thrown.
    const third = ca.issue('cache');
    const refused = await rotator.bringToSerial([pod], server.port, third.serial, () => Promise.resolve({ clientCert: { cert: second.cert, key: second.key }, auth: { username: 'operator', password: 'wrong' } }), [second.serial]);
    expect(refused[0].error).to.match(/refused the authentication: CLIENT_ERROR/);
    // A pod presenting a certificate the operator never recorded gets no credentials.
    const stranger = await rotator.bringToSerial([pod], server.port, third.serial, credentials(second), [first.serial]);
    expect(stranger[0].error).to.match(new RegExp(`presents certificate serial ${second.serial}, which is neither the Secret's nor the last one served; nothing sent`));
  });

  it('the memcached client\'s fetchStats reads stats over mutual TLS with auth, and says why when it cannot', async () => {
    serve(ca.issue('cache'));
    mount(CLIENT_CA_DIR, { 'ca.crt': ca.cert });
    mount(AUTH_DIR, { [AUTHFILE_KEY]: 'exporter:pw\n' });
    const server = await run({ tls: { enabled: true, clientCASecretName: 'client-ca', clientCertificates: 'Require' }, auth: { secretName: 'users' } });
    const target = { host: '127.0.0.1', port: server.port };
    const client = ca.issue('exporter');
    const tlsOptions = { ca: ca.cert, servername: 'localhost', cert: client.cert, key: client.key };
    const stats = await fetchStats(target, 5000, { tls: tlsOptions, auth: { username: 'exporter', password: 'pw' } });
    expect(stats.get('version')).to.match(/^1\.6\./);
    expect(Number(stats.get('curr_connections'))).to.be.greaterThan(0);
    await assert.rejects(fetchStats(target, 5000, { tls: tlsOptions, auth: { username: 'exporter', password: 'wrong' } }), /refused the authentication: CLIENT_ERROR/);
    await assert.rejects(fetchStats(target, 5000, { tls: { ca: otherCa.cert, servername: 'localhost', cert: client.cert, key: client.key } }), /self-signed|unable to (get|verify)/);
    await assert.rejects(fetchStats(target, 2000));
  });

  it('the operator\'s scrape path: TLS with the serving key pair and the first authfile user, only to a serial the Secret issued, read once per Secret version', async () => {
    const serving = ca.issue('cache');
    serve(serving);
    mount(CLIENT_CA_DIR, { 'ca.crt': ca.cert });
    mount(AUTH_DIR, { [AUTHFILE_KEY]: 'operator:pw1\n' });
    const spec = applyDefaults({ tls: { enabled: true, secretName: 'cache-tls', clientCASecretName: 'client-ca', clientCertificates: 'Require' }, auth: { secretName: 'users' } });
    const server = await run(spec);
    const secret = (name: string, data: Record<string, string>): V1Secret => ({
      metadata: { namespace: 'ns', name, uid: `uid-${name}`, resourceVersion: '1' },
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });
    const secrets = new Map<string, V1Secret>([
      ['cache-tls', secret('cache-tls', { 'tls.crt': serving.cert, 'tls.key': serving.key })],
      ['users', secret('users', { [AUTHFILE_KEY]: 'operator:pw1\n' })],
    ]);
    let reads = 0;
    const secureServing = new SecureServing({
      secrets: { get: (_ns, name) => (secrets.has(name) ? digestSecret(secrets.get(name)!) : undefined) },
      readSecret: (_ns, name) => {
        reads++;
        return Promise.resolve(secrets.get(name));
      },
      events: { event: () => undefined },
    });
    const mc = { apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { namespace: 'ns', name: 'cache', uid: 'mc-1' }, spec } as Memcached;
    const target = { host: '127.0.0.1', port: server.port };

    const stats = await fetchStats(target, 5000, await secureServing.scrapeSecurity(mc, spec, server.port));
    expect(stats.get('version')).to.match(/^1\.6\./);
    await fetchStats(target, 5000, await secureServing.scrapeSecurity(mc, spec, server.port));
    expect(reads, 'the Secrets are read once, not on every scrape').to.equal(2);

    // The Secret now names another certificate that the pod does not serve yet: nothing is sent to the pod.
    const next = ca.issue('cache');
    secrets.set('cache-tls', secret('cache-tls', { 'tls.crt': next.cert, 'tls.key': next.key }));
    await assert.rejects(fetchStats(target, 5000, await secureServing.scrapeSecurity(mc, spec, server.port)), /is not one this Memcached's Secret issued; nothing sent/);
    expect(reads, 'a changed Secret is read again').to.equal(4);
    // Once status records the served serial, the pod is trusted again until it reloads.
    const recorded = { ...mc, status: { tls: { secretName: 'cache-tls', serialNumber: next.serial, notAfter: '', servedSerialNumber: serving.serial } } } as Memcached;
    expect((await fetchStats(target, 5000, await secureServing.scrapeSecurity(recorded, spec, server.port))).get('version')).to.match(/^1\.6\./);
  });
});
