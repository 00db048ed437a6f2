import { expect } from 'chai';
import { authCommand, isErrorLine, lineReplyEnd, parseStats, replyLine, statsReplyEnd } from '../../../src/protocol/text.js';

const reply = (lines: string[]) => `${lines.join('\r\n')}\r\n`;

describe('protocol/text', () => {
  describe('parseStats', () => {
    const cases: { name: string; reply: string; want?: Record<string, string>; error?: RegExp }[] = [
      { name: 'a complete reply', reply: reply(['STAT pid 7', 'STAT version 1.6.18', 'STAT get_hits 3', 'END']), want: { pid: '7', version: '1.6.18', get_hits: '3' } },
      { name: 'values with spaces', reply: reply(['STAT libevent 2.1.12 stable', 'END']), want: { libevent: '2.1.12 stable' } },
      { name: 'an empty reply', reply: reply(['END']), want: {} },
      { name: 'a reply cut short', reply: reply(['STAT pid 7']), error: /without END/ },
      { name: 'an error', reply: reply(['ERROR']), error: /answered stats with ERROR/ },
      { name: 'a server error', reply: reply(['SERVER_ERROR out of memory']), error: /SERVER_ERROR out of memory/ },
      { name: 'a refusal at the connection limit', reply: reply(['ERROR Too many open connections']), error: /answered stats with ERROR Too many open connections/ },
    ];
    for (const c of cases) {
      it(c.name, () => {
        if (c.error) expect(() => parseStats(c.reply)).to.throw(c.error);
        else expect(Object.fromEntries(parseStats(c.reply))).to.deep.equal(c.want);
      });
    }
  });

  describe('statsReplyEnd (where the reply to stats ends in what has arrived)', () => {
    const cases: { name: string; received: string; want: number | undefined }[] = [
      { name: 'nothing yet', received: '', want: undefined },
      { name: 'a line cut short', received: 'STAT pid 7\r\nSTAT upt', want: undefined },
      { name: 'STAT lines without END', received: reply(['STAT pid 7', 'STAT uptime 3']), want: undefined },
      { name: 'END without its CRLF', received: 'STAT pid 7\r\nEND', want: undefined },
      { name: 'a complete reply', received: reply(['STAT pid 7', 'END']), want: 17 },
      { name: 'a complete reply and more after it', received: `${reply(['END'])}STORED\r\n`, want: 5 },
      { name: 'a value that contains END is not the end', received: reply(['STAT tag END', 'END']), want: 19 },
      { name: 'an error line ends it', received: reply(['ERROR Too many open connections']), want: 33 },
      { name: 'a client error ends it', received: reply(['CLIENT_ERROR unauthenticated']), want: 30 },
    ];
    for (const c of cases) {
      it(c.name, () => expect(statsReplyEnd(c.received)).to.equal(c.want));
    }
  });

  describe('lineReplyEnd and replyLine (one-line replies)', () => {
    const cases: { received: string; end: number | undefined; line: string }[] = [
      { received: '', end: undefined, line: '' },
      { received: 'STOR', end: undefined, line: 'STOR' },
      { received: 'STORED\r\n', end: 8, line: 'STORED' },
      { received: 'OK\r\nSTAT pid 7\r\n', end: 4, line: 'OK' },
      { received: 'CLIENT_ERROR authentication failure\r\n', end: 37, line: 'CLIENT_ERROR authentication failure' },
    ];
    for (const c of cases) {
      it(JSON.stringify(c.received), () => {
        expect(lineReplyEnd(c.received)).to.equal(c.end);
        expect(replyLine(c.received)).to.equal(c.line);
      });
    }
  });

  describe('isErrorLine', () => {
    const cases: [string, boolean][] = [
      ['ERROR', true],
      ['ERROR Too many open connections', true],
      ['CLIENT_ERROR bad data chunk', true],
      ['SERVER_ERROR object too large for cache', true],
      ['ERRORS', false],
      ['STAT error_count 3', false],
      ['STORED', false],
      ['END', false],
    ];
    for (const [line, want] of cases) {
      it(`${line} -> ${want}`, () => expect(isErrorLine(line)).to.equal(want));
    }
  });

  describe('authCommand (memcached -Y over the text protocol)', () => {
    const cases: { name: string; username: string; password: string; want: string }[] = [
      { name: 'ASCII', username: 'app', password: 's3cret', want: 'set auth 0 0 10\r\napp s3cret\r\n' },
      { name: 'the length counts bytes, not characters', username: 'app', password: 'pässword', want: 'set auth 0 0 13\r\napp pässword\r\n' },
      { name: 'a password with a colon', username: 'ops', password: 'a:b', want: 'set auth 0 0 7\r\nops a:b\r\n' },
    ];
    for (const c of cases) {
      it(c.name, () => expect(authCommand({ username: c.username, password: c.password })).to.equal(c.want));
    }
  });
});
