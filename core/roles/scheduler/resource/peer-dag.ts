/**
 * The directed acyclic graph of one task's peers: an edge parent → child means the child
 * downloads from the parent. `addEdge` refuses an edge that would close a cycle, so the graph
 * stays acyclic whatever the order of calls.
 */
export class PeerDag {
  private readonly parents = new Map<string, Set<string>>();
  private readonly children = new Map<string, Set<string>>();

  addVertex(id: string): void {
    if (!this.parents.has(id)) {
      this.parents.set(id, new Set());
      this.children.set(id, new Set());
    }
  }

  hasVertex(id: string): boolean {
    return this.parents.has(id);
  }

  /** Removes the vertex and every edge touching it. */
  deleteVertex(id: string): void {
    for (const p of this.parents.get(id) ?? []) this.children.get(p)?.delete(id);
    for (const c of this.children.get(id) ?? []) this.parents.get(c)?.delete(id);
    this.parents.delete(id);
    this.children.delete(id);
  }

  get vertexCount(): number {
    return this.parents.size;
  }

  parentsOf(id: string): ReadonlySet<string> {
    return this.parents.get(id) ?? new Set();
  }

  childrenOf(id: string): ReadonlySet<string> {
    return this.children.get(id) ?? new Set();
  }

  inDegree(id: string): number {
    return this.parents.get(id)?.size ?? 0;
  }

  /** True when parent → child may be added: both exist, they differ, and no cycle would form. */
  canAddEdge(parent: string, child: string): boolean {
    if (parent === child || !this.parents.has(parent) || !this.parents.has(child)) return false;
    if (this.children.get(parent)!.has(child)) return true;
    return !this.reaches(child, parent);
  }

  /** Adds parent → child; returns false (and changes nothing) when the edge would make a cycle. */
  addEdge(parent: string, child: string): boolean {
    if (!this.canAddEdge(parent, child)) return false;
    this.children.get(parent)!.add(child);
    this.parents.get(child)!.add(parent);
    return true;
  }

  /**
   * Adds parent → child for each parent that keeps the graph acyclic (one traversal for all);
   * returns the parents added.
   */
  addEdges(parents: readonly string[], child: string): string[] {
    if (!this.parents.has(child)) return [];
    const below = this.descendants(child);
    const added: string[] = [];
    for (const p of parents) {
      if (below.has(p) || !this.parents.has(p)) continue;
      this.children.get(p)!.add(child);
      this.parents.get(child)!.add(p);
      added.push(p);
    }
    return added;
  }

  /** Removes every edge into `child` (its parents of a previous round). */
  deleteInEdges(child: string): void {
    for (const p of this.parents.get(child) ?? []) this.children.get(p)?.delete(child);
    this.parents.get(child)?.clear();
  }

  /** Every vertex reachable from `id` along child edges, `id` included (one traversal). */
  descendants(id: string): Set<string> {
    const seen = new Set<string>([id]);
    const stack = [id];
    while (stack.length > 0) {
      for (const next of this.children.get(stack.pop()!) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    return seen;
  }

  /** Whether `to` is reachable from `from` along child edges. */
  reaches(from: string, to: string): boolean {
    if (from === to) return true;
    const seen = new Set<string>([from]);
    const stack = [from];
    while (stack.length > 0) {
      for (const next of this.children.get(stack.pop()!) ?? []) {
        if (next === to) return true;
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    return false;
  }
}
