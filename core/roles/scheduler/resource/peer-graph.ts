/**
 * Who downloads from whom in one task: an edge parent → child means the scheduler offered the
 * parent to the child. Cycles are allowed: pieces move only from a peer that holds them (its
 * SyncPieces stream says which), so two peers may each serve the other the pieces it lacks, as
 * BitTorrent peers do; a child never waits on a parent for a piece the parent does not hold.
 */
export class PeerGraph {
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

  /** Adds parent → child for each known parent other than the child itself; returns the new edges' parents. */
  addEdges(parents: readonly string[], child: string): string[] {
    const up = this.parents.get(child);
    if (!up) return [];
    const added: string[] = [];
    for (const p of parents) {
      const down = this.children.get(p);
      if (p === child || !down || up.has(p)) continue;
      down.add(child);
      up.add(p);
      added.push(p);
    }
    return added;
  }

  /** Removes every edge into `child` (its parents of a previous round). */
  deleteInEdges(child: string): void {
    for (const p of this.parents.get(child) ?? []) this.children.get(p)?.delete(child);
    this.parents.get(child)?.clear();
  }
}
