/**
 * The byte-span tree behind "untouched data stays byte-identical" and "--force keeps what it can
 * read" (issue #14, points 5 and 6). PHP is the oracle: changing a value in PHP's own unserialized
 * array and serializing it again must give exactly what serializeLike writes.
 */
import { expect, it } from 'vitest';
import { describeWithPeer } from './helpers/peers.js';
import { php } from './helpers/php.js';
import { phpTree, serializeLike } from '../src/whmcs/php/php-tree.js';
import { LATIN1_CODEC, phpUnserialize } from '../src/whmcs/php/php-serialize.js';

const CORPUS = [
  'a:3:{s:7:"modules";a:1:{s:4:"totp";a:2:{s:13:"clientenabled";i:1;s:12:"adminenabled";i:1;}}s:11:"forceclient";i:0;s:10:"forceadmin";i:0;}',
  'a:2:{s:7:"modules";a:2:{s:4:"totp";a:2:{s:13:"clientenabled";i:0;s:12:"adminenabled";i:1;}s:4:"acme";a:6:{s:1:"r";d:1;i:7;s:1:"x";s:1:"n";d:-0.5;i:0;b:1;s:1:"z";N;s:12:"adminenabled";s:2:"on";}}s:10:"forceadmin";i:1;}',
  'a:2:{i:5;s:4:"five";s:7:"modules";a:1:{s:4:"totp";a:2:{s:13:"clientenabled";s:1:"1";s:12:"adminenabled";d:0;}}}',
  'a:1:{s:7:"modules";a:1:{s:4:"totp";a:3:{s:5:"label";s:11:"Größe ✓";s:13:"clientenabled";i:0;s:12:"adminenabled";i:0;}}}',
];

describeWithPeer(['php'], 'php-tree', () => {
  it('serializeLike of an unchanged value is the original bytes', () => {
    for (const raw of CORPUS) {
      const buf = Buffer.from(raw, 'utf8');
      const { root, lost } = phpTree(buf);
      expect(lost).toBeNull();
      expect(serializeLike(structuredClone(phpUnserialize(raw)), { buf, root: root! })).toBe(raw);
    }
  });

  it('a change gives exactly the bytes PHP writes for the same change (types and key order kept)', () => {
    for (const raw of CORPUS) {
      const expected = php(
        `$v = unserialize(stream_get_contents(STDIN));
         $v['modules']['totp']['adminenabled'] = 1;
         $v['forceclient'] = 1;
         echo serialize($v);`,
        raw,
      );
      const buf = Buffer.from(raw, 'utf8');
      const next = structuredClone(phpUnserialize(raw)) as any;
      next.modules.totp.adminenabled = 1;
      next.forceclient = 1;
      expect(serializeLike(next, { buf, root: phpTree(buf).root! })).toBe(expected);
    }
  });

  it('latin1 bytes are copied as they are', () => {
    const buf = Buffer.from('a:2:{s:1:"l";s:4:"Caf\xe9";s:1:"f";i:0;}', 'latin1');
    const text = LATIN1_CODEC.decode(buf);
    const { root } = phpTree(buf, { codec: LATIN1_CODEC });
    const next = { ...(phpUnserialize(buf, {}, LATIN1_CODEC) as object), f: 1 };
    expect(Buffer.from(serializeLike(next, { buf, root: root! }, LATIN1_CODEC), 'latin1')).toEqual(Buffer.from(text.replace('i:0;', 'i:1;'), 'latin1'));
  });

  it('recovers wrong string lengths, counts, repeated keys, trailing bytes and a truncated end — PHP reads the result', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['a:1:{s:1:"a";s:9:"xyz";}', { a: 'xyz' }, /string declared as 9 bytes holds 3/],
      ['a:5:{s:1:"a";i:1;}', { a: 1 }, /array declared 5 elements, holds 1/],
      ['a:2:{s:1:"a";i:1;s:1:"a";i:2;}', { a: 2 }, /key repeated, the last value wins/],
      ['a:1:{s:1:"a";i:1;}junk', { a: 1 }, /4 bytes after the value dropped/],
      ['a:2:{s:1:"a";a:1:{s:1:"b";i:1;}s:1:"c";s:5:"ab', { a: { b: 1 } }, /ends early/],
      ['a:1:{s:1:"a";s:2:"a";b";}', { a: 'a";b' }, /string declared as 2 bytes holds 4/],
    ];
    for (const [raw, want, repair] of cases) {
      const buf = Buffer.from(raw, 'utf8');
      const t = phpTree(buf, { recover: true });
      expect(t.lost, raw).toBeNull();
      expect(t.root!.value, raw).toEqual(want);
      expect(t.repairs.join('; '), raw).toMatch(repair);
      const out = serializeLike(t.root!.value, { buf, root: t.root! });
      expect(JSON.parse(php('echo json_encode(unserialize(stream_get_contents(STDIN)));', out)), raw).toEqual(want);
    }
  });

  it('what cannot be read in the middle is reported with its place, not dropped', () => {
    const t = phpTree(Buffer.from('a:2:{s:1:"a";O:8:"stdClass":0:{}s:1:"b";i:1;}'), { recover: true });
    expect(t.root).toBeNull();
    expect(t.lost).toMatchObject({ at: 13, path: 'a' });
    expect(phpTree(Buffer.from('garbage'), { recover: true }).lost).toMatchObject({ at: 0 });
  });
});
