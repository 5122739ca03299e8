// The key interval a watcher covers, normalised from a (key, rangeEnd) pair with etcd's rules,
// plus the byte helpers the watcher index needs.
import { Buffer } from "node:buffer";

export type RangeKind = "single" | "prefix" | "range" | "fromKey";

/** Binary-safe string form of a key (one char per byte) for use as a Map key. */
export function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** The smallest key greater than every key with this prefix; [0] (= no end) if none exists. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = Uint8Array.from(prefix.subarray(0, i + 1)); // a copy even for a Buffer
      end[i]! += 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}

export class KeyRange {
  /** Binary-safe string of `start`, the index key for single and prefix watchers. */
  readonly startString: string;

  private constructor(
    readonly kind: RangeKind,
    readonly start: Uint8Array,
    /** Exclusive end for "prefix" and "range"; unused otherwise. */
    readonly end: Uint8Array,
  ) {
    this.startString = keyString(start);
  }

  /**
   * Normalises a watch request's key and range end, or returns undefined when the range is empty
   * (rangeEnd <= key), which etcd rejects. An empty key means "\0", the smallest key. The bytes
   * are copied: callers may reuse their buffers.
   */
  static of(key: Uint8Array, rangeEnd?: Uint8Array): KeyRange | undefined {
    const start = key.length === 0 ? new Uint8Array([0]) : Uint8Array.from(key);
    if (rangeEnd === undefined || rangeEnd.length === 0) return new KeyRange("single", start, start);
    if (rangeEnd.length === 1 && rangeEnd[0] === 0)
      return new KeyRange("fromKey", start, new Uint8Array([0]));
    if (compareBytes(start, rangeEnd) >= 0) return undefined;
    const isPrefix = compareBytes(prefixEnd(start), rangeEnd) === 0;
    return new KeyRange(isPrefix ? "prefix" : "range", start, Uint8Array.from(rangeEnd));
  }

  contains(key: Uint8Array): boolean {
    switch (this.kind) {
      case "single":
        return compareBytes(key, this.start) === 0;
      case "fromKey":
        return compareBytes(key, this.start) >= 0;
      default:
        return compareBytes(key, this.start) >= 0 && compareBytes(key, this.end) < 0;
    }
  }
}
