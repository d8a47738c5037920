import test from 'ava';
import { PeerGraph } from './peer-graph.js';

test('two peers may be each other\'s parent; a peer is never its own', (t) => {
  const g = new PeerGraph();
  for (const v of ['a', 'b', 'c']) g.addVertex(v);
  t.deepEqual(g.addEdges(['a', 'c'], 'b'), ['a', 'c']);
  t.deepEqual(g.addEdges(['b', 'b', 'missing'], 'a'), ['b'], 'b → a beside a → b; repeats and unknown ids skipped');
  t.deepEqual(g.addEdges(['a'], 'a'), [], 'no self edge');
  t.deepEqual([...g.parentsOf('b')].sort(), ['a', 'c']);
  t.deepEqual([...g.childrenOf('b')], ['a']);
});

test('deleting in-edges and vertices removes the edges both ways', (t) => {
  const g = new PeerGraph();
  for (const v of ['a', 'b', 'c']) g.addVertex(v);
  g.addEdges(['a'], 'b');
  g.addEdges(['b'], 'c');
  g.deleteInEdges('c');
  t.is(g.childrenOf('b').size, 0);
  g.addEdges(['b'], 'c');
  g.deleteVertex('b');
  t.is(g.childrenOf('a').size, 0);
  t.is(g.inDegree('c'), 0);
  t.false(g.hasVertex('b'));
  t.deepEqual(g.addEdges(['b'], 'c'), [], 'a deleted vertex cannot be a parent');
});
