// The operator's one memcached client: the exporter's scrape, the stats poll
// and certificate rotation all talk to memcached through it. Plaintext or
// TLS (with a client key pair, and an optional check of the server's
// certificate before anything is sent), authentication (memcached -Y), one
// deadline for the whole conversation, and a cap on what the peer may send.
// What is sent and how replies read is pure, in text.ts.
import net from 'node:net';
import tls from 'node:tls';
import { authCommand, lineReplyEnd, parseStats, replyLine, statsReplyEnd, type Credentials } from './text.js';

/** Where a memcached listens. */
export interface Endpoint {
  host: string;
  port: number;
}

/** How to reach a memcached that runs with TLS (spec.tls) or authentication (spec.auth). Omitted: plaintext, no auth. */
export interface ConnectionSecurity {
  /**
   * Connect with TLS, with these options (ca to verify the server, cert and
   * key when memcached requires a client certificate). Node's defaults
   * apply: the server's certificate is verified unless ca or
   * rejectUnauthorized says otherwise.
   */
  tls?: tls.ConnectionOptions;
  /** Authenticate first as this authfile user (memcached -Y). */
  auth?: Credentials;
  /**
   * With tls: checks the server's certificate before anything is sent (for
   * a caller that accepts any chain but knows which certificates its pods
   * serve); returns why the server is not trusted, or undefined.
   */
  verifyServer?: (certificate: tls.PeerCertificate) => string | undefined;
}

export interface SessionOptions {
  /** The deadline for everything from connecting to the last reply. */
  timeoutMs: number;
  /** The most the peer may send that is not yet read; `stats` is about 3 KiB, so the default only stops a runaway peer. */
  maxReplyBytes?: number;
}

const DEFAULT_MAX_REPLY_BYTES = 64 * 1024;

/** Finds where a reply ends in what has arrived (undefined: not yet). */
type ReplyEnd = (received: string) => number | undefined;

/** One connection to one memcached, for a short conversation: open, send, close. */
export class MemcachedSession {
  private received = '';
  private failure: Error | undefined;
  private waiting: { replyEnd: ReplyEnd; resolve: (reply: string) => void; reject: (err: Error) => void } | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly label: string;

  private constructor(
    private readonly socket: net.Socket | tls.TLSSocket,
    endpoint: Endpoint,
    private readonly options: SessionOptions,
  ) {
    this.label = `${endpoint.host}:${endpoint.port}`;
    this.timer = setTimeout(() => this.fail(new Error(`no reply from ${this.label} within ${options.timeoutMs} ms`)), options.timeoutMs);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => this.fail(err));
    socket.on('close', () => this.fail(new Error(`${this.label} closed the connection${this.received ? ` after "${this.received.trim()}"` : ''}`)));
  }

  /**
   * Connects, checks the server's certificate when security says how, and
   * authenticates when it names a user. Rejects (with nothing sent to an
   * untrusted server) on any failure.
   */
  static async open(endpoint: Endpoint, security: ConnectionSecurity, options: SessionOptions): Promise<MemcachedSession> {
    const socket = security.tls
      ? tls.connect({ servername: net.isIP(endpoint.host) ? undefined : endpoint.host, ...security.tls, host: endpoint.host, port: endpoint.port })
      : net.connect({ host: endpoint.host, port: endpoint.port });
    const session = new MemcachedSession(socket, endpoint, options);
    await session.connected(security.tls ? 'secureConnect' : 'connect');
    const distrust = security.tls && security.verifyServer?.((socket as tls.TLSSocket).getPeerCertificate());
    if (distrust) {
      session.close();
      throw new Error(`${session.label}: ${distrust}; nothing sent`);
    }
    try {
      if (security.auth) await session.authenticate(security.auth);
    } catch (err) {
      session.close();
      throw err;
    }
    return session;
  }

  /** The certificate the server presented (TLS only). */
  peerCertificate(): tls.PeerCertificate | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket.getPeerCertificate() : undefined;
  }

  async authenticate(auth: Credentials): Promise<void> {
    const reply = replyLine(await this.send(authCommand(auth), lineReplyEnd));
    if (reply !== 'STORED') throw new Error(`${this.label} refused the authentication: ${reply}`);
  }

  /** `stats` (or `stats <group>`), parsed; an error reply rejects. */
  async stats(group = ''): Promise<Map<string, string>> {
    return parseStats(await this.send(`stats${group ? ` ${group}` : ''}\r\n`, statsReplyEnd));
  }

  /** Tells memcached to reload its certificate files. */
  async refreshCerts(): Promise<void> {
    const reply = replyLine(await this.send('refresh_certs\r\n', lineReplyEnd));
    if (reply !== 'OK') throw new Error(`${this.label} answered refresh_certs with "${reply}"`);
  }

  /** Sends a command and resolves with its reply, which ends where replyEnd says. */
  send(command: string | Buffer, replyEnd: ReplyEnd): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting) return Promise.reject(new Error(`${this.label}: a command is still waiting for its reply`));
    return new Promise((resolve, reject) => {
      this.waiting = { replyEnd, resolve, reject };
      this.socket.write(command);
      // memcached may have answered already (a connection refused at its limit).
      this.deliver();
    });
  }

  close(): void {
    this.fail(new Error(`${this.label}: session closed`));
  }

  private connected(event: 'connect' | 'secureConnect'): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.waiting = { replyEnd: () => undefined, resolve: () => undefined, reject };
      this.socket.once(event, () => {
        this.waiting = undefined;
        resolve();
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.toString('latin1');
    const limit = this.options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    if (this.received.length > limit) return this.fail(new Error(`reply from ${this.label} is larger than ${limit} bytes`));
    this.deliver();
  }

  private deliver(): void {
    const waiting = this.waiting;
    const end = waiting?.replyEnd(this.received);
    if (!waiting || end === undefined) return;
    this.waiting = undefined;
    const reply = this.received.slice(0, end);
    this.received = this.received.slice(end);
    waiting.resolve(reply);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    clearTimeout(this.timer);
    this.socket.destroy();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(err);
  }
}

/** Reads `stats` on a fresh connection: the exporter's scrape and the stats poll. */
export async function fetchStats(endpoint: Endpoint, timeoutMs: number, security: ConnectionSecurity = {}): Promise<Map<string, string>> {
  const session = await MemcachedSession.open(endpoint, security, { timeoutMs });
  try {
    return await session.stats();
  } finally {
    session.close();
  }
}
