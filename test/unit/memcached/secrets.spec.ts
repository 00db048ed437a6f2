// The Secret checks behind TLS and auth, table-tested on real
// certificates from a test CA: what the operator keeps of a Secret, which
// input stops it from touching the pods (and with which reason), the
// certificate's expiry state, and the CertificateServed condition.
import { expect } from 'chai';
import type { V1Secret } from '@kubernetes/client-node';
import type { MemcachedSpec } from '../../../src/api/types.js';
import {
  certificateExpiry,
  checkSecrets,
  digestSecret,
  EXPIRY_WARNING_MS,
  expiryCondition,
  memcachedsReferencing,
  normalizeSerial,
  referencedSecrets,
  type SecretDigest,
} from '../../../src/memcached/tls/secret-digest.js';
import { firstAuthfileUser, rotationCondition, ROTATION_DEADLINE_MS } from '../../../src/memcached/tls/rotation.js';
import { CertificateAuthority, type Issued } from '../../support/certs.js';
import { defaulted, memcached } from './fixtures.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function secret(name: string, data: Record<string, string>, uid = `uid-${name}`): V1Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'apps', uid, resourceVersion: '7' }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) };
}

const tlsSecret = (name: string, issued: Issued, key = issued.key) => secret(name, { 'tls.crt': issued.cert, 'tls.key': key });

describe('memcached/secrets', function () {
  this.timeout(20_000);
  let ca: CertificateAuthority;
  let cert: Issued;
  let other: Issued;
  let expired: Issued;

  before(() => {
    ca = new CertificateAuthority('secrets-ca');
    cert = ca.issue('cache');
    other = ca.issue('cache');
    expired = ca.issueExpired('cache');
  });

  after(() => ca.dispose());

  describe('digestSecret', () => {
    it('keeps the serial, validity and key match, and no data', () => {
      const d = digestSecret(tlsSecret('cache-tls', cert));
      expect(d.metadata).to.deep.equal({ name: 'cache-tls', namespace: 'apps', resourceVersion: '7', uid: 'uid-cache-tls' });
      expect(d.digest.keys).to.deep.equal(['tls.crt', 'tls.key']);
      expect(d.digest.certificate?.serialNumber).to.equal(cert.serial);
      expect(d.digest.certificate?.keyMatches).to.equal(true);
      expect(Date.parse(d.digest.certificate!.notAfter)).to.be.greaterThan(Date.now());
      const text = JSON.stringify(d);
      expect(text).to.not.include('PRIVATE KEY');
      expect(text).to.not.include(b64(cert.key).slice(0, 40));
      expect(text).to.not.have.property('data');
    });

    it('is idempotent: a digest passes through unchanged', () => {
      const d = digestSecret(tlsSecret('cache-tls', cert));
      expect(digestSecret(d)).to.equal(d);
    });

    it('the data hash changes with the data; the authfile hash with the users, not with other keys', () => {
      const a = digestSecret(secret('users', { authfile: 'app:one\n', note: 'x' }));
      const b = digestSecret(secret('users', { authfile: 'app:two\n', note: 'x' }));
      const c = digestSecret(secret('users', { authfile: 'app:one\n', note: 'y' }));
      expect(a.digest.dataHash).to.not.equal(b.digest.dataHash);
      expect(a.digest.authfileHash).to.not.equal(b.digest.authfileHash);
      expect(a.digest.authfileHash).to.equal(c.digest.authfileHash);
      expect(a.digest.authfileHash).to.match(/^[0-9a-f]{16}$/);
    });

    it('normalizeSerial drops separators and leading zeros', () => {
      expect(normalizeSerial('00:1a:2B')).to.equal('1A2B');
      expect(normalizeSerial('0')).to.equal('0');
    });
  });

  describe('checkSecrets', () => {
    // After before() issued the certificates.
    let now: Date;
    beforeEach(() => (now = new Date()));
    const tlsOn: MemcachedSpec = { tls: { enabled: true, secretName: 'cache-tls' } };
    // Secrets are a function: the certificates exist only once before() ran.
    const cases: { name: string; spec: MemcachedSpec; secrets: () => V1Secret[]; reason?: string; message?: RegExp }[] = [
      { name: 'TLS off, no auth: nothing to check', spec: {}, secrets: () => [] },
      { name: 'a usable serving certificate', spec: tlsOn, secrets: () => [tlsSecret('cache-tls', cert)] },
      { name: 'missing serving Secret', spec: tlsOn, secrets: () => [], reason: 'SecretNotFound', message: /Secret cache-tls \(spec\.tls\.secretName\) does not exist in namespace apps/ },
      { name: 'the default Secret name when none is given', spec: { tls: { enabled: true } }, secrets: () => [], reason: 'SecretNotFound', message: /Secret cache-tls \(the default serving certificate Secret\)/ },
      { name: 'no tls.crt', spec: tlsOn, secrets: () => [secret('cache-tls', { 'tls.key': 'k' })], reason: 'SecretKeyMissing', message: /has no tls\.crt/ },
      { name: 'no tls.crt and no tls.key', spec: tlsOn, secrets: () => [secret('cache-tls', {})], reason: 'SecretKeyMissing', message: /has no tls\.crt and no tls\.key/ },
      { name: 'tls.crt is not a certificate', spec: tlsOn, secrets: () => [secret('cache-tls', { 'tls.crt': 'garbage', 'tls.key': 'garbage' })], reason: 'CertificateInvalid', message: /tls\.crt is not a PEM certificate/ },
      { name: 'missing client CA Secret', spec: { tls: { enabled: true, secretName: 'cache-tls', clientCASecretName: 'client-ca' } }, secrets: () => [tlsSecret('cache-tls', cert)], reason: 'SecretNotFound', message: /Secret client-ca \(spec\.tls\.clientCASecretName\)/ },
      { name: 'client CA Secret without ca.crt', spec: { tls: { enabled: true, secretName: 'cache-tls', clientCASecretName: 'client-ca' } }, secrets: () => [tlsSecret('cache-tls', cert), secret('client-ca', { 'tls.crt': 'x' })], reason: 'SecretKeyMissing', message: /client-ca has no ca\.crt/ },
      { name: 'missing auth Secret', spec: { auth: { secretName: 'users' } }, secrets: () => [], reason: 'SecretNotFound', message: /Secret users \(spec\.auth\.secretName\)/ },
      { name: 'auth Secret without authfile', spec: { auth: { secretName: 'users' } }, secrets: () => [secret('users', { users: 'app:x' })], reason: 'SecretKeyMissing', message: /users has no authfile key/ },
    ];

    for (const c of cases) {
      it(c.name, () => {
        const mc = memcached(c.spec);
        const digests = new Map(c.secrets().map((s) => [s.metadata!.name!, digestSecret(s)]));
        const result = checkSecrets(mc, defaulted(c.spec), (n) => digests.get(n), now);
        expect(result.problem?.reason).to.equal(c.reason);
        if (c.message) expect(result.problem?.message).to.match(c.message);
      });
    }

    it('a key that does not match the certificate', () => {
      const d = digestSecret(tlsSecret('cache-tls', cert, other.key));
      const result = checkSecrets(memcached(tlsOn), defaulted(tlsOn), () => d, now);
      expect(result.problem?.reason).to.equal('CertificateKeyMismatch');
      expect(result.problem?.message).to.include(`serial ${cert.serial}`);
    });

    it('an expired certificate, with its serial and end date, keeps the certificate for status', () => {
      const d = digestSecret(tlsSecret('cache-tls', expired));
      const result = checkSecrets(memcached(tlsOn), defaulted(tlsOn), () => d, now);
      expect(result.problem?.reason).to.equal('CertificateExpired');
      expect(result.problem?.message).to.match(/expired at 2020-01-02T00:00:00\.000Z/);
      expect(result.certificate?.serialNumber).to.equal(expired.serial);
    });

    it('a usable certificate and authfile give the certificate and the authfile hash', () => {
      const spec: MemcachedSpec = { ...tlsOn, auth: { secretName: 'users' } };
      const digests = new Map<string, SecretDigest>([
        ['cache-tls', digestSecret(tlsSecret('cache-tls', cert))],
        ['users', digestSecret(secret('users', { authfile: 'app:pw\n' }))],
      ]);
      const result = checkSecrets(memcached(spec), defaulted(spec), (n) => digests.get(n), now);
      expect(result.problem).to.equal(undefined);
      expect(result.certificate?.serialNumber).to.equal(cert.serial);
      expect(result.authfileHash).to.equal(digests.get('users')!.digest.authfileHash);
    });
  });

  describe('expiry', () => {
    const notAfter = '2030-01-31T00:00:00.000Z';
    const end = Date.parse(notAfter);
    const table: { at: number; state: string; next?: number }[] = [
      { at: end - EXPIRY_WARNING_MS - 1000, state: 'Valid', next: 1000 },
      { at: end - EXPIRY_WARNING_MS, state: 'ExpiringSoon', next: EXPIRY_WARNING_MS },
      { at: end - 1000, state: 'ExpiringSoon', next: 1000 },
      { at: end, state: 'Expired' },
      { at: end + 1000, state: 'Expired' },
    ];
    for (const row of table) {
      it(`${new Date(row.at).toISOString()}: ${row.state}`, () => {
        const got = certificateExpiry(notAfter, new Date(row.at));
        expect(got.state).to.equal(row.state);
        expect(got.nextChangeInMs).to.equal(row.next);
      });
    }

    it('the condition: True with CertificateExpiresSoon inside 14 days, CertificateExpired after, False before', () => {
      const c = { serialNumber: 'AB', notBefore: '2020-01-01T00:00:00.000Z', notAfter, subject: 'CN=cache', keyMatches: true };
      expect(expiryCondition(c, new Date(end - 20 * 86_400_000)).condition).to.include({ status: 'False', reason: 'CertificateValid' });
      const soon = expiryCondition(c, new Date(end - 3 * 86_400_000 - 1000));
      expect(soon.condition).to.include({ status: 'True', reason: 'CertificateExpiresSoon' });
      expect(soon.condition.message).to.include('in 3 days');
      expect(expiryCondition(c, new Date(end)).condition).to.include({ status: 'True', reason: 'CertificateExpired' });
    });
  });

  describe('references', () => {
    it('referencedSecrets lists serving, client CA and auth Secrets once each, only when in use', () => {
      const mc = memcached();
      expect(referencedSecrets(mc, {})).to.deep.equal([]);
      expect(referencedSecrets(mc, { tls: { enabled: false, secretName: 'x' } })).to.deep.equal([]);
      expect(referencedSecrets(mc, { tls: { enabled: true } })).to.deep.equal(['cache-tls']);
      expect(referencedSecrets(mc, { tls: { enabled: true, secretName: 's', clientCASecretName: 'ca' }, auth: { secretName: 's' } })).to.deep.equal(['s', 'ca']);
    });

    it('memcachedsReferencing maps a Secret event to the Memcacheds that use it', () => {
      const a = memcached({ tls: { enabled: true, secretName: 'shared' } }, 'a');
      const b = memcached({ auth: { secretName: 'shared' } }, 'b');
      const c = memcached({ tls: { enabled: true } }, 'c');
      expect(memcachedsReferencing([a, b, c], 'shared').map((m) => m.metadata.name)).to.deep.equal(['a', 'b']);
      expect(memcachedsReferencing([a, b, c], 'c-tls').map((m) => m.metadata.name)).to.deep.equal(['c']);
      expect(memcachedsReferencing([a, b, c], 'unrelated')).to.deep.equal([]);
    });
  });

  describe('rotation condition', () => {
    const now = new Date('2026-01-01T00:10:00Z');
    it('True when every Ready pod serves the serial', () => {
      const r = rotationCondition([{ pod: 'p1', served: 'AB', refreshed: true }, { pod: 'p2', served: 'AB', refreshed: false }], 'AB', undefined, now);
      expect(r.condition).to.include({ status: 'True', reason: 'CurrentCertificateServed' });
      expect(r.requeueAfterMs).to.equal(undefined);
    });
    it('RotationPending with each lagging pod named, and a requeue', () => {
      const r = rotationCondition([{ pod: 'p1', served: 'AB', refreshed: false }, { pod: 'p2', served: 'AA', refreshed: true }], 'AB', new Date(now.getTime() - 30_000), now);
      expect(r.condition).to.include({ status: 'False', reason: 'RotationPending' });
      expect(r.condition.message).to.include('1/2 Ready pods').and.include('p2: serves AA after refresh_certs');
      expect(r.requeueAfterMs).to.be.within(2000, 10_000);
    });
    it('RotationTimedOut once the deadline since the rotation began has passed', () => {
      const r = rotationCondition([{ pod: 'p1', refreshed: false, error: 'ECONNREFUSED' }], 'AB', new Date(now.getTime() - ROTATION_DEADLINE_MS), now);
      expect(r.condition).to.include({ status: 'False', reason: 'RotationTimedOut' });
      expect(r.condition.message).to.include('p1: ECONNREFUSED');
      expect(r.requeueAfterMs).to.equal(30_000);
    });
    it('Unknown with no Ready pod', () => {
      expect(rotationCondition([], 'AB', undefined, now).condition).to.include({ status: 'Unknown', reason: 'NoReadyPods' });
    });
    it('firstAuthfileUser reads the first user:password line (passwords may hold colons)', () => {
      expect(firstAuthfileUser('\napp:pa:ss\nother:x\n')).to.deep.equal({ username: 'app', password: 'pa:ss' });
      expect(firstAuthfileUser('no users here')).to.equal(undefined);
    });
  });
});
