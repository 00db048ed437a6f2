import { expect } from 'chai';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { FakeClock } from '../src/testing.js';
import { MetricsServer } from '../src/metrics.js';
import { bearerToken, MetricsAuthorizer, TtlCache, verbFor, type ReviewClient, type UserInfo } from '../src/metricsauth.js';
import { derOid, derSmallInteger, derTime, derTlv, derUnsignedInteger, selfSignedCertificate, subjectAltNames } from '../src/x509.js';
import { recordingLogger } from './fakes.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('runtime/x509 DER encoder', () => {
  it('encodes lengths in short and long form', () => {
    expect(hex(derTlv(0x04, Buffer.alloc(3)))).to.equal('0403000000');
    expect(hex(derTlv(0x04, Buffer.alloc(127))).slice(0, 4)).to.equal('047f');
    expect(hex(derTlv(0x04, Buffer.alloc(128))).slice(0, 6)).to.equal('048180');
    expect(hex(derTlv(0x04, Buffer.alloc(300))).slice(0, 8)).to.equal('0482012c');
  });

  it('encodes integers minimally and non-negative', () => {
    const table: Array<[Uint8Array | number, string]> = [
      [0, '020100'],
      [127, '02017f'],
      [128, '02020080'],
      [256, '02020100'],
      [Buffer.from([0, 0, 5]), '020105'],
      [Buffer.from([0xff]), '020200ff'],
    ];
    for (const [input, want] of table) {
      expect(hex(typeof input === 'number' ? derSmallInteger(input) : derUnsignedInteger(input)), String(input)).to.equal(want);
    }
    expect(() => derSmallInteger(-1)).to.throw(RangeError);
  });

  it('encodes object identifiers (X.690 8.19 examples)', () => {
    expect(hex(derOid('1.2.840.10045.2.1'))).to.equal('06072a8648ce3d0201');
    expect(hex(derOid('2.5.29.17'))).to.equal('0603551d11');
    expect(hex(derOid('1.3.6.1.5.5.7.3.1'))).to.equal('06082b06010505070301');
    expect(() => derOid('1.x')).to.throw(/not a dotted OID/);
    expect(() => derOid('3.1')).to.throw(/not a valid OID/);
  });

  it('uses UTCTime through 2049 and GeneralizedTime from 2050', () => {
    expect(derTime(new Date('2026-11-26T01:02:03Z')).toString('latin1').slice(2)).to.equal('261126010203Z');
    expect(derTime(new Date('2026-11-26T01:02:03Z'))[0]).to.equal(0x17);
    const late = derTime(new Date('2050-01-01T00:00:00Z'));
    expect(late[0]).to.equal(0x18);
    expect(late.toString('latin1').slice(2)).to.equal('20500101000000Z');
  });

  it('encodes DNS names and IPv4/IPv6 addresses as GeneralNames', () => {
    expect(hex(subjectAltNames(['a.b'], ['127.0.0.1']))).to.equal('300b' + '8203612e62' + '87047f000001');
    expect(hex(subjectAltNames([], ['::1']))).to.equal('3012' + '8710' + '00'.repeat(15) + '01');
    expect(hex(subjectAltNames([], ['fe80::1:2']))).to.equal('3012' + '8710' + 'fe80' + '0000'.repeat(5) + '00010002');
    expect(() => subjectAltNames([], ['not-an-ip'])).to.throw(/not an IP address/);
  });

  it('makes a self-signed certificate that node:crypto parses and verifies', () => {
    const now = new Date('2026-11-26T00:00:00Z');
    const { cert, key } = selfSignedCertificate({ commonName: 'metrics.test', now, dnsNames: ['metrics.test', 'localhost'] });
    const x = new X509Certificate(cert);
    expect(x.subject).to.contain('CN=metrics.test');
    expect(x.issuer).to.equal(x.subject);
    expect(x.verify(x.publicKey)).to.equal(true);
    expect(x.checkHost('metrics.test')).to.equal('metrics.test');
    expect(x.checkIP('127.0.0.1')).to.equal('127.0.0.1');
    expect(x.checkIP('::1')).to.equal('::1');
    expect(x.ca).to.equal(false);
    expect(new Date(x.validFrom).getTime()).to.equal(now.getTime() - 3_600_000);
    expect(new Date(x.validTo).getTime()).to.equal(now.getTime() + 365 * 86_400_000);
    expect(x.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.1']);
    expect(key).to.match(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(x.checkPrivateKey(createPrivateKey(key))).to.equal(true);
  });
});

describe('runtime/metricsauth', () => {
  it('reads bearer tokens only', () => {
    expect(bearerToken('Bearer abc.def')).to.equal('abc.def');
    expect(bearerToken('bearer   xyz ')).to.equal('xyz');
    expect(bearerToken('Basic Zm9vOmJhcg==')).to.equal(undefined);
    expect(bearerToken('Bearer ')).to.equal(undefined);
    expect(bearerToken(undefined)).to.equal(undefined);
  });

  it('maps methods to verbs as the apiserver does', () => {
    expect(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', undefined].map(verbFor)).to.deep.equal(['get', 'get', 'create', 'update', 'patch', 'delete', 'get']);
  });

  it('expires and bounds cache entries', () => {
    const clock = new FakeClock(0);
    const cache = new TtlCache<number>(100, clock, 2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.size).to.equal(2);
    expect(cache.get('a')).to.equal(undefined);
    expect(cache.get('c')).to.equal(3);
    clock.advance(100);
    expect(cache.get('c')).to.equal(undefined);
  });

  /** A scripted ReviewClient: token "reader" may get /metrics, "other" is a user without the role; the rest are unknown. */
  function reviews(): ReviewClient & { calls: string[]; failing: boolean } {
    const calls: string[] = [];
    return {
      calls,
      failing: false,
      reviewToken(token) {
        calls.push(`token ${token}`);
        if (this.failing) return Promise.reject(new Error('connection refused'));
        if (token === 'reader' || token === 'other') return Promise.resolve({ authenticated: true, user: { username: `system:serviceaccount:ns:${token}` } });
        return Promise.resolve({ authenticated: false, error: 'invalid bearer token' });
      },
      reviewAccess(user: UserInfo, verb, path) {
        calls.push(`access ${user.username} ${verb} ${path}`);
        return Promise.resolve(user.username.endsWith(':reader') && verb === 'get' && path === '/metrics' ? { allowed: true } : { allowed: false, reason: 'no RBAC policy matched' });
      },
    };
  }

  it('answers 401 without or with a bad token, 403 without the right, 200 with it', async () => {
    const r = reviews();
    const auth = new MetricsAuthorizer({ reviews: r, clock: new FakeClock(0) });
    expect((await auth.authorize(undefined, 'GET', '/metrics')).status).to.equal(401);
    expect(r.calls).to.deep.equal([]);
    expect(await auth.authorize('Bearer nope', 'GET', '/metrics')).to.deep.equal({ status: 401, reason: 'Unauthorized: invalid bearer token' });
    const denied = await auth.authorize('Bearer other', 'GET', '/metrics');
    expect(denied.status).to.equal(403);
    expect(denied).to.have.property('reason').that.contains('user=system:serviceaccount:ns:other').and.contains('no RBAC policy matched');
    expect(await auth.authorize('Bearer reader', 'GET', '/metrics')).to.deep.equal({ status: 200, user: 'system:serviceaccount:ns:reader' });
  });

  it('caches decisions for the TTL, so repeated scrapes cost no API calls', async () => {
    const r = reviews();
    const clock = new FakeClock(0);
    const auth = new MetricsAuthorizer({ reviews: r, clock, cacheTtlMs: 1000 });
    await auth.authorize('Bearer reader', 'GET', '/metrics');
    await auth.authorize('Bearer reader', 'GET', '/metrics');
    await auth.authorize('Bearer other', 'GET', '/metrics');
    await auth.authorize('Bearer other', 'GET', '/metrics');
    expect(r.calls).to.have.length(4);
    clock.advance(1000);
    await auth.authorize('Bearer reader', 'GET', '/metrics');
    expect(r.calls).to.have.length(6);
  });

  it('answers 500 when the apiserver cannot be asked, and does not cache it', async () => {
    const r = reviews();
    r.failing = true;
    const auth = new MetricsAuthorizer({ reviews: r, clock: new FakeClock(0) });
    const d = await auth.authorize('Bearer reader', 'GET', '/metrics');
    expect(d).to.deep.equal({ status: 500, reason: 'Internal Server Error: connection refused' });
    r.failing = false;
    expect((await auth.authorize('Bearer reader', 'GET', '/metrics')).status).to.equal(200);
  });
});

describe('runtime/metrics secure serving', () => {
  function get(port: number, token?: string): Promise<{ status: number; body: string; cert: string }> {
    return new Promise((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/metrics', agent: false, rejectUnauthorized: false, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
          const peer = (res.socket as TLSSocket).getPeerX509Certificate();
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cert: peer?.subject ?? '' }));
        })
        .on('error', reject);
    });
  }

  it('serves HTTPS with a generated certificate and applies the authorizer', async () => {
    const registry = new Registry();
    const reviewsClient: ReviewClient = {
      reviewToken: (t) => Promise.resolve(t === 'ok' ? { authenticated: true, user: { username: 'u' } } : { authenticated: false }),
      reviewAccess: (user) => Promise.resolve({ allowed: user.username === 'u' }),
    };
    const server = new MetricsServer({ bindAddress: '127.0.0.1:0', registry, logger: recordingLogger().logger, secure: true, authorizer: new MetricsAuthorizer({ reviews: reviewsClient }) });
    const address = (await server.start()) as AddressInfo;
    try {
      const anonymous = await get(address.port);
      expect(anonymous.status).to.equal(401);
      expect(anonymous.cert).to.contain('CN=memcached-operator-metrics');
      expect((await get(address.port, 'bad')).status).to.equal(401);
      const ok = await get(address.port, 'ok');
      expect(ok.status).to.equal(200);
      expect(ok.body).to.contain('process_cpu_user_seconds_total');
    } finally {
      await server.close();
    }
  });

  it('refuses to be secure without an authorizer, and names a missing certificate file', () => {
    const base = { bindAddress: '127.0.0.1:0', registry: new Registry(), logger: recordingLogger().logger };
    expect(() => new MetricsServer({ ...base, secure: true })).to.throw(/needs an authorizer/);
    const authorizer = new MetricsAuthorizer({ reviews: { reviewToken: () => Promise.resolve({ authenticated: false }), reviewAccess: () => Promise.resolve({ allowed: false }) } });
    expect(() => new MetricsServer({ ...base, secure: true, authorizer, certPath: '/nonexistent-dir' })).to.throw(/cannot read \/nonexistent-dir\/tls\.crt/);
  });
});
