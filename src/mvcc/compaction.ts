// Physical compaction: removes every change at or below the compaction revision that no read
// at or above it can see: a change superseded by a newer change of the same key at or below the
// compaction revision, and a delete (tombstone) at or below it. What remains is, per key, the
// newest put at or below the compaction revision (if the key was alive there) and everything
// newer. Work is proportional to the changes since the previous compaction.

import type { Backend } from "./backend.js";
import { readU32 } from "./bytes.js";
import { decodeChange } from "./codec.js";
import {
  ChangeKind,
  decodeHistoryRow,
  decodeRevisionKey,
  escapeKey,
  historyKey,
  revisionKey,
  revisionStart,
  TABLES,
} from "./schema.js";

const CHUNK = 4096;

/** Runs inside a write transaction. previous: the last compaction revision (0 = none). */
export function compactTables(backend: Backend, previous: number, target: number): void {
  const history = backend.table(TABLES.history);
  const revisions = backend.table(TABLES.revisions);
  const end = revisionStart(target + 1);
  let from = revisionStart(previous + 1);
  for (;;) {
    // Read a chunk first, then modify: no writes while a cursor is open on the same table.
    const chunk: Array<{ rev: number; sub: number; kind: ChangeKind; key: Uint8Array }> = [];
    for (const { key, value } of revisions.range(from, end, { limit: CHUNK })) {
      const { rev, sub } = decodeRevisionKey(key);
      const change = decodeChange(rev, value, true);
      chunk.push({ rev, sub, kind: change.kind, key: change.kv.key });
    }
    if (chunk.length === 0) return;
    for (const c of chunk) {
      const escaped = escapeKey(c.key);
      // What the previous compaction kept of this key (at most one put) is superseded now.
      const older = [...history.range(historyKey(escaped, 0), historyKey(escaped, previous + 1))];
      for (const { key, value } of older) {
        const row = decodeHistoryRow(key, value);
        history.del(key);
        revisions.del(revisionKey(row.rev, row.sub));
      }
      // A key can change twice in one revision (a Txn's put then delete with range_end "\0"):
      // the history row then belongs to the later change, and the earlier one is superseded.
      const ownRow = history.get(historyKey(escaped, c.rev));
      const owns = ownRow !== undefined && readU32(ownRow, 0) === c.sub;
      let superseded = c.kind === ChangeKind.DELETE || !owns;
      if (!superseded) {
        for (const _ of history.range(historyKey(escaped, c.rev + 1), historyKey(escaped, target + 1), {
          limit: 1,
        })) {
          superseded = true;
        }
      }
      if (superseded) {
        if (owns) history.del(historyKey(escaped, c.rev));
        revisions.del(revisionKey(c.rev, c.sub));
      }
    }
    const last = chunk[chunk.length - 1]!;
    from = revisionKey(last.rev, last.sub + 1);
  }
}
