// The I/O side of a connection: the files a resolved connection names are
// read here, one keep-alive agent carries every request and watch, and a
// token file is read again every minute (a projected service account token
// is rotated on disk). Auth this client does not speak is applied by the
// client library, imported only for such a kubeconfig.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { inClusterConnection, kubeconfigPaths, resolveKubeconfig, type KubeconfigFile, type ResolvedConnection } from './kubeconfig.js';

/** What each request needs: the server, and the agent and headers that authenticate it. */
export interface Connection {
  readonly server: string;
  readonly namespace?: string;
  requestOptions(): Promise<{ agent: http.Agent; headers: Record<string, string> }>;
  /** Closes idle sockets (shutdown). */
  close(): void;
}

const TOKEN_REREAD_MS = 60_000;

function readBytes(data: string | undefined, file: string | undefined, what: string): Buffer | undefined {
  if (data !== undefined) return Buffer.from(data, 'base64');
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** A connection this client authenticates itself: bearer token (inline or file) and/or client certificate. */
export function directConnection(resolved: ResolvedConnection, now: () => number = Date.now): Connection {
  if (resolved.exotic !== undefined) throw new Error(`kubeconfig: ${resolved.exotic} needs the client library`);
  const ca = readBytes(resolved.caData, resolved.caFile, 'certificate authority');
  const cert = readBytes(resolved.certData, resolved.certFile, 'client certificate');
  const key = readBytes(resolved.keyData, resolved.keyFile, 'client key');
  const secure = resolved.server.startsWith('https:');
  const agent = secure
    ? new https.Agent({ keepAlive: true, ca, cert, key, rejectUnauthorized: !resolved.insecureSkipTLSVerify, servername: resolved.tlsServerName })
    : new http.Agent({ keepAlive: true });
  let token = resolved.token;
  let readAt = -Infinity;
  const currentToken = (): string | undefined => {
    if (resolved.tokenFile === undefined || now() - readAt < TOKEN_REREAD_MS) return token;
    token = readFileSync(resolved.tokenFile, 'utf8').trim();
    readAt = now();
    return token;
  };
  return {
    server: resolved.server,
    ...(resolved.namespace !== undefined ? { namespace: resolved.namespace } : {}),
    requestOptions: () => {
      const bearer = currentToken();
      const headers: Record<string, string> = bearer ? { Authorization: `Bearer ${bearer}` } : {};
      return Promise.resolve({ agent, headers });
    },
    close: () => agent.destroy(),
  };
}

/** A connection the client library authenticates (exec plugins, auth-provider, basic auth): it sets TLS and headers per request. */
export function libraryConnection(kc: KubeConfig): Connection {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const agents: http.Agent[] = [];
  return {
    server: server.replace(/\/+$/, ''),
    requestOptions: async () => {
      const options: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(options);
      const agent = server.startsWith('https:')
        ? new https.Agent({ ca: options.ca, cert: options.cert, key: options.key, rejectUnauthorized: options.rejectUnauthorized, servername: options.servername })
        : new http.Agent();
      agents.push(agent);
      if (agents.length > 16) agents.shift()?.destroy();
      return { agent, headers: (options.headers ?? {}) as Record<string, string> };
    },
    close: () => agents.forEach((a) => a.destroy()),
  };
}

/** Pure: the library's in-cluster user names its token file as an auth provider of its own, which this client reads itself. */
function libraryUserToken(authProvider: unknown): string | undefined {
  const p = authProvider as { name?: unknown; config?: { tokenFile?: unknown } } | undefined;
  return p?.name === 'tokenFile' && typeof p.config?.tokenFile === 'string' ? p.config.tokenFile : undefined;
}

/**
 * A connection from a KubeConfig the caller already loaded: this client
 * speaks for it unless its user needs the library's auth (exec, OIDC...).
 */
export function connectionFromKubeConfig(kc: KubeConfig): Connection {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const user = kc.getCurrentUser();
  const tokenFile = libraryUserToken(user?.authProvider);
  const exotic = Boolean(user?.exec) || (Boolean(user?.authProvider) && tokenFile === undefined) || Boolean(user?.username) || Boolean(user?.password);
  if (exotic) return libraryConnection(kc);
  const resolved: ResolvedConnection = { server: cluster.server.replace(/\/+$/, ''), insecureSkipTLSVerify: cluster.skipTLSVerify };
  const fields: Partial<ResolvedConnection> = {
    caData: cluster.caData, caFile: cluster.caFile, tlsServerName: cluster.tlsServerName,
    certData: user?.certData, certFile: user?.certFile, keyData: user?.keyData, keyFile: user?.keyFile,
    token: user?.token, tokenFile,
  };
  for (const [k, v] of Object.entries(fields)) if (v) (resolved as unknown as Record<string, unknown>)[k] = v;
  return directConnection(resolved);
}

function readKubeconfig(file: string): KubeconfigFile {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const first = docs[0];
  const error = first?.errors[0];
  if (error) throw new Error(`kubeconfig ${file}: ${error.message}`);
  return { path: file, doc: first?.toJS() ?? {} };
}

export interface LoadOptions {
  /** --kubeconfig: this file only. */
  kubeconfig?: string;
  env?: NodeJS.ProcessEnv;
}

/** Pure: a missing --kubeconfig file, said as the flag's error rather than as ENOENT. */
function readNamedKubeconfig(file: string): KubeconfigFile {
  try {
    return readKubeconfig(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`--kubeconfig ${file}: no such file`, { cause: err });
    throw err;
  }
}

/**
 * --kubeconfig, else the pod's service account, else $KUBECONFIG /
 * ~/.kube/config (as controller-runtime orders them). A user with auth this
 * client does not speak loads the client library for it, then only.
 */
export async function loadConnection(options: LoadOptions = {}): Promise<Connection> {
  const env = options.env ?? process.env;
  const inCluster = options.kubeconfig === undefined ? inClusterConnection(env) : undefined;
  if (inCluster) return directConnection(inCluster);
  const files =
    options.kubeconfig !== undefined
      ? [readNamedKubeconfig(options.kubeconfig)]
      : kubeconfigPaths(env, homedir()).flatMap((p) => {
          try {
            return [readKubeconfig(p)];
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
            throw err;
          }
        });
  if (files.length === 0) throw new Error('no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a cluster');
  const resolved = resolveKubeconfig(files);
  if (resolved.exotic === undefined) return directConnection(resolved);
  return libraryConnection(await loadLibraryKubeConfig(options));
}

/** The client library's KubeConfig for the same choice of config as loadConnection: imported and loaded only when called. */
export async function loadLibraryKubeConfig(options: LoadOptions = {}): Promise<KubeConfig> {
  const env = options.env ?? process.env;
  const { KubeConfig: LibraryKubeConfig } = await import('@kubernetes/client-node');
  const kc = new LibraryKubeConfig();
  if (options.kubeconfig !== undefined) kc.loadFromFile(options.kubeconfig);
  else if (inClusterConnection(env)) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}
