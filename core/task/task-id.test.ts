import test from 'ava';
import { filterUrl, taskId } from './task-id.js';
import { pieceLengthFor, validatePieceLength, MIB, parseByteSize } from './piece-length.js';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { Crc32, crc32, crc32Backend, parseDigest, pieceDigest } from './piece-digest.js';

test('task id matches the Dragonfly test vector', (t) => {
  t.is(taskId({ url: 'https://example.com', tag: 'foo', application: 'bar' }),
    '06408fbf247ddaca478f8cb9565fe5591c28efd0994b8fea80a6a87d3203c5ca');
});

test('signature query params do not change the task id', (t) => {
  const a = taskId({ url: 'https://b.s3.amazonaws.com/k?X-Amz-Signature=aaa&X-Amz-Date=1&v=2' });
  const b = taskId({ url: 'https://b.s3.amazonaws.com/k?X-Amz-Signature=bbb&X-Amz-Date=2&v=2' });
  const c = taskId({ url: 'https://b.s3.amazonaws.com/k?v=3' });
  t.is(a, b);
  t.not(a, c);
  t.is(filterUrl('https://example.com/?ns=docker.io'), 'https://example.com');
  t.is(filterUrl('https://example.com/a?ns=x&keep=1'), 'https://example.com/a?keep=1');
});

test('a user piece length changes the task id, the default does not appear', (t) => {
  t.not(taskId({ url: 'https://e.com/f' }), taskId({ url: 'https://e.com/f', pieceLength: 4 * MIB }));
});

test('piece length follows the next-power-of-two rule, clamped to 4..64 MiB', (t) => {
  t.is(pieceLengthFor(10), 4 * MIB);
  t.is(pieceLengthFor(2 * 1024 * MIB), 8 * MIB);
  t.is(pieceLengthFor(100 * 1024 * MIB), 64 * MIB);
  t.throws(() => validatePieceLength(MIB), { message: /from 4194304 to 67108864/ });
  t.is(parseByteSize('4MiB'), 4 * MIB);
});

test('crc32 digests agree between whole and streamed computation', (t) => {
  const data = Buffer.from('hello d7y');
  t.is(pieceDigest(data), new Crc32().update(data.subarray(0, 3)).update(data.subarray(3)).digest());
  t.is(pieceDigest(Buffer.from('123456789')), 'crc32:3421780262');
});

test('piece digests agree with zlib for any chunking, views into larger buffers included', (t) => {
  const big = Buffer.alloc(3 * MIB + 17);
  for (let i = 0; i < big.length; i += 1) big[i] = (i * 2654435761) >>> 24;
  const data = new Uint8Array(big.buffer, big.byteOffset + 5, big.length - 5);
  const expected = `crc32:${zlibCrc32(data)}`;
  t.is(pieceDigest(data), expected);
  for (const step of [1, 4095, 65_536, 262_144 + 3]) {
    const c = new Crc32();
    for (let off = 0; off < data.length; off += step) c.update(data.subarray(off, off + step));
    t.is(c.digest(), expected, `chunks of ${step} bytes`);
  }
  t.is(crc32(new Uint8Array(0), 12345), 12345);
  t.true(crc32(Buffer.from([0xff, 0xff, 0xff, 0xff])) > 0x7fffffff, 'values stay unsigned');
  if (process.platform === 'linux' && process.arch === 'x64') t.is(crc32Backend(), 'node-rs', 'the SIMD crc32 loads on linux x64');
  t.throws(() => parseDigest('sha256:abc'), { message: /not a valid sha256 digest/ });
});
