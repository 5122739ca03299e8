// Stabbing queries over general key ranges ([start, end) or [start, ∞)): entries sorted by start
// with a running maximum of ends, so a lookup walks back from the last start <= key only while an
// earlier range could still reach the key. Disjoint or nested-few ranges cost O(log n + matches).
import { compareBytes } from "./key-range.js";

interface Entry<T> {
  start: Uint8Array;
  /** Exclusive end; null = unbounded. */
  end: Uint8Array | null;
  item: T;
}

/** max of two ends where null means +infinity. */
function maxEnd(a: Uint8Array | null, b: Uint8Array | null): Uint8Array | null {
  if (a === null || b === null) return null;
  return compareBytes(a, b) >= 0 ? a : b;
}

export class RangeList<T> {
  private readonly entries: Entry<T>[] = [];
  /** maxEnds[i] = the largest end among entries[0..i]. */
  private readonly maxEnds: Array<Uint8Array | null> = [];

  get size(): number {
    return this.entries.length;
  }

  add(start: Uint8Array, end: Uint8Array | null, item: T): void {
    const i = this.upperBound(start);
    this.entries.splice(i, 0, { start, end, item });
    this.maxEnds.splice(i, 0, null);
    this.recomputeFrom(i);
  }

  remove(start: Uint8Array, item: T): boolean {
    for (let i = this.lowerBound(start); i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (compareBytes(e.start, start) !== 0) return false;
      if (e.item === item) {
        this.entries.splice(i, 1);
        this.maxEnds.splice(i, 1);
        this.recomputeFrom(i);
        return true;
      }
    }
    return false;
  }

  /** Calls `visit` for every item whose range contains `key`. */
  forEachContaining(key: Uint8Array, visit: (item: T) => void): void {
    for (let j = this.upperBound(key) - 1; j >= 0; j--) {
      const reach = this.maxEnds[j]!;
      if (reach !== null && compareBytes(reach, key) <= 0) break; // nothing at or before j reaches key
      const e = this.entries[j]!;
      if (e.end === null || compareBytes(key, e.end) < 0) visit(e.item);
    }
  }

  private recomputeFrom(i: number): void {
    let reach: Uint8Array | null = i > 0 ? this.maxEnds[i - 1]! : new Uint8Array(0);
    for (let j = i; j < this.entries.length; j++) {
      reach = maxEnd(reach, this.entries[j]!.end);
      this.maxEnds[j] = reach;
    }
  }

  /** First index whose start is >= `key`. */
  private lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.entries[mid]!.start, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose start is > `key`. */
  private upperBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.entries[mid]!.start, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
