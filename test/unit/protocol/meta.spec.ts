import { expect } from 'chai';
import { metaDeleteCommand, metaGetCommand, metaKey, metaSetCommand, takeMetaReply } from '../../../src/protocol/meta.js';

describe('protocol/meta', () => {
  describe('metaKey', () => {
    const cases: { name: string; key: Buffer; want: ReturnType<typeof metaKey> }[] = [
      { name: 'printable ASCII as is', key: Buffer.from('user:1'), want: { token: 'user:1', base64: false } },
      { name: 'UTF-8 bytes as is (no space or control byte)', key: Buffer.from('ключ'), want: { token: Buffer.from('ключ').toString('latin1'), base64: false } },
      { name: 'a space: base64', key: Buffer.from('a b'), want: { token: 'YSBi', base64: true } },
      { name: 'a NUL: base64', key: Buffer.from([0x61, 0]), want: { token: 'YQA=', base64: true } },
      { name: 'empty: none', key: Buffer.alloc(0), want: undefined },
      { name: '250 bytes: as is', key: Buffer.alloc(250, 'x'), want: { token: 'x'.repeat(250), base64: false } },
      { name: '251 bytes: none', key: Buffer.alloc(251, 'x'), want: undefined },
    ];
    for (const c of cases) it(c.name, () => expect(metaKey(c.key)).to.deep.equal(c.want));
  });

  it('commands name the key, with the b flag for base64', () => {
    expect(metaGetCommand({ token: 'k', base64: false })).to.equal('mg k v f t\r\n');
    expect(metaGetCommand({ token: 'YSBi', base64: true })).to.equal('mg YSBi b v f t\r\n');
    expect(metaDeleteCommand({ token: 'YSBi', base64: true })).to.equal('md YSBi b\r\n');
    const set = metaSetCommand({ key: { token: 'k', base64: false }, value: Buffer.from([0, 0xff, 0x0d, 0x0a]), flags: 7, exptime: 60, mode: 'E' });
    expect(set.equals(Buffer.concat([Buffer.from('ms k 4 T60 F7 ME\r\n'), Buffer.from([0, 0xff, 0x0d, 0x0a]), Buffer.from('\r\n')]))).to.equal(true);
    const base64 = metaSetCommand({ key: { token: 'YSBi', base64: true }, value: Buffer.from('v'), flags: 0, exptime: 0, mode: 'S' });
    expect(base64.toString()).to.equal('ms YSBi 1 b T0 F0 MS\r\nv\r\n');
  });

  describe('takeMetaReply', () => {
    const binary = Buffer.from([0, 0xff, 0x0d, 0x0a, 0x45, 0x4e]).toString('latin1');
    const cases: { name: string; received: string; from?: number; code?: string; flags?: Record<string, string>; value?: Buffer; end?: number; error?: RegExp }[] = [
      { name: 'a hit', received: 'VA 3 f5 t99\r\nabc\r\n', code: 'VA', flags: { f: '5', t: '99' }, value: Buffer.from('abc'), end: 18 },
      { name: 'a binary value holding CRLF', received: `VA 6 f0 t-1\r\n${binary}\r\n`, code: 'VA', flags: { f: '0', t: '-1' }, value: Buffer.from(binary, 'latin1'), end: 21 },
      { name: 'a miss', received: 'EN\r\nVA', code: 'EN', flags: {}, end: 4 },
      { name: 'stored', received: 'HD\r\n', code: 'HD', flags: {}, end: 4 },
      { name: 'the second reply', received: 'NS\r\nHD\r\n', from: 4, code: 'HD', flags: {}, end: 8 },
      { name: 'an error line', received: 'CLIENT_ERROR bad command line format\r\n', code: 'CLIENT_ERROR bad command line format', flags: {}, end: 38 },
      { name: 'a line cut short', received: 'VA 3 f5' },
      { name: 'a value cut short', received: 'VA 3 f5 t1\r\nab' },
      { name: 'a value without its CRLF yet', received: 'VA 3 f5 t1\r\nabc\r' },
      { name: 'a VA line without a length', received: 'VA x\r\n', error: /without a length/ },
      { name: 'a value that overruns its length', received: 'VA 2 f0\r\nabc\r\n', error: /does not end with CRLF/ },
    ];
    for (const c of cases) {
      it(c.name, () => {
        if (c.error) {
          expect(() => takeMetaReply(c.received, c.from ?? 0)).to.throw(c.error);
          return;
        }
        const taken = takeMetaReply(c.received, c.from ?? 0);
        if (c.code === undefined) {
          expect(taken).to.equal(undefined);
          return;
        }
        expect(taken?.reply.code).to.equal(c.code);
        expect(Object.fromEntries(taken?.reply.flags ?? [])).to.deep.equal(c.flags);
        expect(taken?.end).to.equal(c.end);
        if (c.value) expect(taken?.reply.value?.equals(c.value)).to.equal(true);
      });
    }
  });
});
