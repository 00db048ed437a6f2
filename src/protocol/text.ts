// memcached's text protocol, the part the operator speaks, as pure functions:
// the commands it sends, where a reply ends in what has arrived so far, and
// what a reply says. The connection that uses them is client.ts.

export const CRLF = '\r\n';

/** An authfile user (memcached -Y). */
export interface Credentials {
  username: string;
  password: string;
}

/** The text-protocol authentication of memcached -Y: a set whose data is "user password". */
export function authCommand(auth: Credentials): string {
  const token = `${auth.username} ${auth.password}`;
  return `set auth 0 0 ${Buffer.byteLength(token)}${CRLF}${token}${CRLF}`;
}

/** Whether a reply line is one of memcached's errors (to any command). */
export function isErrorLine(line: string): boolean {
  return /^(ERROR|CLIENT_ERROR|SERVER_ERROR)\b/.test(line);
}

/** Where a one-line reply (STORED, OK, an error) ends in received, or undefined until its CRLF has arrived. */
export function lineReplyEnd(received: string): number | undefined {
  const end = received.indexOf(CRLF);
  return end < 0 ? undefined : end + CRLF.length;
}

/**
 * Where the reply to `stats` ends in received: after its END line, or after
 * an error line (memcached refusing the command or the connection), or
 * undefined until one has arrived.
 */
export function statsReplyEnd(received: string): number | undefined {
  let start = 0;
  for (let end = received.indexOf(CRLF); end >= 0; end = received.indexOf(CRLF, start)) {
    const line = received.slice(start, end);
    start = end + CRLF.length;
    if (line === 'END' || isErrorLine(line)) return start;
  }
  return undefined;
}

/** A one-line reply without its CRLF. */
export function replyLine(reply: string): string {
  const end = reply.indexOf(CRLF);
  return end < 0 ? reply : reply.slice(0, end);
}

/**
 * Parses the reply to `stats`: lines `STAT <name> <value>` up to `END`.
 * Throws on an ERROR reply or a missing END, so a half-read reply never
 * passes as a complete one.
 */
export function parseStats(reply: string): Map<string, string> {
  const stats = new Map<string, string>();
  for (const line of reply.split(CRLF)) {
    if (line === 'END') return stats;
    if (line.startsWith('STAT ')) {
      const rest = line.slice(5);
      const space = rest.indexOf(' ');
      if (space > 0) stats.set(rest.slice(0, space), rest.slice(space + 1));
      continue;
    }
    if (isErrorLine(line)) throw new Error(`memcached answered stats with ${line}`);
  }
  throw new Error('memcached reply to stats ended without END');
}
