// Evaluates a RangeRequest against a KvReader with etcd 3.4's semantics: revision checks, count
// of every key in range, limit + `more`, min/max mod and create revision filters, sorting, and
// keys_only / count_only.

import { compareBytes } from "./bytes.js";
import { Errors } from "./errors.js";
import type { KvReader } from "./reader.js";
import { spanIsEmpty, spanOf } from "./span.js";
import { SortOrder, SortTarget, type KeyValue, type RangeRequest, type RangeResponse } from "./types.js";

export interface ReadPoint {
  /** The newest revision visible to this read (inside a write: including its own changes). */
  visibleRevision: number;
  compactRevision: number;
}

/** Throws the etcd error for a revision a read may not use; returns the revision to read at. */
export function checkReadRevision(requested: number | undefined, at: ReadPoint): number {
  const rev = requested !== undefined && requested > 0 ? requested : at.visibleRevision;
  if (rev > at.visibleRevision) throw Errors.futureRevision();
  if (rev < at.compactRevision) throw Errors.compacted();
  return rev;
}

export function evaluateRange(reader: KvReader, req: RangeRequest, at: ReadPoint): RangeResponse {
  if (req.key.length === 0) throw Errors.emptyKey();
  const rev = checkReadRevision(req.revision, at);
  const header = { revision: at.visibleRevision };
  const span = spanOf(req.key, req.rangeEnd);
  if (spanIsEmpty(span)) return { header, kvs: [], more: false, count: 0 };

  const limit = req.limit !== undefined && req.limit > 0 ? req.limit : 0;
  const sortOrder = req.sortOrder ?? SortOrder.NONE;
  const minMod = req.minModRevision ?? 0;
  const maxMod = req.maxModRevision ?? 0;
  const minCreate = req.minCreateRevision ?? 0;
  const maxCreate = req.maxCreateRevision ?? 0;
  const fetchAll =
    sortOrder !== SortOrder.NONE || minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0;
  // Like etcd: fetch one beyond the limit to know whether there is more.
  const keep = req.countOnly === true ? 0 : fetchAll || limit === 0 ? Infinity : limit + 1;
  // keys_only skips reading values, unless they are sorted on first (etcd blanks them last).
  const sortsByValue = req.sortTarget === SortTarget.VALUE;
  const keysOnly = req.keysOnly === true && !sortsByValue;

  let count = 0;
  let kvs: KeyValue[] = [];
  if (rev === at.visibleRevision) {
    // Latest state: the backend counts; read only the rows the response needs.
    if (span.single) {
      const ref = reader.latestRange(span)[Symbol.iterator]().next();
      count = ref.done === true ? 0 : 1;
      if (req.countOnly === true) return { header, kvs: [], more: false, count };
      if (ref.done !== true) kvs.push(ref.value.load(keysOnly));
    } else {
      count = reader.countLatest(span);
      if (req.countOnly === true) return { header, kvs: [], more: false, count };
      for (const ref of reader.latestRange(span, keep === Infinity ? undefined : keep)) {
        kvs.push(ref.load(keysOnly));
      }
    }
  } else {
    for (const ref of reader.rangeAt(span, rev)) {
      count++;
      if (kvs.length < keep) kvs.push(ref.load(keysOnly));
    }
    if (req.countOnly === true) return { header, kvs: [], more: false, count };
  }

  if (maxMod !== 0) kvs = kvs.filter((kv) => kv.modRevision <= maxMod);
  if (minMod !== 0) kvs = kvs.filter((kv) => kv.modRevision >= minMod);
  if (maxCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate);
  if (minCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision >= minCreate);

  sortKvs(kvs, req.sortTarget ?? SortTarget.KEY, sortOrder);

  if (req.keysOnly === true && sortsByValue) kvs = kvs.map((kv) => ({ ...kv, value: new Uint8Array(0) }));

  let more = false;
  if (limit > 0 && kvs.length > limit) {
    kvs = kvs.slice(0, limit);
    more = true;
  }
  return { header, kvs, more, count };
}

/**
 * Sorts in place. A target other than KEY with order NONE sorts ascending (etcd). The sort is
 * stable and ties keep key order, so results are deterministic (etcd leaves ties unspecified).
 */
export function sortKvs(kvs: KeyValue[], target: SortTarget, requestedOrder: SortOrder): void {
  const order =
    target !== SortTarget.KEY && requestedOrder === SortOrder.NONE ? SortOrder.ASCEND : requestedOrder;
  if (order === SortOrder.NONE) return;
  const sign = order === SortOrder.DESCEND ? -1 : 1;
  const byTarget = (a: KeyValue, b: KeyValue): number => {
    switch (target) {
      case SortTarget.KEY:
        return compareBytes(a.key, b.key);
      case SortTarget.VERSION:
        return a.version - b.version;
      case SortTarget.CREATE:
        return a.createRevision - b.createRevision;
      case SortTarget.MOD:
        return a.modRevision - b.modRevision;
      case SortTarget.VALUE:
        return compareBytes(a.value, b.value);
    }
  };
  kvs.sort((a, b) => sign * byTarget(a, b));
}
