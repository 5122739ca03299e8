// The writes of a batched LMDB backend that LMDB does not hold yet: per table, the newest value
// (or deletion) of every key written since its batch was committed. Reads merge these over what
// LMDB has committed: a key found here is answered from here, whatever LMDB says.
//
// Keys are indexed by their bytes as a latin1 string: one UTF-16 code unit per byte, so string
// order is the bytewise (memcmp) order LMDB keeps, prefixes first.

import type { BackendEntry, BackendRangeOptions } from "./backend.js";

/** One pending write: `value` null is a deletion; `batch` is the batch that will commit it. */
export interface PendingWrite {
  readonly key: Buffer;
  readonly value: Buffer | null;
  readonly batch: number;
}

export function keyIndex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

/** The pending writes of one table. */
export class PendingTable {
  readonly writes = new Map<string, PendingWrite>();
  /** The keys of `writes` in order; null when a key was added out of order since the last sort. */
  private sorted: string[] | null = [];

  get size(): number {
    return this.writes.size;
  }

  get(index: string): PendingWrite | undefined {
    return this.writes.get(index);
  }

  set(index: string, write: PendingWrite): void {
    if (!this.writes.has(index) && this.sorted !== null) {
      const last = this.sorted[this.sorted.length - 1];
      // Keys written in increasing order (revisions) keep the order without a sort.
      if (last === undefined || index > last) this.sorted.push(index);
      else this.sorted = null;
    }
    this.writes.set(index, write);
  }

  delete(index: string): void {
    if (this.writes.delete(index)) this.sorted = null;
  }

  /** Drops the writes that batches up to `batch` committed (newer writes of a key stay). */
  dropCommitted(batch: number): void {
    let dropped = false;
    for (const [index, w] of this.writes) {
      if (w.batch <= batch) dropped = this.writes.delete(index) || dropped;
    }
    // What stays is still in order: keep the order instead of sorting it again on the next range.
    if (dropped && this.sorted !== null) this.sorted = this.sorted.filter((index) => this.writes.has(index));
  }

  /** The pending writes with start <= key < end, in key order (bounds as in BackendTable.range). */
  within(start: Uint8Array | undefined, end: Uint8Array | undefined): PendingWrite[] {
    const order = (this.sorted ??= [...this.writes.keys()].sort());
    const from = start === undefined ? 0 : lowerBound(order, keyIndex(start));
    const to = end === undefined ? order.length : lowerBound(order, keyIndex(end));
    const out: PendingWrite[] = [];
    for (let i = from; i < to; i++) out.push(this.writes.get(order[i] as string) as PendingWrite);
    return out;
  }
}

/** The first position in sorted `order` whose key is >= `key`. */
function lowerBound(order: string[], key: string): number {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((order[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Merges pending writes (in the scan's direction) over committed rows (in the same direction and
 * bounds): a pending key replaces the committed row of that key, a pending deletion hides it.
 * Values are copied, so callers own them.
 */
export function* mergeRange(
  pending: PendingWrite[],
  committed: Iterable<BackendEntry>,
  opts: BackendRangeOptions,
): Iterable<BackendEntry> {
  const reverse = opts.reverse === true;
  const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : Infinity;
  let sent = 0;
  let p = 0;
  // Yields pending writes that come before `key` in scan order (all of them for undefined).
  function* pendingBefore(key: Uint8Array | undefined): Generator<BackendEntry, boolean> {
    while (p < pending.length) {
      const w = pending[p] as PendingWrite;
      if (key !== undefined) {
        const c = Buffer.compare(w.key, key);
        if (reverse ? c <= 0 : c >= 0) return false;
      }
      p++;
      if (w.value === null) continue;
      yield { key: Buffer.from(w.key), value: Buffer.from(w.value) };
      if (++sent >= limit) return true;
    }
    return false;
  }
  for (const row of committed) {
    if (yield* pendingBefore(row.key)) return;
    const next = pending[p];
    if (next !== undefined && Buffer.compare(next.key, row.key) === 0) continue; // replaced or deleted
    yield row;
    if (++sent >= limit) return;
  }
  yield* pendingBefore(undefined);
}
