import { expect } from 'chai';
import { LeaderElectionConfigError, timingsFor } from '@memcached-operator/runtime';
import { DEFAULT_MEMCACHED_IMAGE, OptionsError, parseDuration, parseOptions, timingFlag, usage } from '../../src/options.js';

describe('options', () => {
  it('has controller-runtime style defaults', () => {
    const o = parseOptions([], {});
    expect(o).to.include({
      metricsBindAddress: ':8443',
      metricsSecure: true,
      healthProbeBindAddress: ':8081',
      maxConcurrentReconciles: 4,
      logLevel: 'info',
      leaderElect: false,
      leaderElectionId: 'memcached-operator-lock',
      leaderElectionMode: 'lease',
      defaultImage: DEFAULT_MEMCACHED_IMAGE,
    });
    expect(o.watchNamespaces).to.deep.equal([]);
    expect(o.leaseDurationMs).to.equal(undefined);
    expect(o.metricsCertPath).to.equal(undefined);
  });

  it("takes the alerts' runbook base URL from --runbook-base-url, defaulting to the repository's docs/runbooks", () => {
    expect(parseOptions([], {}).runbookBaseUrl).to.match(/^https:\/\/.+\/docs\/runbooks$/);
    expect(parseOptions(['--runbook-base-url=https://wiki.example.com/runbooks'], {}).runbookBaseUrl).to.equal('https://wiki.example.com/runbooks');
    for (const bad of ['wiki.example.com/runbooks', 'ftp://wiki.example.com/runbooks', 'https://wiki.example.com/runbooks?page=1', 'https://']) {
      expect(() => parseOptions([`--runbook-base-url=${bad}`], {}), bad).to.throw(OptionsError, /--runbook-base-url .* is not an http\(s\) URL/);
    }
  });

  it('serves plain HTTP metrics only behind the explicit --metrics-secure=false', () => {
    expect(parseOptions(['--metrics-secure=false'], {}).metricsSecure).to.equal(false);
    expect(parseOptions(['--metrics-secure'], {}).metricsSecure).to.equal(true);
    expect(parseOptions(['--metrics-cert-path=/tmp/k8s-metrics-server/metrics-certs'], {}).metricsCertPath).to.equal('/tmp/k8s-metrics-server/metrics-certs');
  });

  it('accepts --flag=value, --flag value and bare booleans', () => {
    const o = parseOptions(
      ['--kubeconfig', '/tmp/kc', '--max-concurrent-reconciles=8', '--leader-elect', '--leader-election-lease-duration=1m30s', '--log-level', 'debug'],
      {},
    );
    expect(o).to.include({ kubeconfig: '/tmp/kc', maxConcurrentReconciles: 8, leaderElect: true, leaseDurationMs: 90_000, logLevel: 'debug' });
    expect(parseOptions(['--leader-elect=false'], {}).leaderElect).to.equal(false);
  });

  it('reads WATCH_NAMESPACE, RELATED_IMAGE_MEMCACHED and the downward API', () => {
    const o = parseOptions([], { WATCH_NAMESPACE: 'a, b,a', RELATED_IMAGE_MEMCACHED: 'quay.io/x/memcached:1.6', POD_NAME: 'p', POD_NAMESPACE: 'ns' });
    expect(o.watchNamespaces).to.deep.equal(['a', 'b']);
    expect(o).to.include({ defaultImage: 'quay.io/x/memcached:1.6', podName: 'p', podNamespace: 'ns' });
    expect(parseOptions([], { WATCH_NAMESPACE: '' }).watchNamespaces).to.deep.equal([]);
  });

  const bad: Array<[string[], Record<string, string>, RegExp]> = [
    [['--nope'], {}, /unknown flag --nope/],
    [['positional'], {}, /unexpected argument "positional"/],
    [['--max-concurrent-reconciles=0'], {}, /at least 1/],
    [['--max-concurrent-reconciles=two'], {}, /whole number/],
    [['--log-level=loud'], {}, /one of error, warn, info, debug/],
    [['--leader-elect=yes'], {}, /true or false/],
    [['--metrics-secure=no'], {}, /true or false/],
    [['--metrics-cert-path='], {}, /needs a value/],
    [['--leader-election-mode=forever'], {}, /lease, leader-for-life/],
    [['--leader-election-lease-duration=15'], {}, /not a duration/],
    [['--metrics-bind-address=localhost'], {}, /not an address/],
    [['--health-probe-bind-address=:99999'], {}, /not an address/],
    [['--kubeconfig'], {}, /needs a value/],
    [['--log-level=info', '--log-level=debug'], {}, /more than once/],
    [['--leader-election-id=Not_Valid'], {}, /not a valid object name/],
    [[], { WATCH_NAMESPACE: 'ok,Bad_NS' }, /WATCH_NAMESPACE .* invalid namespace "Bad_NS"/],
    [[], { RELATED_IMAGE_MEMCACHED: 'has space' }, /not an image reference/],
    [[], { POD_NAMESPACE: 'UPPER' }, /POD_NAMESPACE/],
  ];
  for (const [argv, env, message] of bad) {
    it(`rejects ${JSON.stringify(argv)} ${JSON.stringify(env)} clearly`, () => {
      expect(() => parseOptions(argv, env)).to.throw(OptionsError, message);
    });
  }

  it('parses Go durations', () => {
    expect(parseDuration('500ms')).to.equal(500);
    expect(parseDuration('15s')).to.equal(15_000);
    expect(parseDuration('1h2m3s')).to.equal(3_723_000);
    expect(parseDuration('1.5s')).to.equal(1500);
    expect(() => parseDuration('s')).to.throw(/not a duration/);
    expect(() => parseDuration('10s garbage')).to.throw(/not a duration/);
  });

  it('lists every flag in --help', () => {
    const text = usage();
    for (const flag of ['--kubeconfig', '--metrics-bind-address', '--metrics-secure', '--metrics-cert-path', '--health-probe-bind-address', '--max-concurrent-reconciles', '--log-level', '--leader-elect', '--leader-election-mode', '--version']) {
      expect(text).to.contain(flag);
    }
  });

  describe('timingFlag (the runtime names a bad leader-election timing by the flag that set it)', () => {
    const cases: [Parameters<typeof timingFlag>[0], string][] = [
      ['leaseDurationMs', '--leader-election-lease-duration'],
      ['renewDeadlineMs', '--leader-election-renew-deadline'],
      ['retryPeriodMs', '--leader-election-retry-period'],
      ['jitterFactor', 'jitterFactor'],
    ];
    for (const [field, flag] of cases) {
      it(`${field} -> ${flag}`, () => expect(timingFlag(field)).to.equal(flag));
    }

    it('a lease duration the single-node renew deadline outlasts is reported with both flags', () => {
      const opts = parseOptions(['--leader-elect', '--leader-election-lease-duration=20s', '--leader-election-namespace=ops'], {});
      expect(() => timingsFor('SingleReplica', { leaseDurationMs: opts.leaseDurationMs }, timingFlag))
        .to.throw(LeaderElectionConfigError)
        .with.property('message')
        .that.contains('--leader-election-lease-duration (20s) must be greater than --leader-election-renew-deadline (240s)');
    });
  });
});
