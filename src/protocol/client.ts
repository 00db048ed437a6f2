// The operator's one memcached client: the exporter's scrape, the stats poll
// and certificate rotation all talk to memcached through it. Plaintext or
// TLS (with a client key pair, and an optional check of the server's
// certificate before anything is sent), authentication (memcached -Y), one
// deadline for the whole conversation, and a cap on what the peer may send
// that is not yet read. Replies are read as latin1 (one char per byte), so
// values are byte-exact; keep the cache streams a key dump line by line and
// pipelines meta commands in batches. What is sent and how replies read is
// pure, in text.ts and meta.ts.
import net from 'node:net';
import tls from 'node:tls';
import { META_NOOP, metaDeleteCommand, metaGetCommand, metaSetCommand, takeMetaReply, type MetaKey, type MetaReply, type MetaSetItem } from './meta.js';
import { authCommand, CRLF, isErrorLine, lineReplyEnd, parseStats, replyLine, statsReplyEnd, type Credentials } from './text.js';

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

/** Reads what has arrived of a reply: how much of it was used up, and whether the reply is complete. */
type ReplyReader = (received: string) => { used: number; done: boolean };

/** One connection to one memcached, for a short conversation: open, send, close. */
export class MemcachedSession {
  private received = '';
  private failure: Error | undefined;
  private waiting: { read: ReplyReader; resolve: () => void; reject: (err: Error) => void } | undefined;
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

  /** Tells memcached to shut down once its connections are done (memcached -A); resolves when it closed this one. */
  async shutdownGraceful(): Promise<void> {
    let peerClosed = false;
    this.socket.once('close', () => (peerClosed = true));
    let reply: string;
    try {
      reply = await this.send(`shutdown graceful${CRLF}`, lineReplyEnd);
    } catch (err) {
      // memcached answers by closing the connection; a deadline or an error is not that.
      if (peerClosed) return;
      throw err;
    }
    throw new Error(`${this.label} refused shutdown graceful: ${replyLine(reply)}`);
  }

  /** How many items memcached holds (stats curr_items). */
  async currItems(): Promise<number> {
    return Number((await this.stats()).get('curr_items'));
  }

  /**
   * `lru_crawler metadump all`: hands each line of the dump (a key's
   * metadata, see keyspace/metadump.ts) to onLine as it arrives, so a dump of
   * millions of keys never sits in memory; resolves at END, rejects on an
   * error (the crawler busy, or metadump not allowed).
   */
  async metadumpAll(onLine: (line: string) => void): Promise<void> {
    let refusal: string | undefined;
    await this.converse('lru_crawler metadump all\r\n', (received) => {
      let used = 0;
      for (let end = received.indexOf('\n'); end >= 0; end = received.indexOf('\n', used)) {
        const line = received.slice(used, end).replace(/\r$/, '');
        used = end + 1;
        if (line === 'END') return { used, done: true };
        if (isErrorLine(line) || line.startsWith('BUSY')) {
          refusal = line;
          return { used, done: true };
        }
        onLine(line);
      }
      return { used, done: false };
    });
    if (refusal) throw new Error(`${this.label} refused lru_crawler metadump: ${refusal}`);
  }

  /** mg for each key in one write: value, client flags and remaining TTL, or EN for a miss; one reply per key, in order. */
  metaGet(keys: readonly MetaKey[]): Promise<MetaReply[]> {
    return this.pipeline(keys.map(metaGetCommand));
  }

  /** ms for each item in one write; one reply per item, in order (HD stored, NS not stored). */
  metaSet(items: readonly MetaSetItem[]): Promise<MetaReply[]> {
    return this.pipeline(items.map(metaSetCommand));
  }

  /** md for each key in one write; one reply per key, in order (HD deleted, NF not found). */
  metaDelete(keys: readonly MetaKey[]): Promise<MetaReply[]> {
    return this.pipeline(keys.map(metaDeleteCommand));
  }

  /** Sends a command and resolves with its reply, which ends where replyEnd says. */
  async send(command: string | Buffer, replyEnd: ReplyEnd): Promise<string> {
    let reply = '';
    await this.converse(command, (received) => {
      const end = replyEnd(received);
      if (end === undefined) return { used: 0, done: false };
      reply = received.slice(0, end);
      return { used: end, done: true };
    });
    return reply;
  }

  /**
   * Writes commands at once and an mn after them, then reads the replies,
   * each as it completes (so only a reply not yet whole counts against
   * maxReplyBytes), up to MN. One reply per command, or a clear error: a
   * reply too many or too few would pair every later reply with the wrong key.
   */
  private async pipeline(commands: readonly (string | Buffer)[]): Promise<MetaReply[]> {
    const replies: MetaReply[] = [];
    if (commands.length === 0) return replies;
    const payload = Buffer.concat([...commands, META_NOOP].map((c) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c)));
    await this.converse(payload, (received) => {
      let used = 0;
      for (let taken = takeMetaReply(received, 0); taken; taken = takeMetaReply(received, used)) {
        used = taken.end;
        if (taken.reply.code === 'MN') return { used, done: true };
        replies.push(taken.reply);
      }
      return { used, done: false };
    });
    if (replies.length !== commands.length) throw new Error(`${this.label} sent ${replies.length} replies to ${commands.length} meta commands: ${replies.map((r) => r.code).join(', ')}`);
    return replies;
  }

  /** Writes command and feeds what arrives to read until it says the reply is complete. */
  private converse(command: string | Buffer, read: ReplyReader): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting) return Promise.reject(new Error(`${this.label}: a command is still waiting for its reply`));
    return new Promise((resolve, reject) => {
      this.waiting = { read, resolve, reject };
      if (command.length > 0) this.socket.write(command);
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
      this.waiting = { read: () => ({ used: 0, done: false }), resolve: () => undefined, reject };
      this.socket.once(event, () => {
        this.waiting = undefined;
        resolve();
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.toString('latin1');
    this.deliver();
    const limit = this.options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    if (this.received.length > limit) this.fail(new Error(`reply from ${this.label} is larger than ${limit} bytes`));
  }

  private deliver(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    let progress: { used: number; done: boolean };
    try {
      progress = waiting.read(this.received);
    } catch (err) {
      return this.fail(err instanceof Error ? err : new Error(String(err)));
    }
    if (progress.used > 0) this.received = this.received.slice(progress.used);
    if (!progress.done) return;
    this.waiting = undefined;
    waiting.resolve();
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
