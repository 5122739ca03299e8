// An intrusive min-heap of scheduled items (the leader's schedule of when each lease must be looked
// at next). Each item carries its own deadline and heap position, so moving a lease on renewal is
// O(log n) with no lookup table, and the heap never holds an item twice.

/** An item the queue can hold: `at` is its deadline, `heapIndex` is owned by the queue (-1: out). */
export interface Scheduled {
  at: number;
  heapIndex: number;
}

export class ExpiryQueue<T extends Scheduled> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  has(item: T): boolean {
    return item.heapIndex >= 0 && this.heap[item.heapIndex] === item;
  }

  /** Schedules `item` at `at`, moving it if it is already queued. */
  upsert(item: T, at: number): void {
    if (!this.has(item)) {
      item.at = at;
      item.heapIndex = this.heap.length;
      this.heap.push(item);
      this.up(item.heapIndex);
      return;
    }
    const old = item.at;
    item.at = at;
    if (at < old) this.up(item.heapIndex);
    else this.down(item.heapIndex);
  }

  remove(item: T): void {
    if (!this.has(item)) return;
    const i = item.heapIndex;
    const last = this.heap.pop()!;
    item.heapIndex = -1;
    if (last === item) return;
    this.heap[i] = last;
    last.heapIndex = i;
    this.down(i);
    this.up(last.heapIndex);
  }

  /** The item with the earliest deadline, if any. */
  peek(): T | undefined {
    return this.heap[0];
  }

  /** Replaces the whole schedule with `items`, each at its current `at` (O(n) heapify). */
  reset(items: Iterable<T>): void {
    this.clear();
    for (const item of items) {
      if (this.has(item)) throw new Error("expiry queue: an item was given twice");
      item.heapIndex = this.heap.length;
      this.heap.push(item);
    }
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  clear(): void {
    for (const item of this.heap) item.heapIndex = -1;
    this.heap.length = 0;
  }

  private up(i: number): void {
    const h = this.heap;
    const item = h[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (p.at <= item.at) break;
      h[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    h[i] = item;
    item.heapIndex = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const item = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.at < h[l]!.at ? r : l;
      const child = h[c]!;
      if (child.at >= item.at) break;
      h[i] = child;
      child.heapIndex = i;
      i = c;
    }
    h[i] = item;
    item.heapIndex = i;
  }
}
