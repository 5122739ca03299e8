// Evaluates Txn compares (etcd 3.4 applyCompare/compareKV): every key in the compare's span must
// satisfy it; with no key in span, VALUE compares are false and other targets compare a zero
// KeyValue (so version == 0 / create_revision == 0 test absence).

import { compareBytes } from "./bytes.js";
import type { KvReader } from "./reader.js";
import { spanOf } from "./span.js";
import { CompareResult, CompareTarget, NO_LEASE, type Compare, type KeyValue } from "./types.js";

const ZERO_KV: KeyValue = {
  key: new Uint8Array(0),
  createRevision: 0,
  modRevision: 0,
  version: 0,
  value: new Uint8Array(0),
  lease: NO_LEASE,
};

export function evaluateCompare(reader: KvReader, c: Compare): boolean {
  let any = false;
  for (const ref of reader.latestRange(spanOf(c.key, c.rangeEnd))) {
    any = true;
    if (!compareKv(c, ref.load(c.target !== CompareTarget.VALUE))) return false;
  }
  if (!any) return c.target === CompareTarget.VALUE ? false : compareKv(c, ZERO_KV);
  return true;
}

function sign(n: number | bigint): number {
  return n > 0 ? 1 : n < 0 ? -1 : 0;
}

export function compareKv(c: Compare, kv: KeyValue): boolean {
  let result: number;
  switch (c.target) {
    case CompareTarget.VALUE:
      result = compareBytes(kv.value, c.value ?? new Uint8Array(0));
      break;
    case CompareTarget.CREATE:
      result = sign(kv.createRevision - (c.createRevision ?? 0));
      break;
    case CompareTarget.MOD:
      result = sign(kv.modRevision - (c.modRevision ?? 0));
      break;
    case CompareTarget.VERSION:
      result = sign(kv.version - (c.version ?? 0));
      break;
    case CompareTarget.LEASE:
      result = sign(kv.lease - (c.lease ?? NO_LEASE));
      break;
  }
  switch (c.result) {
    case CompareResult.EQUAL:
      return result === 0;
    case CompareResult.NOT_EQUAL:
      return result !== 0;
    case CompareResult.GREATER:
      return result > 0;
    case CompareResult.LESS:
      return result < 0;
  }
}
