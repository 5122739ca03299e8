// Physical compaction: removes every change at or below the compaction revision that no read
// at or above it can see: a change superseded by a newer change of the same key at or below the
// compaction revision, and a delete (tombstone) at or below it. What remains is, per key, the
// newest put at or below the compaction revision (if the key was alive there) and everything
// newer. Work is proportional to the changes since the previous compaction, and is split into
// steps (each its own write transaction) so a large compaction does not block the event loop.
// Until it finishes, leftover rows at or below the compaction revision are invisible to reads:
// a read at revision r >= compaction revision only uses each key's newest row <= r.

import type { Backend } from "./backend.js";
import { readU32 } from "./bytes.js";
import { counts } from "../common/etcd-counts.js";
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

/**
 * One step of the physical compaction of the changes in (previous, target], starting at the
 * revisions-table key `from`, touching at most maxChanges change records. Runs inside a write
 * transaction. Returns where the next step starts, or undefined when the job is done.
 * previous: the revision the last finished physical compaction went up to (0 = none).
 */
export function compactChunk(
  backend: Backend,
  previous: number,
  target: number,
  from: Uint8Array,
  maxChanges: number,
): Uint8Array | undefined {
  const history = backend.table(TABLES.history);
  const revisions = backend.table(TABLES.revisions);
  // Read the chunk first, then modify: no writes while a cursor is open on the same table.
  const chunk: Array<{ rev: number; sub: number; kind: ChangeKind; key: Uint8Array }> = [];
  for (const { key, value } of revisions.range(from, revisionStart(target + 1), { limit: maxChanges })) {
    const { rev, sub } = decodeRevisionKey(key);
    const change = decodeChange(rev, value, true);
    chunk.push({ rev, sub, kind: change.kind, key: change.kv.key });
  }
  for (const c of chunk) {
    const escaped = escapeKey(c.key);
    // What the previous compaction kept of this key (at most one put) is superseded now.
    const older = [...history.range(historyKey(escaped, 0), historyKey(escaped, previous + 1))];
    for (const { key, value } of older) {
      const row = decodeHistoryRow(key, value);
      history.del(key);
      revisions.del(revisionKey(row.rev, row.sub));
      counts.compactedKeys++;
    }
    // A key can change twice in one revision (a Txn's put then delete with range_end "\0"):
    // the history row then belongs to the later change, and the earlier one is superseded.
    const ownRow = history.get(historyKey(escaped, c.rev));
    const owns = ownRow !== undefined && readU32(ownRow, 0) === c.sub;
    let superseded = c.kind === ChangeKind.DELETE || !owns;
    if (!superseded) {
      const newer = history.range(historyKey(escaped, c.rev + 1), historyKey(escaped, target + 1), {
        limit: 1,
      });
      for (const _ of newer) superseded = true;
    }
    if (superseded) {
      if (owns) history.del(historyKey(escaped, c.rev));
      revisions.del(revisionKey(c.rev, c.sub));
      counts.compactedKeys++;
    }
  }
  if (chunk.length < maxChanges) return undefined;
  const last = chunk[chunk.length - 1]!;
  return revisionKey(last.rev, last.sub + 1);
}
