// The pure parts of talking to the apiserver: URLs with their query, the
// content type of each patch kind, the error a non-2xx answer becomes, and
// the splitting of a watch stream into its newline-delimited JSON events.

export type Query = Record<string, string | number | boolean | undefined>;

/** Pure: `server` + `path` + the query (undefined values left out, every value URL-encoded). */
export function requestUrl(server: string, path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const qs = params.toString();
  return `${server.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}${qs === '' ? '' : `?${qs}`}`;
}

export type PatchKind = 'merge' | 'strategic' | 'json' | 'apply';

const PATCH_CONTENT_TYPES: Record<PatchKind, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** Pure: the Content-Type the apiserver reads a patch of this kind by. */
export function patchContentType(kind: PatchKind): string {
  return PATCH_CONTENT_TYPES[kind];
}

/**
 * A non-2xx answer from the apiserver: `code` is the HTTP status (what
 * errors.ts statusCode reads), `body` the Status it sent (parsed) or its
 * text, so its reason and message are kept.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly code: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** Pure: the error for a non-2xx answer to `what` (e.g. "GET /api/v1/pods"). */
export function apiError(what: string, status: number, text: string): ApiError {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): kept as text.
  }
  const message = typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : text.slice(0, 200);
  return new ApiError(`${what}: HTTP ${status}${message ? `: ${message}` : ''}`, status, body);
}

/**
 * Splits a byte stream into lines across chunk boundaries: push each chunk,
 * get the complete lines so far; the rest waits for the next chunk.
 */
export class LineSplitter {
  private rest = '';

  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const parts = text.split('\n');
    this.rest = parts.pop() ?? '';
    return parts.filter((line) => line.trim() !== '');
  }

  /** What is left at the end of the stream (a last line without its newline), if anything. */
  end(): string[] {
    const last = this.rest;
    this.rest = '';
    return last.trim() === '' ? [] : [last];
  }
}

export interface WatchEvent {
  type: string;
  object: unknown;
}

/** Pure: one line of a watch stream as an event; throws on a line that is not one. */
export function parseWatchEvent(line: string): WatchEvent {
  const parsed = JSON.parse(line) as { type?: unknown; object?: unknown };
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.type !== 'string') throw new Error(`watch: not an event: ${line.slice(0, 200)}`);
  return { type: parsed.type, object: parsed.object };
}
