import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pieceBuffers } from '../../core/index.js';
import { ContentFile } from './content-file.js';

test('a copying writer fed whole batches and then a partial one lands every byte at its place and reports each batch', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'd7y-content-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = await ContentFile.open(join(dir, 'content'));
  const batch = pieceBuffers.size;
  const data = randomBytes(batch * 2 + 1000);
  const reported: number[] = [];
  const writer = file.copyingWriter(4096, (bytes) => reported.push(bytes));
  // The chunk is reused after each push, as a Vortex feed's gather buffer is: a writer that kept it would write garbage.
  const chunk = Buffer.alloc(batch);
  for (let off = 0; off < data.length; off += batch) {
    const n = data.copy(chunk, 0, off, Math.min(off + batch, data.length));
    await writer.push(n === batch ? chunk : chunk.subarray(0, n));
    chunk.fill(0xee);
  }
  await writer.flush();
  await file.close();
  const written = await readFile(join(dir, 'content'));
  t.true(written.subarray(4096).equals(data), 'the bytes are the piece\'s, at the writer\'s offset');
  t.deepEqual(reported, [batch, batch * 2, data.length]);
});
