// Plain JSON requests to the apiserver over node:https / node:http, and
// watches as a stream of newline-delimited JSON events. Every call takes an
// AbortSignal; a non-2xx answer becomes an ApiError (status code and the
// apiserver's Status kept) that errors.ts reads like any other.
import http from 'node:http';
import https from 'node:https';
import type { Connection } from './connection.js';
import { apiError, LineSplitter, parseWatchEvent, patchContentType, requestUrl, type PatchKind, type Query, type WatchEvent } from './wire.js';

export interface CallOptions {
  signal?: AbortSignal;
  query?: Query;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** Told once the apiserver accepted the watch (200), before any event. */
  onOpen?: () => void;
  idleTimeoutMs?: number;
}

interface Raw {
  method: string;
  path: string;
  query?: Query;
  body?: string;
  contentType?: string;
  signal?: AbortSignal;
}

/** How long a watch may stay silent before it is closed (as the client library's watch: bookmarks come more often). */
export const WATCH_IDLE_TIMEOUT_MS = 30_000;

function timeoutError(): Error {
  return new DOMException('the watch was silent too long', 'TimeoutError');
}

/** A request about to leave: its method and URL, which `beforeRequest` may change (tests that watch or steer the requests). */
export interface OutgoingRequest {
  method: string;
  url: URL;
}

export interface ApiClientOptions {
  beforeRequest?: (request: OutgoingRequest) => Promise<void> | void;
}

export class ApiClient {
  constructor(
    readonly connection: Connection,
    private readonly options: ApiClientOptions = {},
  ) {}

  private async open(raw: Raw): Promise<http.IncomingMessage> {
    const { agent, headers } = await this.connection.requestOptions();
    const outgoing: OutgoingRequest = { method: raw.method, url: new URL(requestUrl(this.connection.server, raw.path, raw.query)) };
    await this.options.beforeRequest?.(outgoing);
    const url = outgoing.url;
    const send = url.protocol === 'https:' ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = send(url, {
        method: raw.method,
        agent,
        signal: raw.signal,
        // Content-Length always with a body: Node sends a DELETE's body neither chunked nor sized otherwise, which the apiserver refuses (400).
        headers: {
          Accept: 'application/json',
          ...headers,
          ...(raw.contentType ? { 'Content-Type': raw.contentType } : {}),
          ...(raw.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(raw.body)) } : {}),
        },
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.end(raw.body);
    });
  }

  /** One request; the parsed JSON answer, or ApiError on a non-2xx status. */
  async send<T>(raw: Raw): Promise<T> {
    const response = await this.open(raw);
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 299) throw apiError(`${raw.method} ${raw.path}`, status, text);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  get<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.send({ method: 'GET', path, ...options });
  }

  create<T>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    return this.send({ method: 'POST', path, body: JSON.stringify(body), contentType: 'application/json', ...options });
  }

  replace<T>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    return this.send({ method: 'PUT', path, body: JSON.stringify(body), contentType: 'application/json', ...options });
  }

  /** A patch of `kind`; apply patches need `fieldManager` (and usually `force`) in the query. */
  patch<T>(path: string, kind: PatchKind, patch: unknown, options: CallOptions = {}): Promise<T> {
    return this.send({ method: 'PATCH', path, body: JSON.stringify(patch), contentType: patchContentType(kind), ...options });
  }

  delete<T>(path: string, options: CallOptions & { body?: unknown } = {}): Promise<T> {
    const { body, ...rest } = options;
    return this.send({ method: 'DELETE', path, ...(body !== undefined ? { body: JSON.stringify(body), contentType: 'application/json' } : {}), ...rest });
  }

  /**
   * Watches `path` (watch=true is added): each event to `onEvent` in order.
   * Resolves when the server ends the stream; rejects with ApiError on a
   * non-2xx answer, with a TimeoutError after WATCH_IDLE_TIMEOUT_MS of
   * silence, or with the abort reason when `signal` aborts.
   */
  async watch(path: string, query: Query, onEvent: (event: WatchEvent) => void, options: WatchOptions = {}): Promise<void> {
    const { signal, onOpen, idleTimeoutMs = WATCH_IDLE_TIMEOUT_MS } = options;
    const ctl = new AbortController();
    const follow = (): void => ctl.abort(signal?.reason);
    if (signal?.aborted) follow();
    signal?.addEventListener('abort', follow, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const resetTimer = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => ctl.abort(timeoutError()), idleTimeoutMs);
      timer.unref();
    };
    try {
      resetTimer();
      const response = await this.open({ method: 'GET', path, query: { ...query, watch: 'true' }, signal: ctl.signal });
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        const chunks: Buffer[] = [];
        for await (const chunk of response) chunks.push(chunk as Buffer);
        throw apiError(`WATCH ${path}`, status, Buffer.concat(chunks).toString('utf8'));
      }
      onOpen?.();
      response.setEncoding('utf8');
      const lines = new LineSplitter();
      for await (const chunk of response) {
        resetTimer();
        for (const line of lines.push(chunk as string)) onEvent(parseWatchEvent(line));
      }
      for (const line of lines.end()) onEvent(parseWatchEvent(line));
    } catch (err) {
      throw ctl.signal.aborted ? (ctl.signal.reason ?? err) : err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', follow);
    }
  }
}
