/**
 * The leading bytes of a piece that landed in its file, when the piece is written in batches whose
 * positioned writes may finish out of order: `report` is called with the length of the contiguous
 * prefix each time it grows, never with a smaller value, and never again after `fail`.
 */
export class WrittenPrefix {
  private prefix = 0;
  private failed = false;
  /** Batches that landed past a gap: start → end, both relative to the piece. */
  private ahead?: Map<number, number>;

  /** `base` is the file position of the piece's first byte. */
  constructor(private readonly base: number, private readonly report: (bytes: number) => void) {}

  /** The batch at file positions [start, end) is in the file. */
  landed(start: number, end: number): void {
    if (this.failed) return;
    const from = start - this.base;
    let to = end - this.base;
    if (from !== this.prefix) {
      (this.ahead ??= new Map()).set(from, to);
      return;
    }
    for (let next = this.ahead?.get(to); next !== undefined; next = this.ahead?.get(to)) {
      this.ahead?.delete(to);
      to = next;
    }
    this.prefix = to;
    this.report(to);
  }

  /** A write failed: nothing is reported any more. */
  fail(): void {
    this.failed = true;
    this.ahead = undefined;
  }
}
