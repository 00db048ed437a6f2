// Lists as client-go's pager does: pages of 500 (limit, then continue), each
// page parsed as plain JSON and cut down by the caller's transform before
// the next is fetched, so the raw form of a large list never sits in memory
// whole. The client library's generic list parses each response and then
// deserialises it again into its generated model classes (every item, every
// nested field, timestamps into Dates), all of which the informer's
// transform throws away. This path goes through the runtime's own client
// (client/), so listing loads nothing of the library.
//
// A continue token expires (410 Gone) once the apiserver has compacted the
// snapshot it points into; the list then starts again from the first page,
// as the reflector does.
import type { KubeConfig } from '@kubernetes/client-node';
import { clientFor } from './client/shared.js';

/** True for 410 Gone however client-node surfaced it (HTTP status, Status object, or watch ERROR event). */
export function isResourceExpired(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { statusCode?: unknown; code?: unknown; status?: unknown; body?: unknown };
  if (e.statusCode === 410 || e.code === 410 || e.status === 410) return true;
  if (typeof e.body === 'object' && e.body !== null && (e.body as { code?: unknown }).code === 410) return true;
  if (typeof e.body === 'string') return /"code"\s*:\s*410\b/.test(e.body);
  return false;
}

export const DEFAULT_PAGE_SIZE = 500;
/** How often one list may start again on an expired continue token before it fails (and the informer backs off). */
export const MAX_LIST_RESTARTS = 3;

export interface RawListPage {
  items?: unknown[];
  metadata?: { resourceVersion?: string; continue?: string };
}

export interface PageRequest {
  limit: number;
  continue?: string;
}

export type FetchPage = (request: PageRequest) => Promise<RawListPage>;

export interface PagedList<T> {
  items: T[];
  /** The snapshot every page was served from: where the watch starts. */
  resourceVersion: string;
  /** Pages fetched, restarts included. */
  pages: number;
  restarts: number;
}

export interface PagingOptions {
  pageSize?: number;
  maxRestarts?: number;
  /** Told of each restart on an expired continue token. */
  onRestart?: (err: unknown, pagesSoFar: number) => void;
}

/**
 * Fetches every page and hands each page's items to `onPage` (which keeps
 * what it returns) before asking for the next. On 410 Gone for a continue
 * token, drops what it kept and starts again from the first page.
 */
export async function listAllPages<T>(fetchPage: FetchPage, onPage: (items: unknown[]) => T[], options: PagingOptions = {}): Promise<PagedList<T>> {
  const limit = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const maxRestarts = options.maxRestarts ?? MAX_LIST_RESTARTS;
  let pages = 0;
  for (let restarts = 0; ; restarts++) {
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    try {
      do {
        const page = await fetchPage(token === undefined ? { limit } : { limit, continue: token });
        pages++;
        for (const kept of onPage(page.items ?? [])) items.push(kept);
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        token = page.metadata?.continue || undefined;
      } while (token !== undefined);
      return { items, resourceVersion, pages, restarts };
    } catch (err) {
      if (token === undefined || !isResourceExpired(err) || restarts >= maxRestarts) throw err;
      options.onRestart?.(err, pages);
    }
  }
}

/** The query of one page request: limit, continue and the label selector, URL-encoded. */
export function pageQuery(request: PageRequest, labelSelector?: string): string {
  const query = new URLSearchParams({ limit: String(request.limit) });
  if (request.continue !== undefined) query.set('continue', request.continue);
  if (labelSelector) query.set('labelSelector', labelSelector);
  return query.toString();
}

/**
 * One page of `path` (a collection URL path) from the KubeConfig's current
 * cluster, as plain JSON. Fails with the client's ApiError on a non-2xx
 * answer (so 410 is told apart as everywhere else), or at the deadline.
 */
export function pageFetcher(kc: KubeConfig, path: string, labelSelector?: string, timeoutMs = 60_000): FetchPage {
  const client = clientFor(kc);
  return (request) => client.get<RawListPage>(path, { query: Object.fromEntries(new URLSearchParams(pageQuery(request, labelSelector))), signal: AbortSignal.timeout(timeoutMs) });
}
