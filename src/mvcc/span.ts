// The key interval a request names with (key, range_end), etcd style: empty range_end = the key
// alone; range_end "\0" = every key >= key; otherwise [key, range_end) (empty when end <= key).

import { compareBytes } from "./bytes.js";

export interface KeySpan {
  start: Uint8Array;
  /** Exclusive upper bound; undefined = no upper bound. */
  end: Uint8Array | undefined;
  /** Exactly one key (start). */
  single: boolean;
}

export function spanOf(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeySpan {
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start: key, end: undefined, single: true };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start: key, end: undefined, single: false };
  return { start: key, end: rangeEnd, single: false };
}

export function spanContains(span: KeySpan, key: Uint8Array): boolean {
  if (span.single) return compareBytes(span.start, key) === 0;
  return compareBytes(key, span.start) >= 0 && (span.end === undefined || compareBytes(key, span.end) < 0);
}

/** True when the span can hold no key at all ([a, b) with b <= a). */
export function spanIsEmpty(span: KeySpan): boolean {
  return !span.single && span.end !== undefined && compareBytes(span.end, span.start) <= 0;
}
