import test from 'ava';
import {
  decodePieceContentMeta, encodeCloseFrame, encodeDownloadPieceFrame, encodeErrorFrame, encodePieceContentFrame, VORTEX_MAX_ERROR_MESSAGE_BYTES,
  VortexDecoder,
} from './index.js';
import type { D7yError } from '../../errors/d7y-error.js';
import type { PieceContentMeta, VortexEvent } from './index.js';

const TASK = '0123456789abcdef'.repeat(4);
const TASK_HEX = Buffer.from(TASK, 'latin1').toString('hex');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const META: PieceContentMeta = {
  number: 3, offset: 4294967296, length: 5, digest: 'crc32:1', parentId: 'p', trafficType: 2, cost: 9, createdAt: 1700000000,
};
const CONTENT_FRAME = hex(`
  2a 01 00000039
  00000035
  00000003
  0000000100000000
  0000000000000005
  00000007 6372633332 3a31
  00000001 70
  02
  0000000000000009
  000000006553f100`);
const REQUEST_FRAME = hex(`2a 00 00000044 ${TASK_HEX} 00000007`);
const ERROR_FRAME = hex('01 ff 0000000e 02 6e6f2073756368207069656365');
const CLOSE_FRAME = hex('07 fe 00000000');

test('a download-piece request encodes to header, 64 hex chars and a u32 piece number', (t) => {
  t.deepEqual(encodeDownloadPieceFrame(0x2a, { taskId: TASK, number: 7 }), REQUEST_FRAME);
  const tags = (['persistent', 'persistent-cache', 'cache'] as const).map((kind) => encodeDownloadPieceFrame(1, { taskId: TASK, number: 0xffffffff, kind }));
  t.deepEqual(tags.map((f) => f[1]), [2, 4, 6]);
  t.deepEqual(tags[2], hex(`01 06 00000044 ${TASK_HEX} ffffffff`));
});

test('piece content encodes its metadata big-endian, with the length covering only the metadata', (t) => {
  t.deepEqual(encodePieceContentFrame(0x2a, 'standard', META), CONTENT_FRAME);
  const negative = encodePieceContentFrame(9, 'persistent-cache', { ...META, createdAt: -2, digest: '', parentId: '' });
  t.deepEqual(negative, hex(`
    09 05 00000031 0000002d 00000003 0000000100000000 0000000000000005 00000000 00000000 02
    0000000000000009 fffffffffffffffe`));
  t.deepEqual(decodePieceContentMeta(negative.subarray(6)), { ...META, createdAt: -2, digest: '', parentId: '' });
});

test('error and close frames encode byte for byte', (t) => {
  t.deepEqual(encodeErrorFrame(1, 2, 'no such piece'), ERROR_FRAME);
  t.deepEqual(encodeCloseFrame(7), CLOSE_FRAME);
});

test('an over-long error message is cut at a UTF-8 character boundary', (t) => {
  const frame = encodeErrorFrame(0, 3, 'é'.repeat(VORTEX_MAX_ERROR_MESSAGE_BYTES));
  t.is(frame.readUInt32BE(2), 1 + VORTEX_MAX_ERROR_MESSAGE_BYTES);
  t.is(frame.subarray(7).toString('utf8'), 'é'.repeat(VORTEX_MAX_ERROR_MESSAGE_BYTES / 2));
  const odd = encodeErrorFrame(0, 3, `x${'é'.repeat(VORTEX_MAX_ERROR_MESSAGE_BYTES)}`);
  t.is(odd.subarray(7).toString('utf8'), `x${'é'.repeat(VORTEX_MAX_ERROR_MESSAGE_BYTES / 2 - 1)}`);
});

test('encoding refuses a bad task id, piece number or metadata', (t) => {
  t.is(t.throws<D7yError>(() => encodeDownloadPieceFrame(0, { taskId: TASK.toUpperCase(), number: 1 }))?.code, 'D7Y_INVALID_ARGUMENT');
  t.is(t.throws<D7yError>(() => encodeDownloadPieceFrame(0, { taskId: TASK.slice(1), number: 1 }))?.code, 'D7Y_INVALID_ARGUMENT');
  t.is(t.throws<D7yError>(() => encodeDownloadPieceFrame(0, { taskId: TASK, number: -1 }))?.code, 'D7Y_INVALID_ARGUMENT');
  t.is(t.throws<D7yError>(() => encodePieceContentFrame(0, 'standard', { ...META, trafficType: 256 }))?.code, 'D7Y_INVALID_ARGUMENT');
  t.is(t.throws<D7yError>(() => encodePieceContentFrame(0, 'standard', { ...META, length: 1.5 }))?.code, 'D7Y_INVALID_ARGUMENT');
});

const STREAM = Buffer.concat([REQUEST_FRAME, CONTENT_FRAME, Buffer.from('hello'), ERROR_FRAME, encodePieceContentFrame(3, 'cache', { ...META, length: 0 }), CLOSE_FRAME]);

type Flat = Exclude<VortexEvent, { type: 'body' }> | { type: 'body'; text: string };

function flatten(events: VortexEvent[]): Flat[] {
  const out: Flat[] = [];
  for (const ev of events) {
    if (ev.type !== 'body') { out.push(ev); continue; }
    const prev = out[out.length - 1];
    if (prev?.type === 'body') prev.text += ev.chunk.toString('latin1');
    else out.push({ type: 'body', text: ev.chunk.toString('latin1') });
  }
  return out;
}

const EXPECTED: Flat[] = [
  { type: 'request', packetId: 0x2a, tag: 0, kind: 'standard', taskId: TASK, number: 7 },
  { type: 'piece', packetId: 0x2a, tag: 1, kind: 'standard', meta: META },
  { type: 'body', text: 'hello' },
  { type: 'body-end' },
  { type: 'error', packetId: 1, code: 2, message: 'no such piece' },
  { type: 'piece', packetId: 3, tag: 7, kind: 'cache', meta: { ...META, length: 0 } },
  { type: 'body-end' },
  { type: 'close', packetId: 7 },
];

test('the decoder reads every frame kind in one chunk', (t) => {
  const decoder = new VortexDecoder();
  t.deepEqual(flatten(decoder.push(STREAM)), EXPECTED);
  t.true(decoder.atFrameBoundary);
});

test('the decoder gives the same frames whatever the chunking: split at every byte, and byte by byte', (t) => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const decoder = new VortexDecoder();
    const events = [...decoder.push(STREAM.subarray(0, cut)), ...decoder.push(STREAM.subarray(cut))];
    t.deepEqual(flatten(events), EXPECTED, `split at ${cut}`);
  }
  for (let a = 1; a < STREAM.length; a += 7) {
    for (let b = a + 1; b < STREAM.length; b += 11) {
      const decoder = new VortexDecoder();
      const events = [STREAM.subarray(0, a), STREAM.subarray(a, b), STREAM.subarray(b)].flatMap((c) => decoder.push(c));
      t.deepEqual(flatten(events), EXPECTED, `split at ${a} and ${b}`);
    }
  }
  const decoder = new VortexDecoder();
  const events: VortexEvent[] = [];
  for (let i = 0; i < STREAM.length; i++) events.push(...decoder.push(STREAM.subarray(i, i + 1)));
  t.deepEqual(flatten(events), EXPECTED);
});

test('body bytes pass through as views of the pushed chunk, never copies', (t) => {
  const chunk = Buffer.concat([CONTENT_FRAME, Buffer.from('hello')]);
  const body = new VortexDecoder().push(chunk).find((e) => e.type === 'body');
  t.is(body?.type === 'body' ? body.chunk.buffer : undefined, chunk.buffer);
});

function refuses(t: import('ava').ExecutionContext, bytes: Buffer, reason: RegExp, accept?: 'requests' | 'responses'): void {
  const decoder = new VortexDecoder({ accept });
  const events = decoder.push(Buffer.concat([CLOSE_FRAME, bytes, REQUEST_FRAME]));
  t.is(events.length, 2);
  t.deepEqual(events[0], { type: 'close', packetId: 7 }, 'frames before the bad one are delivered');
  const last = events[1];
  t.is(last.type === 'malformed' ? last.error.code : undefined, 'D7Y_PROTOCOL_ERROR');
  t.regex(last.type === 'malformed' ? last.error.message : '', reason);
  t.true(decoder.failed);
  t.deepEqual(decoder.push(REQUEST_FRAME), [last], 'a failed decoder stays failed');
}

test('the decoder reports malformed frames as soon as it can tell, after the frames before them', (t) => {
  refuses(t, hex('00 08 00000000'), /unknown tag 8/);
  refuses(t, hex('00 00 00000045'), /69 bytes, expected 68/);
  refuses(t, hex('00 02 ffffffff'), /4294967295 bytes, expected 68/);
  refuses(t, hex(`00 00 00000044 ${Buffer.from(TASK.toUpperCase()).toString('hex')} 00000001`), /task id/);
  refuses(t, hex(`00 00 00000044 ${TASK_HEX.slice(2)}7a 00000001`), /task id/);
  refuses(t, hex('00 01 00000010'), /piece metadata is 16 bytes/);
  refuses(t, hex('00 ff 00000000'), /error frame value is 0 bytes/);
  refuses(t, CONTENT_FRAME, /unexpected piece content/, 'requests');
  refuses(t, REQUEST_FRAME, /unexpected download request/, 'responses');
  const badLength = Buffer.from(CONTENT_FRAME);
  badLength.writeUInt32BE(0x36, 6);
  refuses(t, badLength, /metadata length 54/);
  const badDigest = Buffer.from(CONTENT_FRAME);
  badDigest.writeUInt32BE(999, 6 + 24);
  refuses(t, badDigest, /digest length 999/);
  const hugeOffset = Buffer.from(CONTENT_FRAME);
  hugeOffset.writeBigUInt64BE(1n << 60n, 6 + 8);
  refuses(t, hugeOffset, /offset/);
});

test('the decoder keeps no view of a pushed buffer: a frame split across pushes of one reused buffer decodes right', (t) => {
  const frame = encodeDownloadPieceFrame(7, { taskId: 'cd'.repeat(32), number: 42, kind: 'standard' });
  const decoder = new VortexDecoder({ accept: 'requests' });
  const reused = Buffer.alloc(frame.length);
  const events: VortexEvent[] = [];
  for (let off = 0; off < frame.length; off += 5) {
    const n = Math.min(5, frame.length - off);
    frame.copy(reused, 0, off, off + n);
    events.push(...decoder.push(reused.subarray(0, n)));
    reused.fill(0xff);
  }
  t.is(events.length, 1);
  t.like(events[0], { type: 'request', packetId: 7, kind: 'standard', taskId: 'cd'.repeat(32), number: 42 });
});
