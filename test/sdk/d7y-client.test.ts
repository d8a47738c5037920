import { join } from 'node:path';
import test from 'ava';
import { D7yClient, isD7yError } from '../../sdk/index.js';
import { tmpDir } from '../support/env.js';

test('connect to a socket nobody listens on rejects with D7Y_PEER_UNAVAILABLE, naming the socket and how to get a peer', async (t) => {
  const socket = join(await tmpDir(t), 'peer.sock');
  const err = await t.throwsAsync(D7yClient.connect({ socket }));
  t.true(isD7yError(err, 'D7Y_PEER_UNAVAILABLE'), String(err));
  t.is(err!.message, `no d7y daemon is listening on ${socket}`);
  t.regex((err as { fix?: string }).fix ?? '', /start a daemon with `d7y up`.*D7yClient\.connect\(\{ socket \}\).*D7yClient\.embedded\(\)/);
});
