// The one operator launcher: runs the built operator (dist/main.js, or
// another entry point) as a real process against a cluster, the way a user
// runs it with `make run`. The probe and metrics servers bind 127.0.0.1:0 and
// the launcher reads the addresses they got from the operator's startup log
// ("manager started"), so no port is ever picked before it is bound.
import { spawn, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import { eventually, kubeconfigPath, repoRoot } from './cluster.js';
import { OPERATOR_NODE_FLAGS } from '../../src/nodeflags.js';

export interface OperatorProcess {
  readonly child: ChildProcess;
  /** The bound ports, from the "manager started" log line (reading one before that line throws). */
  readonly healthPort: number;
  readonly metricsPort: number;
  /** http(s)://127.0.0.1:PORT/metrics, the scheme as the operator logged it. */
  readonly metricsUrl: string;
  /**
   * GET /metrics: the status and body. Over HTTPS (an operator started with
   * `secureMetrics`) the bearer `token` is sent and the self-signed
   * certificate is accepted (the server is on loopback, started by the test).
   */
  scrapeMetrics(token?: string): Promise<{ status: number; body: string }>;
  /** The memcached exporter's port, from its "exporter listening" log line (undefined before it). */
  readonly exporterPort: number | undefined;
  /** Everything the process wrote, stdout and stderr interleaved. */
  output(): string;
  /** JSON log lines parsed, non-JSON lines skipped. */
  logs(): Array<Record<string, unknown>>;
  /** Sends SIGTERM (or the given signal) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  args?: string[];
  /** Added to the test's environment (undefined removes a variable), or the whole environment with `cleanEnv`. */
  env?: Record<string, string | undefined>;
  /** Start from an empty environment (plus PATH) instead of the test's. */
  cleanEnv?: boolean;
  cwd?: string;
  kubeconfig?: string;
  /**
   * Wait for the "manager started" line and until /readyz answers 200.
   * Default true; false returns at once (for an operator expected to exit).
   */
  waitReady?: boolean;
  /** How long to wait for the startup log line and /readyz. Default 30 s. */
  readyTimeoutMs?: number;
  /** The operator's entry point. Default dist/main.js (the benchmark passes a private build). */
  main?: string;
  /** Keep only about this much output (a long benchmark logs a great deal). Default unbounded. */
  maxOutputBytes?: number;
  /** Called with the child process as soon as it is spawned. */
  onSpawn?: (child: ChildProcess) => void;
  /**
   * Serve /metrics as in a cluster (HTTPS, TokenReview + SubjectAccessReview).
   * Default false: the launcher passes the explicit --metrics-secure=false, so
   * tests and benchmarks that only read counters need no token.
   */
  secureMetrics?: boolean;
}

/** GET a /metrics URL over http or https, optionally with a bearer token; https accepts any certificate (loopback test servers only). */
export async function getMetrics(url: string, token?: string): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  if (url.startsWith('http:')) {
    const res = await fetch(url, { headers });
    return { status: res.status, body: await res.text() };
  }
  return new Promise((resolve, reject) => {
    const req = https.get(url, { headers, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
  });
}

/** "127.0.0.1:PORT" (as the manager logs a bound address) → PORT. */
function portOf(address: unknown, what: string): number {
  const m = typeof address === 'string' ? /:(\d+)$/.exec(address) : null;
  if (!m) throw new Error(`the operator logged no ${what} address (got ${JSON.stringify(address)})`);
  return Number(m[1]);
}

function parseLines(text: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null) lines.push(parsed as Record<string, unknown>);
    } catch {
      // not a JSON log line
    }
  }
  return lines;
}

export async function startOperator(options: StartOptions = {}): Promise<OperatorProcess> {
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const baseEnv = options.cleanEnv ? { PATH: process.env.PATH ?? '/usr/bin:/bin' } : { ...process.env, KUBECONFIG: undefined };
  const child = spawn(
    process.execPath,
    [
      // The image's V8 flags, so that what is measured here is what ships.
      ...OPERATOR_NODE_FLAGS,
      options.main ?? path.join(repoRoot, 'dist', 'main.js'),
      '--kubeconfig',
      options.kubeconfig ?? kubeconfigPath,
      '--health-probe-bind-address=127.0.0.1:0',
      '--metrics-bind-address=127.0.0.1:0',
      ...(options.secureMetrics ? [] : ['--metrics-secure=false']),
      // Several operators share a machine: the exporter binds a free port too
      // (a private build given as `main` may predate the flag).
      ...(options.main ? [] : ['--exporter-bind-address=127.0.0.1:0']),
      ...(options.args ?? []),
    ],
    { env: { ...baseEnv, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) },
  );
  options.onSpawn?.(child);
  const chunks: string[] = [];
  let size = 0;
  let started: Record<string, unknown> | undefined;
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString();
    chunks.push(text);
    size += chunk.length;
    // The startup line is caught as it goes by, whatever is trimmed later.
    if (!started && text.includes('manager started')) started = parseLines(chunks.join('')).find((l) => l.msg === 'manager started');
    while (options.maxOutputBytes !== undefined && size > options.maxOutputBytes && chunks.length > 1) size -= chunks.shift()!.length;
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const text = (): string => chunks.join('');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (exitCode === undefined) child.kill(signal);
    return exited;
  };

  const port = (key: 'health' | 'metrics'): number => {
    if (!started) throw new Error(`the operator has not logged "manager started" yet:\n${text()}`);
    return portOf(started[key], key === 'health' ? 'health probe' : 'metrics');
  };
  const metricsUrl = (): string => `${started?.metricsScheme === 'https' ? 'https' : 'http'}://127.0.0.1:${port('metrics')}/metrics`;
  if (options.waitReady ?? true) {
    try {
      await eventually(
        'the operator to log "manager started" with its bound addresses',
        () => {
          if (exitCode !== undefined) throw new Error(`operator exited with ${exitCode}:\n${text()}`);
          return started;
        },
        { timeoutMs, intervalMs: 25 },
      );
      const healthPort = port('health');
      await eventually(
        'the operator to report ready on /readyz',
        async () => {
          if (exitCode !== undefined) throw new Error(`operator exited with ${exitCode}:\n${text()}`);
          const res = await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        { timeoutMs, intervalMs: 50 },
      );
    } catch (err) {
      await stop('SIGKILL');
      throw err;
    }
  }
  return {
    child,
    get healthPort() {
      return port('health');
    },
    get metricsPort() {
      return port('metrics');
    },
    get metricsUrl() {
      return metricsUrl();
    },
    scrapeMetrics: (token?: string) => getMetrics(metricsUrl(), token),
    get exporterPort() {
      const line = parseLines(text()).find((l) => l.msg === 'exporter listening');
      return typeof line?.port === 'number' ? line.port : undefined;
    },
    exited,
    output: text,
    logs: () => parseLines(text()),
    stop,
  };
}
