// Where the operator's API connection comes from, without the client
// library: the pod's service account (in-cluster env and files), or a
// kubeconfig as kubectl reads it. Resolution is pure (documents in, one
// resolved connection out); reading files happens in connection.ts.
//
// KUBECONFIG may name several files. kubectl merges them so that the first
// file to set a value wins: the first current-context, and for each named
// cluster, user and context the first file that defines that name. Relative
// file paths in a kubeconfig are relative to the file that holds them.
//
// Auth this client does not speak (exec plugins, auth-provider such as OIDC,
// basic auth) resolves to `exotic`: the caller then lets the client library
// authenticate, loaded only then.
import path from 'node:path';

/** One kubeconfig file: its path and its parsed YAML. */
export interface KubeconfigFile {
  path: string;
  doc: unknown;
}

/** A connection as the kubeconfig or the pod describes it: data inline or as file paths. */
export interface ResolvedConnection {
  server: string;
  caData?: string;
  caFile?: string;
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  token?: string;
  tokenFile?: string;
  insecureSkipTLSVerify: boolean;
  tlsServerName?: string;
  namespace?: string;
  /** Set when the user's auth needs the client library (exec, auth-provider, basic auth): why. */
  exotic?: string;
}

type Named = Record<string, unknown>;

function entries(doc: unknown, list: string, field: string): Map<string, Named> {
  const out = new Map<string, Named>();
  const items = (doc as Record<string, unknown> | null)?.[list];
  if (!Array.isArray(items)) return out;
  for (const item of items as Array<Record<string, unknown> | null>) {
    const name = item?.name;
    const body = item?.[field];
    if (typeof name === 'string' && typeof body === 'object' && body !== null) out.set(name, body as Named);
  }
  return out;
}

/** Pure: kubectl's merge of several kubeconfig files (first wins), each entry's relative paths made absolute. */
export function mergeKubeconfigs(files: KubeconfigFile[]): { currentContext?: string; clusters: Map<string, Named>; users: Map<string, Named>; contexts: Map<string, Named> } {
  const merged = { currentContext: undefined as string | undefined, clusters: new Map<string, Named>(), users: new Map<string, Named>(), contexts: new Map<string, Named>() };
  for (const file of files) {
    const dir = path.dirname(file.path);
    const current = (file.doc as Record<string, unknown> | null)?.['current-context'];
    if (merged.currentContext === undefined && typeof current === 'string' && current !== '') merged.currentContext = current;
    for (const [list, field, target] of [['clusters', 'cluster', merged.clusters], ['users', 'user', merged.users], ['contexts', 'context', merged.contexts]] as const) {
      for (const [name, body] of entries(file.doc, list, field)) if (!target.has(name)) target.set(name, absolutePaths(body, dir));
    }
  }
  return merged;
}

const PATH_FIELDS = ['certificate-authority', 'client-certificate', 'client-key', 'tokenFile'];

function absolutePaths(body: Named, dir: string): Named {
  const out: Named = { ...body };
  for (const field of PATH_FIELDS) {
    const value = out[field];
    if (typeof value === 'string' && value !== '' && !path.isAbsolute(value)) out[field] = path.join(dir, value);
  }
  return out;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function exoticAuth(user: Named): string | undefined {
  if (user.exec !== undefined && user.exec !== null) return 'exec plugin';
  if (user['auth-provider'] !== undefined && user['auth-provider'] !== null) return 'auth-provider';
  if (str(user.username) !== undefined || str(user.password) !== undefined) return 'basic auth';
  return undefined;
}

/** Pure: the connection of `contextName` (else current-context) in the merged files. Throws a clear error when something is missing. */
export function resolveKubeconfig(files: KubeconfigFile[], contextName?: string): ResolvedConnection {
  const merged = mergeKubeconfigs(files);
  const name = contextName ?? merged.currentContext;
  if (name === undefined) throw new Error('kubeconfig: no current-context set and no context given');
  const context = merged.contexts.get(name);
  if (!context) throw new Error(`kubeconfig: context "${name}" not found`);
  const clusterName = str(context.cluster);
  const cluster = clusterName === undefined ? undefined : merged.clusters.get(clusterName);
  if (!cluster) throw new Error(`kubeconfig: context "${name}" names cluster "${clusterName ?? ''}", which is not defined`);
  const server = str(cluster.server);
  if (server === undefined) throw new Error(`kubeconfig: cluster "${clusterName}" has no server`);
  const userName = str(context.user);
  const user = (userName === undefined ? undefined : merged.users.get(userName)) ?? {};
  const exotic = exoticAuth(user);
  const fields: Array<[keyof ResolvedConnection, unknown]> = [
    ['caData', cluster['certificate-authority-data']],
    ['caFile', cluster['certificate-authority']],
    ['tlsServerName', cluster['tls-server-name']],
    ['certData', user['client-certificate-data']],
    ['certFile', user['client-certificate']],
    ['keyData', user['client-key-data']],
    ['keyFile', user['client-key']],
    ['token', user.token],
    ['tokenFile', user.tokenFile],
    ['namespace', context.namespace],
    ['exotic', exotic],
  ];
  const out: ResolvedConnection = { server: server.replace(/\/+$/, ''), insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true };
  for (const [key, value] of fields) if (str(value) !== undefined) (out as unknown as Record<string, unknown>)[key] = value;
  return out;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Pure: the pod's own connection from KUBERNETES_SERVICE_HOST/PORT and the service account files, or undefined outside a pod. */
export function inClusterConnection(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): ResolvedConnection | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return { server: `${scheme}://${bracketed}:${port}`, caFile: `${dir}/ca.crt`, tokenFile: `${dir}/token`, insecureSkipTLSVerify: false };
}

/** Pure: the kubeconfig paths KUBECONFIG names (':' separated, empty parts skipped), else ~/.kube/config. */
export function kubeconfigPaths(env: NodeJS.ProcessEnv, home: string, delimiter = path.delimiter): string[] {
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  return listed.length > 0 ? listed : [path.join(home, '.kube', 'config')];
}
