// The keep-the-cache and auto pilot specs' client: a restricted-PSS pod of our cache-client
// image (pylibmc with libmemcached's ketama, test/kind/images/cache-client)
// that reads the operator's server list from the mounted <name>-servers
// ConfigMap, as an application would, and the operator's side of the same
// list (status.serverList) with the pods it names, to compare.
import * as k8s from '@kubernetes/client-node';
import { eventually } from '../../support/cluster.js';
import { describePods, isPodReady, type Cluster } from '../../integration/topology/support.js';
import { k, kRun } from '../support.js';
import { execInBackground, type BackgroundExec } from './support.js';

/** Where the client pod mounts the <name>-servers ConfigMap. */
export const SERVERS_DIR = '/etc/memcached-servers';
export const SERVERS_FILE = `${SERVERS_DIR}/servers`;

function imageFromEnv(variable: string): string {
  const img = process.env[variable];
  if (!img) throw new Error(`${variable} is not set: run these specs through make test-e2e (it reads the kind bed's images.env)`);
  return img;
}

/** Our cache-client test image (kind bed: images.sh builds it into the node image). */
export const cacheClientImage = (): string => imageFromEnv('CACHE_CLIENT_IMG');
/** The memcached stand-in under its second tag: a new image name, the same memcached. */
export const retaggedMemcachedImage = (): string => imageFromEnv('MEMCACHED_RETAG_IMG');

export interface CheckResult {
  found: number;
  wrong: number;
  missing: number;
  errors: number;
}

export interface LoadResult {
  stored: number;
  failed: number;
  errors: number;
}

export interface ProbeResult {
  requests: number;
  failures: number;
  misses: number;
  longestGapMs: number;
  listChanges: number;
}

/** A running probe: stop() ends it and returns its figures. */
export interface RunningProbe {
  stop(): Promise<ProbeResult>;
}

/** What a zipf load's gets and sets came to; hitRatio is hits / (hits + misses), null without an answer. */
export interface ZipfCounts {
  gets: number;
  hits: number;
  misses: number;
  sets: number;
  errors: number;
  hitRatio: number | null;
}

/**
 * One report interval of a zipf load: t as it printed it (unix seconds), at
 * the same in milliseconds; the servers' evictions in the interval, bytes and
 * memory limit (summed), when they answered `stats`.
 */
export interface ZipfSample extends ZipfCounts {
  t: number;
  at: number;
  evictions?: number;
  bytes?: number;
  limitBytes?: number;
  servers?: number;
}

/** A zipf load's totals, printed when it stops. */
export interface ZipfTotals extends ZipfCounts {
  seconds: number;
  listChanges: number;
}

export interface ZipfOptions {
  /** Keys of the Zipf distribution: <prefix>-<offset> .. <prefix>-<offset+keys-1>, the first the most popular. */
  keys: number;
  /** Bytes of the value a miss sets. */
  size: number;
  /** Zipf exponent (default 1.0; 0 is uniform). */
  exponent?: number;
  /** Added to every rank: another offset makes other keys hot (default 0). */
  offset?: number;
  /** Gets a second (default 0: as fast as one client goes). */
  rate?: number;
  /** Seconds a set item lives (default 0: no expiry). */
  ttlSeconds?: number;
  /** The interval of the samples (default 5000). */
  reportMs?: number;
  /** Key prefix (default zipf). */
  prefix?: string;
  /** Seed of the key sequence: the same seed at the same rate asks for the same keys in the same order. */
  seed?: number;
  /** An explicit server list; by default the mounted <name>-servers ConfigMap, followed as it changes. */
  servers?: string[];
  /** The guard: the load ends by itself after this long (default 1800). */
  maxSeconds?: number;
}

/** A running zipf load: samples() are its report lines so far, stop() ends it and returns its totals. */
export interface RunningZipf {
  samples(): ZipfSample[];
  stop(): Promise<ZipfTotals>;
}

/** The zipf report lines among the complete lines of a load's output (a partial last line is left for later). */
export function zipfSamples(stdout: string): ZipfSample[] {
  const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Partial<ZipfSample>)
    .filter((r): r is ZipfSample => typeof r.t === 'number')
    .map((r) => ({ ...r, at: Math.round(r.t * 1000) }));
}

function zipfArgs(o: ZipfOptions): string[] {
  const optional: [string, number | string | undefined][] = [
    ['--exponent', o.exponent], ['--offset', o.offset], ['--rate', o.rate], ['--ttl', o.ttlSeconds], ['--report-ms', o.reportMs], ['--prefix', o.prefix], ['--seed', o.seed],
  ];
  return ['zipf', String(o.keys), '--size', String(o.size), ...optional.flatMap(([flag, v]) => (v === undefined ? [] : [flag, String(v)]))];
}

/** The last line of the client's output: its one JSON result. */
export function lastJson<T>(stdout: string): T {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`the cache client printed no JSON result: ${stdout.slice(-500)}`);
  }
}

/** The share of K keys a check found with their own value. */
export const keptShare = (r: CheckResult, k: number): number => r.found / k;

export class CacheClient {
  constructor(readonly namespace: string, readonly pod: string) {}

  /** The server list as the client reads it: an explicit list, or the mounted ConfigMap. */
  private source(servers?: string[]): string[] {
    return servers ? ['--servers', servers.join(',')] : ['--servers-file', SERVERS_FILE];
  }

  private exec<T>(args: string[]): T {
    const r = kRun(['exec', '-n', this.namespace, this.pod, '--', 'cache-client', ...args]);
    if (r.status !== 0) throw new Error(`cache-client ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
    return lastJson<T>(r.stdout);
  }

  /** Sets key-0..key-(k-1) to size-byte values derived from each key. */
  load(keys: number, size: number, servers?: string[]): LoadResult {
    return this.exec<LoadResult>([...this.source(servers), 'load', String(keys), String(size)]);
  }

  /** Gets key-0..key-(k-1) back: found with its own value, wrong, missing, or failed. */
  check(keys: number, servers?: string[]): CheckResult {
    return this.exec<CheckResult>([...this.source(servers), 'check', String(keys)]);
  }

  /** The mounted list, as the kubelet last wrote it (empty while the ConfigMap is missing). */
  mountedServers(): string[] {
    const r = kRun(['exec', '-n', this.namespace, this.pod, '--', 'cat', SERVERS_FILE]);
    return r.status === 0 ? r.stdout.split('\n').map((l) => l.trim()).filter(Boolean) : [];
  }

  /** Waits until the kubelet has written the expected list into the mount (its sync is up to about a minute). */
  async waitForMountedServers(expected: string[], timeoutMs = 150_000): Promise<void> {
    await eventually(`the client's mounted server list is ${expected.join(' ')}`, () => {
      const got = this.mountedServers();
      if (JSON.stringify(got) === JSON.stringify(expected)) return true;
      throw new Error(`mounted: ${got.join(' ') || '(none)'}`);
    }, { timeoutMs, intervalMs: 2000 });
  }

  /** Starts a get/set loop over the keys, following the mounted list; resolves once it runs. */
  async startProbe(keys: number, size: number, maxSeconds = 900): Promise<RunningProbe> {
    const load: BackgroundExec = execInBackground(this.namespace, this.pod, 'exec cache-client "$@"', [
      '--servers-file', SERVERS_FILE, 'probe', String(keys), '--size', String(size),
    ], maxSeconds);
    await load.printed(/^probing$/m, 60_000);
    return {
      async stop() {
        const r = await load.stop();
        return lastJson<ProbeResult>(r.stdout);
      },
    };
  }

  /**
   * Starts a read-through load over Zipf-popular keys (cache-client zipf);
   * resolves once it runs. To change the load, stop it and start another.
   */
  async startZipf(opts: ZipfOptions): Promise<RunningZipf> {
    const maxSeconds = opts.maxSeconds ?? 1800;
    const load = execInBackground(this.namespace, this.pod, 'exec cache-client "$@"', [...this.source(opts.servers), ...zipfArgs(opts)], maxSeconds);
    await load.printed(/^zipfing$/m, 60_000);
    return {
      samples: () => zipfSamples(load.stdout()),
      async stop() {
        const r = await load.stop();
        if (r.status === 124) throw new Error(`the zipf load ran into its guard of ${maxSeconds} s before stop(): raise maxSeconds`);
        if (r.status !== 0) throw new Error(`the zipf load failed (${r.status}): ${r.stderr.slice(-500)}${r.stdout.slice(-500)}`);
        const totals = lastJson<ZipfTotals>(r.stdout);
        if (typeof totals.seconds !== 'number') throw new Error(`the zipf load printed no totals: ${r.stdout.slice(-500)}`);
        return totals;
      },
    };
  }
}

/**
 * Starts the client pod (restricted PSS: non-root, read-only root, no
 * capabilities) with memcachedName's <name>-servers ConfigMap mounted at
 * SERVERS_DIR (optional, so the pod starts before the operator writes it).
 */
export async function startCacheClient(cluster: Cluster, namespace: string, memcachedName: string, name = 'cache-client'): Promise<CacheClient> {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'app.kubernetes.io/name': 'e2e-cache-client' } },
    spec: {
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'client',
          image: cacheClientImage(),
          imagePullPolicy: 'IfNotPresent',
          command: ['sleep', 'infinity'],
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          volumeMounts: [{ name: 'servers', mountPath: SERVERS_DIR, readOnly: true }],
        },
      ],
      volumes: [{ name: 'servers', configMap: { name: `${memcachedName}-servers`, optional: true } }],
    },
  };
  k(['apply', '--server-side', '-n', namespace, '-f', '-'], JSON.stringify(pod));
  await eventually(`cache client pod ${namespace}/${name} Ready`, async () => {
    const p = await cluster.core.readNamespacedPod({ namespace, name });
    if (isPodReady(p)) return true;
    throw new Error(describePods([p]));
  }, { timeoutMs: 120_000, intervalMs: 500 });
  return new CacheClient(namespace, name);
}

/** The operator's two views of the server list: status.serverList and the <name>-servers ConfigMap. */
export async function operatorServerLists(cluster: Cluster, namespace: string, name: string): Promise<{ status: string[]; configMap: string[] }> {
  const mc = (await cluster.custom.getNamespacedCustomObject({ group: 'cache.example.com', version: 'v1alpha1', namespace, plural: 'memcacheds', name })) as {
    status?: { serverList?: string[] };
  };
  const cm = await cluster.core.readNamespacedConfigMap({ namespace, name: `${name}-servers` }).catch(() => undefined);
  const configMap = (cm?.data?.servers ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  return { status: mc.status?.serverList ?? [], configMap };
}

/** One memcached pod as the rows compare it: which pod object, and how often its container restarted. */
export interface PodMark {
  uid: string;
  restarts: number;
}

/** The Memcached's pods by name. */
export async function markPods(cluster: Cluster, namespace: string, name: string): Promise<Map<string, PodMark>> {
  const pods: k8s.V1Pod[] = await cluster.pods(namespace, name);
  return new Map(pods.map((p) => [p.metadata!.name!, {
    uid: p.metadata!.uid!,
    restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
  }]));
}

/**
 * Pods of `before` that are gone or are another pod object now (a new UID),
 * and the container restarts of the pods that stayed.
 */
export function podChanges(before: Map<string, PodMark>, after: Map<string, PodMark>): { replaced: number; restarts: number } {
  let replaced = 0;
  let restarts = 0;
  for (const [name, was] of before) {
    const now = after.get(name);
    if (!now || now.uid !== was.uid) replaced++;
    else restarts += now.restarts - was.restarts;
  }
  return { replaced, restarts };
}
