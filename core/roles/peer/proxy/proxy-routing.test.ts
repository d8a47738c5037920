import test from 'ava';
import { pieceLengthHeader, ProxyRouting } from './proxy-routing.js';

test('X-Dragonfly-Piece-Length takes d7y sizes and Dragonfly\'s lower-case spelling; anything else is a clear refusal', (t) => {
  t.is(pieceLengthHeader('4mib'), 4 * 1024 * 1024);
  t.is(pieceLengthHeader('16MiB'), 16 * 1024 * 1024);
  t.is(pieceLengthHeader('8388608'), 8 * 1024 * 1024);
  t.is(pieceLengthHeader(undefined), undefined);
  t.throws(() => pieceLengthHeader('lots'), { message: /X-Dragonfly-Piece-Length "lots" is not a size/ });
});

test('only GETs go P2P: by the first matching rule, or forced by X-Dragonfly-Use-P2P; headers win over the rule', (t) => {
  const routing = new ProxyRouting([{ regex: 'example\\.com/live/', use: 'direct' }, { regex: '\\.bin$', use: 'p2p', tag: 'rule-tag' }]);
  t.deepEqual(routing.route('HEAD', 'http://example.com/a.bin', {}), { use: 'direct' });
  t.deepEqual(routing.route('GET', 'http://example.com/live/a.bin', {}), { use: 'direct' }, 'the first matching rule wins');
  t.like(routing.route('GET', 'http://example.com/a.bin?sig=1', {}), { use: 'p2p', request: { tag: 'rule-tag' } });
  t.like(routing.route('GET', 'http://example.com/a.txt', { 'x-dragonfly-use-p2p': 'true', 'x-dragonfly-tag': 'mine', 'x-dragonfly-filtered-query-params': 'a, b' }),
    { use: 'p2p', request: { tag: 'mine', filteredQueryParams: ['a', 'b'] } });
  t.deepEqual(routing.route('GET', 'http://example.com/a.txt', {}), { use: 'direct' });
});
