// An indexed min-heap of (lease id, deadline in ms): the leader's schedule of when each lease must be
// looked at next. Renewing a lease moves its entry (O(log n)) instead of adding a duplicate, so the
// heap never holds more entries than there are leases.

import type { LeaseId } from "../mvcc/types.js";

interface Slot {
  id: LeaseId;
  at: number;
}

export class ExpiryQueue {
  private readonly heap: Slot[] = [];
  private readonly index = new Map<LeaseId, number>();

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `id` at `at`, replacing any earlier schedule for it. */
  upsert(id: LeaseId, at: number): void {
    const i = this.index.get(id);
    if (i === undefined) {
      this.heap.push({ id, at });
      this.index.set(id, this.heap.length - 1);
      this.up(this.heap.length - 1);
      return;
    }
    const old = this.heap[i]!.at;
    this.heap[i]!.at = at;
    if (at < old) this.up(i);
    else this.down(i);
  }

  remove(id: LeaseId): void {
    const i = this.index.get(id);
    if (i === undefined) return;
    const last = this.heap.pop()!;
    this.index.delete(id);
    if (i === this.heap.length) return;
    this.heap[i] = last;
    this.index.set(last.id, i);
    this.down(i);
    this.up(i);
  }

  /** The earliest entry, if any. */
  peek(): Readonly<Slot> | undefined {
    return this.heap[0];
  }

  /** Replaces the whole schedule at once (O(n) heapify instead of n upserts). */
  reset(entries: Iterable<Readonly<Slot>>): void {
    this.clear();
    for (const { id, at } of entries) {
      if (this.index.has(id)) throw new Error(`expiry queue: lease ${id} given twice`);
      this.index.set(id, this.heap.length);
      this.heap.push({ id, at });
    }
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  clear(): void {
    this.heap.length = 0;
    this.index.clear();
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= h[i]!.at) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < h.length && h[l]!.at < h[min]!.at) min = l;
      if (r < h.length && h[r]!.at < h[min]!.at) min = r;
      if (min === i) return;
      this.swap(i, min);
      i = min;
    }
  }

  private swap(a: number, b: number): void {
    const h = this.heap;
    const t = h[a]!;
    h[a] = h[b]!;
    h[b] = t;
    this.index.set(h[a].id, a);
    this.index.set(h[b].id, b);
  }
}
