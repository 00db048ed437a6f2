import { expect } from 'chai';
import { apiStatus, apiMessage, statusCode } from '../../src/errors.js';
import { isResourceExpired } from '../../src/pagedlist.js';
import { apiError, LineSplitter, parseWatchEvent, patchContentType, requestUrl, type PatchKind, type Query } from '../../src/client/wire.js';

describe('runtime/client/wire', () => {
  describe('requestUrl', () => {
    const cases: Array<{ name: string; server: string; path: string; query?: Query; want: string }> = [
      { name: 'no query', server: 'https://s:6443', path: '/api/v1/pods', want: 'https://s:6443/api/v1/pods' },
      { name: 'undefined values left out, others encoded', server: 'https://s/', path: '/api/v1/pods', query: { labelSelector: 'app=a,tier in (x)', limit: 500, continue: undefined }, want: 'https://s/api/v1/pods?labelSelector=app%3Da%2Ctier+in+%28x%29&limit=500' },
      { name: 'path without its leading slash', server: 'https://s', path: 'apis/x', query: { watch: true }, want: 'https://s/apis/x?watch=true' },
      { name: 'empty string kept (resourceVersion of a streaming watch)', server: 'https://s', path: '/p', query: { resourceVersion: '' }, want: 'https://s/p?resourceVersion=' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(requestUrl(c.server, c.path, c.query)).to.equal(c.want);
      });
    }
  });

  describe('patchContentType', () => {
    const cases: Array<[PatchKind, string]> = [
      ['merge', 'application/merge-patch+json'],
      ['strategic', 'application/strategic-merge-patch+json'],
      ['json', 'application/json-patch+json'],
      ['apply', 'application/apply-patch+yaml'],
    ];
    for (const [kind, want] of cases) {
      it(kind, () => expect(patchContentType(kind)).to.equal(want));
    }
  });

  describe('apiError, read by the runtime error helper', () => {
    const status = (code: number, reason: string, message: string): string => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
    const cases: Array<{ name: string; status: number; text: string; code: number; reason?: string; message: string; expired: boolean }> = [
      { name: '404 NotFound', status: 404, text: status(404, 'NotFound', 'pods "x" not found'), code: 404, reason: 'NotFound', message: 'pods "x" not found', expired: false },
      { name: '409 Conflict', status: 409, text: status(409, 'Conflict', 'the object has been modified'), code: 409, reason: 'Conflict', message: 'the object has been modified', expired: false },
      { name: '410 Gone (expired continue token)', status: 410, text: status(410, 'Expired', 'too old'), code: 410, reason: 'Expired', message: 'too old', expired: true },
      { name: '429 TooManyRequests', status: 429, text: status(429, 'TooManyRequests', 'slow down'), code: 429, reason: 'TooManyRequests', message: 'slow down', expired: false },
      { name: 'a proxy page that is not JSON', status: 502, text: '<html>bad gateway</html>', code: 502, message: 'GET /api: HTTP 502: <html>bad gateway</html>', expired: false },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const err = apiError('GET /api', c.status, c.text);
        expect(statusCode(err)).to.equal(c.code);
        expect(apiStatus(err)?.reason).to.equal(c.reason);
        expect(apiMessage(err)).to.equal(c.message);
        expect(isResourceExpired(err)).to.equal(c.expired);
        expect(err.message).to.match(new RegExp(`^GET /api: HTTP ${c.status}`));
      });
    }
  });

  describe('LineSplitter', () => {
    const cases: Array<{ name: string; chunks: string[]; lines: string[] }> = [
      { name: 'one line per chunk', chunks: ['{"a":1}\n', '{"b":2}\n'], lines: ['{"a":1}', '{"b":2}'] },
      { name: 'a line split across chunks', chunks: ['{"a"', ':1}\n{"b', '":2}\n'], lines: ['{"a":1}', '{"b":2}'] },
      { name: 'blank lines skipped, last line without newline kept at end', chunks: ['\n{"a":1}\n\n', '{"b":2}'], lines: ['{"a":1}', '{"b":2}'] },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const splitter = new LineSplitter();
        const got = c.chunks.flatMap((chunk) => splitter.push(chunk));
        expect([...got, ...splitter.end()]).to.deep.equal(c.lines);
      });
    }
  });

  describe('parseWatchEvent', () => {
    it('an event line', () => {
      expect(parseWatchEvent('{"type":"ADDED","object":{"metadata":{"name":"a"}}}')).to.deep.equal({ type: 'ADDED', object: { metadata: { name: 'a' } } });
    });
    const bad = ['{"object":{}}', 'null', 'not json'];
    for (const line of bad) {
      it(`rejects ${line}`, () => expect(() => parseWatchEvent(line)).to.throw());
    }
  });
});
