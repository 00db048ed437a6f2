// Authentication and authorization for /metrics, as controller-runtime's
// filters.WithAuthenticationAndAuthorization does it: the bearer token is
// checked with a TokenReview, then the user it names with a
// SubjectAccessReview for the non-resource URL (verb "get"). Decisions are
// cached briefly (like the kube-rbac-proxy / apiserver delegating
// authenticator caches), so a Prometheus scraping every 15 s costs two API
// calls per cache lifetime, not per scrape.
import type { KubeConfig, V1SubjectAccessReview, V1TokenReview } from '@kubernetes/client-node';
import { clientFor } from './client/shared.js';
import { realClock, type Clock } from './clock.js';
import { callWithDeadline } from './call.js';
import { errorMessage } from './errors.js';

/** What the endpoint answers: 200 serves the metrics; 401 and 403 carry a reason. */
export type AuthDecision = { status: 200; user: string } | { status: 401 | 403 | 500; reason: string };

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** The apiserver calls the filter needs; injected so the decision logic has unit tests. */
export interface ReviewClient {
  /** The TokenReview's status: authenticated and the user, or an error text. */
  reviewToken(token: string): Promise<{ authenticated: boolean; user?: UserInfo; error?: string }>;
  /** The SubjectAccessReview's status for `verb` on the non-resource `path`. */
  reviewAccess(user: UserInfo, verb: string, path: string): Promise<{ allowed: boolean; reason?: string }>;
}

/** "Bearer abc" → "abc"; anything else → undefined (the scheme is case-insensitive, RFC 7235). */
export function bearerToken(authorization: string | undefined): string | undefined {
  const m = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return m ? m[1] : undefined;
}

/** HTTP method → authorization verb, as the apiserver maps it for non-resource URLs. */
export function verbFor(method: string | undefined): string {
  switch ((method ?? 'GET').toUpperCase()) {
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return 'get';
  }
}

/** A small map whose entries expire; the clock is injected. */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly maxEntries = 1024,
  ) {}

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V): void {
    if (this.entries.size >= this.maxEntries) {
      // Bounded: an attacker spraying tokens cannot grow memory; drop the oldest.
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expires: this.clock.now() + this.ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }
}

export interface MetricsAuthOptions {
  reviews: ReviewClient;
  /** How long an allow or deny is remembered. Default 10 s for allowed and 10 s for denied decisions. */
  cacheTtlMs?: number;
  clock?: Clock;
}

export const DEFAULT_AUTH_CACHE_TTL_MS = 10_000;

export class MetricsAuthorizer {
  private readonly reviews: ReviewClient;
  private readonly cache: TtlCache<AuthDecision>;

  constructor(options: MetricsAuthOptions) {
    this.reviews = options.reviews;
    this.cache = new TtlCache<AuthDecision>(options.cacheTtlMs ?? DEFAULT_AUTH_CACHE_TTL_MS, options.clock ?? realClock);
  }

  /** Decides one request from its Authorization header, method and path. */
  async authorize(authorization: string | undefined, method: string | undefined, path: string): Promise<AuthDecision> {
    const token = bearerToken(authorization);
    if (!token) return { status: 401, reason: 'Unauthorized: a bearer token is required' };
    const verb = verbFor(method);
    const key = `${verb} ${path} ${token}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    let decision: AuthDecision;
    try {
      decision = await this.decide(token, verb, path);
    } catch (err) {
      // An apiserver outage is not the caller's fault and is not cached.
      return { status: 500, reason: `Internal Server Error: ${errorMessage(err)}` };
    }
    this.cache.set(key, decision);
    return decision;
  }

  private async decide(token: string, verb: string, path: string): Promise<AuthDecision> {
    const review = await this.reviews.reviewToken(token);
    if (!review.authenticated || !review.user) return { status: 401, reason: `Unauthorized${review.error ? `: ${review.error}` : ''}` };
    const access = await this.reviews.reviewAccess(review.user, verb, path);
    if (!access.allowed) {
      return { status: 403, reason: `Forbidden (user=${review.user.username}, verb=${verb}, resource=, subresource=)${access.reason ? `: ${access.reason}` : ''}` };
    }
    return { status: 200, user: review.user.username };
  }
}

/** TokenReview and SubjectAccessReview against the apiserver, each call with a deadline. */
export function apiReviewClient(kubeConfig: KubeConfig, timeoutMs = 10_000): ReviewClient {
  const api = clientFor(kubeConfig);
  return {
    async reviewToken(token) {
      const res = await callWithDeadline('create TokenReview', timeoutMs, (signal) =>
        api.create<V1TokenReview>('/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } }, { signal }),
      );
      const s = res.status ?? {};
      const u = s.user;
      return {
        authenticated: s.authenticated === true,
        ...(u?.username ? { user: { username: u.username, uid: u.uid, groups: u.groups, extra: u.extra } } : {}),
        ...(s.error ? { error: s.error } : {}),
      };
    },
    async reviewAccess(user, verb, path) {
      const res = await callWithDeadline('create SubjectAccessReview', timeoutMs, (signal) =>
        api.create<V1SubjectAccessReview>(
          '/apis/authorization.k8s.io/v1/subjectaccessreviews',
          {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, nonResourceAttributes: { path, verb } },
          },
          { signal },
        ),
      );
      return { allowed: res.status?.allowed === true, ...(res.status?.reason ? { reason: res.status.reason } : {}) };
    },
  };
}
