import { expect } from 'chai';
import { decodeDumpKey, isExpired, parseMetadumpLine } from '../../../src/keyspace/metadump.js';

describe('keyspace/metadump', () => {
  describe('parseMetadumpLine', () => {
    const cases: { name: string; line: string; key?: Buffer; exp?: number; size?: number; error?: RegExp }[] = [
      { name: 'a plain key with an expiry', line: 'key=foo exp=1796622632 la=1796622532 cas=1 fetch=no cls=1 size=69', key: Buffer.from('foo'), exp: 1796622632, size: 69 },
      { name: 'a key that never expires', line: 'key=user:1:session exp=-1 la=1 cas=2 fetch=yes cls=3 size=100', key: Buffer.from('user:1:session'), exp: -1, size: 100 },
      { name: 'an escaped percent sign', line: 'key=b%2520r exp=-1 la=1 cas=2 fetch=no cls=1 size=65', key: Buffer.from('b%20r'), exp: -1 },
      { name: 'binary bytes', line: 'key=k%00%FF%20y exp=-1 la=1 cas=3 fetch=no cls=1 size=70', key: Buffer.from([0x6b, 0, 0xff, 0x20, 0x79]), exp: -1 },
      { name: 'UTF-8 bytes', line: 'key=%D0%BA%D0%BB exp=-1 la=1 cas=3 fetch=no cls=1 size=70', key: Buffer.from('кл'), exp: -1 },
      { name: 'fields a newer memcached adds', line: 'key=a exp=-1 la=1 cas=3 fetch=no cls=1 size=70 flags=0', key: Buffer.from('a'), exp: -1 },
      { name: 'no key', line: 'exp=-1 la=1', error: /without a key/ },
      { name: 'no exp', line: 'key=a la=1', error: /without a numeric exp/ },
      { name: 'a bad escape', line: 'key=a%G1 exp=-1', error: /bad escape/ },
      { name: 'a cut escape', line: 'key=a%4 exp=-1', error: /bad escape/ },
      { name: 'garbage', line: 'BUSY currently processing crawler request', error: /without a key/ },
    ];
    for (const c of cases) {
      it(c.name, () => {
        if (c.error) {
          expect(() => parseMetadumpLine(c.line)).to.throw(c.error);
          return;
        }
        const entry = parseMetadumpLine(c.line);
        expect(entry.key.equals(c.key!), `key ${entry.key.toString('hex')}`).to.equal(true);
        expect(entry.exp).to.equal(c.exp);
        if (c.size !== undefined) expect(entry.size).to.equal(c.size);
      });
    }
  });

  it('decodeDumpKey keeps unescaped bytes as they are', () => expect(decodeDumpKey('a:b/c').toString()).to.equal('a:b/c'));

  describe('isExpired', () => {
    const cases: [number, number, boolean][] = [[-1, 100, false], [99, 100, true], [100, 100, true], [101, 100, false]];
    for (const [exp, now, want] of cases) it(`exp ${exp} at ${now}: ${want}`, () => expect(isExpired({ exp }, now)).to.equal(want));
  });
});
