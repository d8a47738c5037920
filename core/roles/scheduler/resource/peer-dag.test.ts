import test from 'ava';
import { PeerDag } from './peer-dag.js';

test('edges that would close a cycle are refused', (t) => {
  const dag = new PeerDag();
  for (const v of ['a', 'b', 'c', 'd']) dag.addVertex(v);
  t.true(dag.addEdge('a', 'b'));
  t.true(dag.addEdge('b', 'c'));
  t.true(dag.addEdge('c', 'd'));
  t.false(dag.addEdge('d', 'a'), 'a → b → c → d → a');
  t.false(dag.addEdge('c', 'b'));
  t.false(dag.addEdge('a', 'a'));
  t.false(dag.canAddEdge('a', 'missing'));
  t.true(dag.addEdge('a', 'd'), 'a shortcut is no cycle');
  t.deepEqual([...dag.parentsOf('d')].sort(), ['a', 'c']);
});

test('random edge insertions never make a cycle', (t) => {
  const dag = new PeerDag();
  const n = 60;
  for (let i = 0; i < n; i++) dag.addVertex(`p${i}`);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let k = 0; k < 2000; k++) {
    const a = `p${Math.floor(rnd() * n)}`;
    const b = `p${Math.floor(rnd() * n)}`;
    if (rnd() < 0.1) dag.deleteInEdges(b);
    else dag.addEdge(a, b);
  }
  for (let i = 0; i < n; i++) {
    for (const c of dag.childrenOf(`p${i}`)) t.false(dag.reaches(c, `p${i}`), `cycle through p${i} → ${c}`);
  }
});

test('deleting a vertex removes its edges both ways', (t) => {
  const dag = new PeerDag();
  for (const v of ['a', 'b', 'c']) dag.addVertex(v);
  dag.addEdge('a', 'b');
  dag.addEdge('b', 'c');
  dag.deleteVertex('b');
  t.is(dag.childrenOf('a').size, 0);
  t.is(dag.inDegree('c'), 0);
  t.false(dag.hasVertex('b'));
  t.true(dag.addEdge('c', 'a'));
});
