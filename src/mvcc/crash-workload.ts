// Test support for crash tests: raft entry number i as a deterministic store operation (puts,
// deletes, txns and periodic compactions over a small key set), so a reference store can replay
// exactly what a crashed process applied.

import type { MvccStore } from "./store.js";
import type { RequestOp } from "./types.js";

const te = new TextEncoder();

export function applyEntry(store: MvccStore, i: number): void {
  if (i % 50 === 0) {
    const target = store.currentRevision() - 10;
    if (target > store.compactRevision()) store.compact(target, i);
    else store.setAppliedIndex(i);
    return;
  }
  const key = te.encode(`k${i % 13}`);
  const ops: RequestOp[] = [{ requestPut: { key: te.encode("counter"), value: te.encode(String(i)) } }];
  if (i % 5 === 0) ops.push({ requestDeleteRange: { key } });
  else ops.push({ requestPut: { key, value: te.encode(`v${i}`.repeat(1 + (i % 7))) } });
  store.txn({ compare: [], success: ops, failure: [] }, i);
}
