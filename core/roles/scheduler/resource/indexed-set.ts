/**
 * A set of items by id with O(1) add, delete, lookup and uniform random sampling.
 * Iteration order is unspecified.
 */
export class IndexedSet<T extends { id: string }> {
  private readonly items: T[] = [];
  private readonly index = new Map<string, number>();

  get size(): number {
    return this.items.length;
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  get(id: string): T | undefined {
    const i = this.index.get(id);
    return i === undefined ? undefined : this.items[i];
  }

  add(item: T): void {
    const i = this.index.get(item.id);
    if (i !== undefined) {
      this.items[i] = item;
      return;
    }
    this.index.set(item.id, this.items.length);
    this.items.push(item);
  }

  delete(id: string): boolean {
    const i = this.index.get(id);
    if (i === undefined) return false;
    const last = this.items.pop()!;
    if (i < this.items.length) {
      this.items[i] = last;
      this.index.set(last.id, i);
    }
    this.index.delete(id);
    return true;
  }

  values(): readonly T[] {
    return this.items;
  }

  /** Up to `n` distinct items chosen uniformly at random (`random` returns [0, 1)). */
  sample(n: number, random: () => number = Math.random): T[] {
    const len = this.items.length;
    if (n >= len) return [...this.items];
    const picked = new Map<number, number>();
    const out: T[] = [];
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(random() * (len - i));
      const vj = picked.get(j) ?? j;
      picked.set(j, picked.get(i) ?? i);
      out.push(this.items[vj]!);
    }
    return out;
  }
}
