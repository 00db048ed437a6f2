import { expect } from 'chai';
import { inClusterConnection, kubeconfigPaths, resolveKubeconfig, type KubeconfigFile } from '../../src/client/kubeconfig.js';

const file = (path: string, doc: unknown): KubeconfigFile => ({ path, doc });

const base = {
  'current-context': 'dev',
  clusters: [{ name: 'c1', cluster: { server: 'https://api.example:6443/', 'certificate-authority': 'ca.pem' } }],
  users: [{ name: 'u1', user: { token: 'T1' } }],
  contexts: [{ name: 'dev', context: { cluster: 'c1', user: 'u1', namespace: 'ns1' } }],
};

describe('runtime/client/kubeconfig', () => {
  describe('resolveKubeconfig', () => {
    const cases: Array<{ name: string; files: KubeconfigFile[]; context?: string; want: Record<string, unknown> }> = [
      {
        name: 'current-context with a token; relative CA path made absolute from the file; trailing slash dropped',
        files: [file('/home/a/.kube/config', base)],
        want: { server: 'https://api.example:6443', caFile: '/home/a/.kube/ca.pem', token: 'T1', namespace: 'ns1', insecureSkipTLSVerify: false },
      },
      {
        name: 'client certificate and key as data, insecure flag and TLS server name',
        files: [
          file('/k', {
            'current-context': 'x',
            clusters: [{ name: 'c', cluster: { server: 'https://s', 'insecure-skip-tls-verify': true, 'tls-server-name': 'kube' } }],
            users: [{ name: 'u', user: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } }],
            contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
          }),
        ],
        want: { server: 'https://s', certData: 'Q0VSVA==', keyData: 'S0VZ', insecureSkipTLSVerify: true, tlsServerName: 'kube' },
      },
      {
        name: 'several files: the first current-context and the first definition of each name win',
        files: [
          file('/a', { clusters: [{ name: 'c1', cluster: { server: 'https://first' } }] }),
          file('/b', { ...base, 'current-context': 'dev' }),
          file('/c', { 'current-context': 'other', users: [{ name: 'u1', user: { token: 'LATER' } }] }),
        ],
        want: { server: 'https://first', token: 'T1', namespace: 'ns1', insecureSkipTLSVerify: false },
      },
      {
        name: 'an explicit context overrides current-context',
        files: [file('/k', { ...base, contexts: [...base.contexts, { name: 'prod', context: { cluster: 'c1', user: 'nobody' } }] })],
        context: 'prod',
        want: { server: 'https://api.example:6443', caFile: '/ca.pem', insecureSkipTLSVerify: false },
      },
      {
        name: 'an exec plugin is exotic',
        files: [file('/k', { ...base, users: [{ name: 'u1', user: { exec: { command: 'aws' } } }] })],
        want: { server: 'https://api.example:6443', caFile: '/ca.pem', namespace: 'ns1', insecureSkipTLSVerify: false, exotic: 'exec plugin' },
      },
      {
        name: 'an auth-provider is exotic',
        files: [file('/k', { ...base, users: [{ name: 'u1', user: { 'auth-provider': { name: 'oidc' } } }] })],
        want: { server: 'https://api.example:6443', caFile: '/ca.pem', namespace: 'ns1', insecureSkipTLSVerify: false, exotic: 'auth-provider' },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(resolveKubeconfig(c.files, c.context)).to.deep.equal(c.want);
      });
    }

    const failures: Array<{ name: string; files: KubeconfigFile[]; error: RegExp }> = [
      { name: 'no current-context', files: [file('/k', { ...base, 'current-context': '' })], error: /no current-context/ },
      { name: 'unknown context', files: [file('/k', { ...base, 'current-context': 'nope' })], error: /context "nope" not found/ },
      { name: 'context naming a missing cluster', files: [file('/k', { ...base, clusters: [] })], error: /cluster "c1", which is not defined/ },
      { name: 'cluster without a server', files: [file('/k', { ...base, clusters: [{ name: 'c1', cluster: {} }] })], error: /cluster "c1" has no server/ },
      { name: 'not a kubeconfig at all', files: [file('/k', 'just text')], error: /no current-context/ },
    ];
    for (const c of failures) {
      it(`fails clearly: ${c.name}`, () => {
        expect(() => resolveKubeconfig(c.files)).to.throw(c.error);
      });
    }
  });

  describe('inClusterConnection', () => {
    const cases: Array<{ name: string; env: NodeJS.ProcessEnv; server: string | undefined }> = [
      { name: 'https on the service port', env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, server: 'https://10.0.0.1:443' },
      { name: 'plain http on 8080', env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '8080' }, server: 'http://10.0.0.1:8080' },
      { name: 'IPv6 host bracketed', env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, server: 'https://[fd00::1]:443' },
      { name: 'outside a pod', env: {}, server: undefined },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const got = inClusterConnection(c.env, '/sa');
        expect(got?.server).to.equal(c.server);
        if (got) expect(got).to.include({ caFile: '/sa/ca.crt', tokenFile: '/sa/token' });
      });
    }
  });

  describe('kubeconfigPaths', () => {
    const cases: Array<{ name: string; env: NodeJS.ProcessEnv; want: string[] }> = [
      { name: 'KUBECONFIG with several files, empty parts skipped', env: { KUBECONFIG: '/a::/b' }, want: ['/a', '/b'] },
      { name: 'no KUBECONFIG: ~/.kube/config', env: {}, want: ['/home/u/.kube/config'] },
      { name: 'empty KUBECONFIG: ~/.kube/config', env: { KUBECONFIG: '' }, want: ['/home/u/.kube/config'] },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(kubeconfigPaths(c.env, '/home/u', ':')).to.deep.equal(c.want);
      });
    }
  });
});
