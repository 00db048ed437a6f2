import { expect } from 'chai';
import type { MemcachedSpec } from '../../../src/api/types.js';
import { validateMemcached } from '../../../src/api/validator.js';
import { renderArgs } from '../../../src/memcached/children/args.js';
import { CACHE_VOLUME, buildStatefulSet } from '../../../src/memcached/children/statefulset.js';
import { SERVICE_CA_ANNOTATION, securityArgs } from '../../../src/memcached/children/secret-mounts.js';
import { buildHeadlessService, buildService } from '../../../src/memcached/children/services.js';
import { HIGHLY_AVAILABLE, defaulted, memcached } from './fixtures.js';

const CERTS = 'ssl_chain_cert=/etc/memcached/tls/tls.crt,ssl_key=/etc/memcached/tls/tls.key';

describe('memcached/security: TLS and authentication', () => {
  describe('securityArgs', () => {
    const cases: { name: string; spec: MemcachedSpec; want: string[] }[] = [
      { name: 'nothing asked', spec: {}, want: [] },
      { name: 'TLS switched off keeps its settings idle', spec: { tls: { enabled: false, secretName: 's', plaintextPort: 11212 } }, want: [] },
      { name: 'TLS', spec: { tls: { enabled: true } }, want: ['-Z', '-o', CERTS] },
      {
        name: 'mutual TLS, required by default',
        spec: { tls: { enabled: true, clientCASecretName: 'ca' } },
        want: ['-Z', '-o', `${CERTS},ssl_ca_cert=/etc/memcached/client-ca/ca.crt,ssl_verify_mode=2`],
      },
      {
        name: 'mutual TLS, requested',
        spec: { tls: { enabled: true, clientCASecretName: 'ca', clientCertificates: 'Request' } },
        want: ['-Z', '-o', `${CERTS},ssl_ca_cert=/etc/memcached/client-ca/ca.crt,ssl_verify_mode=1`],
      },
      { name: 'TLS with a plaintext port', spec: { tls: { enabled: true, plaintextPort: 11212 } }, want: ['-Z', '-o', CERTS, '-l', '0.0.0.0,notls:0.0.0.0:11212'] },
      { name: 'authentication', spec: { auth: { secretName: 'users' } }, want: ['-Y', '/etc/memcached/auth/authfile'] },
      { name: 'both', spec: { tls: { enabled: true }, auth: { secretName: 'users' } }, want: ['-Z', '-o', CERTS, '-Y', '/etc/memcached/auth/authfile'] },
    ];
    for (const c of cases) {
      it(c.name, () => expect(securityArgs(c.spec)).to.deep.equal(c.want));
    }

    it('come after the operator-owned flags and before extraArgs', () => {
      const args = renderArgs(defaulted({ tls: { enabled: true }, extraArgs: ['-o', 'modern'] }));
      expect(args.slice(-5)).to.deep.equal(['-Z', '-o', CERTS, '-o', 'modern']);
    });
  });

  describe('the StatefulSet', () => {
    it('mounts each Secret whole and read-only, so a rotated Secret reaches the running pod', () => {
      const spec = defaulted({ tls: { enabled: true, clientCASecretName: 'client-ca', plaintextPort: 11212 }, auth: { secretName: 'users' } });
      const pod = buildStatefulSet(memcached(spec), spec, HIGHLY_AVAILABLE, { defaultImage: 'memcached', replicas: 3 }).spec!.template.spec!;
      // The RAM disk first (keep the cache), then the Secrets.
      expect(pod.volumes?.[0]?.name).to.equal(CACHE_VOLUME);
      expect(pod.volumes?.slice(1)).to.deep.equal([
        { name: 'tls', secret: { secretName: 'cache-tls', items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }] } },
        { name: 'client-ca', secret: { secretName: 'client-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { name: 'auth', secret: { secretName: 'users', items: [{ key: 'authfile', path: 'authfile' }] } },
      ]);
      const container = pod.containers[0];
      expect(container.volumeMounts?.[0]?.name).to.equal(CACHE_VOLUME);
      expect(container.volumeMounts?.slice(1)).to.deep.equal([
        { name: 'tls', mountPath: '/etc/memcached/tls', readOnly: true },
        { name: 'client-ca', mountPath: '/etc/memcached/client-ca', readOnly: true },
        { name: 'auth', mountPath: '/etc/memcached/auth', readOnly: true },
      ]);
      expect(container.volumeMounts!.every((m) => m.subPath === undefined)).to.equal(true);
      expect(container.ports).to.deep.equal([
        { name: 'memcached', containerPort: 11211, protocol: 'TCP' },
        { name: 'plaintext', containerPort: 11212, protocol: 'TCP' },
      ]);
      expect(Object.keys(pod).at(-1)).to.equal('volumes');
    });

    it('mounts no Secret without TLS or authentication: only the RAM disk', () => {
      const spec = defaulted({});
      const pod = buildStatefulSet(memcached(spec), spec, HIGHLY_AVAILABLE, { defaultImage: 'memcached', replicas: 3 }).spec!.template.spec!;
      expect(pod.volumes?.map((v) => v.name)).to.deep.equal([CACHE_VOLUME]);
      expect(pod.containers[0].volumeMounts?.map((m) => m.name)).to.deep.equal([CACHE_VOLUME]);
    });
  });

  describe('the Services', () => {
    it('ask the service CA for <name>-tls only when TLS is on and no Secret is named', () => {
      const annotations = (spec: MemcachedSpec) => buildService(memcached(spec), defaulted(spec)).metadata!.annotations;
      expect(annotations({ tls: { enabled: true } })).to.deep.equal({ [SERVICE_CA_ANNOTATION]: 'cache-tls' });
      expect(annotations({ tls: { enabled: true, secretName: 'mine' } })).to.equal(undefined);
      expect(annotations({ tls: { enabled: false } })).to.equal(undefined);
      expect(annotations({})).to.equal(undefined);
    });

    it('publish the plaintext port beside the TLS one on both Services', () => {
      const spec = defaulted({ tls: { enabled: true, plaintextPort: 11212 } });
      for (const svc of [buildService(memcached(spec), spec), buildHeadlessService(memcached(spec), spec)]) {
        expect(svc.spec!.ports).to.deep.equal([
          { name: 'memcached', port: 11211, targetPort: 'memcached', protocol: 'TCP' },
          { name: 'plaintext', port: 11212, targetPort: 'plaintext', protocol: 'TCP' },
        ]);
      }
    });
  });

  describe('validation', () => {
    const cases: { name: string; spec: unknown; error?: RegExp }[] = [
      { name: 'TLS with every option', spec: { tls: { enabled: true, secretName: 'cert', clientCASecretName: 'ca', clientCertificates: 'Request', plaintextPort: 11212 } } },
      { name: 'a plaintext port equal to the TLS port', spec: { tls: { enabled: true, plaintextPort: 11211 } }, error: /tls.plaintextPort must differ from containerPort/ },
      { name: 'a plaintext port equal to a custom TLS port', spec: { containerPort: 12000, tls: { enabled: true, plaintextPort: 12000 } }, error: /must differ from containerPort/ },
      { name: 'client certificate mode without a CA', spec: { tls: { enabled: true, clientCertificates: 'Require' } }, error: /needs tls.clientCASecretName/ },
      { name: 'an unknown client certificate mode', spec: { tls: { enabled: true, clientCASecretName: 'ca', clientCertificates: 'Sometimes' } }, error: /clientCertificates/ },
      { name: 'a Secret name that is not a DNS subdomain', spec: { tls: { enabled: true, secretName: 'Bad_Name' } }, error: /secretName/ },
      { name: 'a Secret name at the 253-character limit', spec: { tls: { enabled: true, secretName: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}` } } },
      { name: 'a Secret name past the limit', spec: { tls: { enabled: true, secretName: 'a'.repeat(254) } }, error: /secretName/ },
      { name: 'auth without a Secret', spec: { auth: {} }, error: /secretName/ },
      { name: 'auth with a Secret', spec: { auth: { secretName: 'users' } } },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const result = validateMemcached({ spec: c.spec });
        if (c.error) {
          expect(result.valid).to.equal(false);
          expect((result as { message: string }).message).to.match(c.error);
        } else {
          expect(result, JSON.stringify(result)).to.deep.include({ valid: true });
        }
      });
    }
  });
});
