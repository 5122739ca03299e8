// Reads key-value state from the backend tables: the live state of keys (from `latest`) and the
// state as of an older revision (from `history` + `revisions`). Iterators yield cheap references
// first and decode on demand, so counting a range does not copy values.

import type { BackendTable } from "./backend.js";
import { bytesEqual, copyBytes } from "./bytes.js";
import { decodeChange, decodeLatest } from "./codec.js";
import {
  ChangeKind,
  decodeHistoryRow,
  escapeKey,
  historyKey,
  revisionKey,
  TABLES,
  type HistoryRow,
} from "./schema.js";
import type { KeySpan } from "./span.js";
import type { Backend } from "./backend.js";
import type { KeyValue } from "./types.js";

/** A key found by a range scan; load() decodes its KeyValue. */
export interface KvRef {
  load(keysOnly: boolean): KeyValue;
}

export class KvReader {
  readonly latest: BackendTable;
  readonly history: BackendTable;
  readonly revisions: BackendTable;

  constructor(backend: Backend) {
    this.latest = backend.table(TABLES.latest);
    this.history = backend.table(TABLES.history);
    this.revisions = backend.table(TABLES.revisions);
  }

  /** The live KeyValue of key, if it exists now. */
  get(key: Uint8Array): KeyValue | undefined {
    const row = this.latest.get(key);
    return row === undefined ? undefined : decodeLatest(key, row);
  }

  /** How many live keys are in span (no values read). */
  countLatest(span: KeySpan): number {
    if (span.single) return this.latest.get(span.start) === undefined ? 0 : 1;
    return this.latest.count(span.start, span.end);
  }

  /** Live keys in span, ascending; at most limit of them if given. */
  *latestRange(span: KeySpan, limit?: number): Iterable<KvRef> {
    if (span.single) {
      const row = this.latest.get(span.start);
      if (row !== undefined) yield { load: (keysOnly) => decodeLatest(copyBytes(span.start), row, keysOnly) };
      return;
    }
    for (const { key, value } of this.latest.range(
      span.start,
      span.end,
      limit !== undefined ? { limit } : {},
    )) {
      yield { load: (keysOnly) => decodeLatest(key, value, keysOnly) };
    }
  }

  /** Keys in span that existed at revision rev (>= the compaction point), ascending. */
  *rangeAt(span: KeySpan, rev: number): Iterable<KvRef> {
    if (span.single) {
      const row = this.historyAt(escapeKey(span.start), rev);
      if (row !== undefined && row.kind === ChangeKind.PUT) yield this.changeRef(row);
      return;
    }
    const start = escapeKey(span.start);
    const end = span.end === undefined ? undefined : escapeKey(span.end);
    let best: HistoryRow | undefined;
    let group: Uint8Array | undefined;
    for (const { key, value } of this.history.range(start, end)) {
      const row = decodeHistoryRow(key, value);
      if (group === undefined || !bytesEqual(group, row.escapedKey)) {
        if (best !== undefined && best.kind === ChangeKind.PUT) yield this.changeRef(best);
        group = row.escapedKey;
        best = undefined;
      }
      if (row.rev <= rev) best = row;
    }
    if (best !== undefined && best.kind === ChangeKind.PUT) yield this.changeRef(best);
  }

  /** The KeyValue key had at revision rev (undefined if absent then, or compacted away). */
  valueAt(key: Uint8Array, rev: number): KeyValue | undefined {
    const row = this.historyAt(escapeKey(key), rev);
    if (row === undefined || row.kind !== ChangeKind.PUT) return undefined;
    return this.changeRef(row).load(false);
  }

  /** The newest history row of a key at or below rev. */
  historyAt(escapedKey: Uint8Array, rev: number): HistoryRow | undefined {
    if (rev < 0) return undefined;
    const rows = this.history.range(historyKey(escapedKey, 0), historyKey(escapedKey, rev + 1), {
      reverse: true,
      limit: 1,
    });
    for (const { key, value } of rows) return decodeHistoryRow(key, value);
    return undefined;
  }

  private changeRef(row: HistoryRow): KvRef {
    const { rev, sub } = row;
    return {
      load: (keysOnly) => {
        const record = this.revisions.get(revisionKey(rev, sub));
        if (record === undefined) throw new Error(`mvcc: history row without change record at ${rev}.${sub}`);
        return decodeChange(rev, record, keysOnly).kv;
      },
    };
  }
}
