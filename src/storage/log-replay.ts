// Rebuilds the raft log from the WAL's records in order: entries (an entry at an existing index
// replaces the suffix from there, as raft's conflict truncation did), snapshot markers (a marker
// the log does not contain resets the log to start after it, as applying a leader's snapshot did)
// and hard states (the last one wins). Pure: no I/O.

import { WalCorruptionError } from "./errors.js";
import { RecordType, type LogPosition, type SnapshotMarker, type WalRecord } from "./wal-record.js";
import type { RecordLocation } from "./wal-scan.js";
import type { Entry, HardState } from "../raft/types.js";

export class LogReplayer {
  /** Contiguous entries, oldest first. */
  entries: Entry[] = [];
  /**
   * The position the entries follow, when known: from the first segment's header (the entry
   * before it) or from a snapshot marker that reset the log.
   */
  sentinel: LogPosition | null = null;
  /**
   * A sentinel from a segment header is only a hint: an entry at or below it means the log was
   * rewritten from there after that segment began, so the hint is stale. A snapshot marker is
   * firm: entries at or below it are covered by the snapshot.
   */
  private sentinelIsSnapshot = false;
  hardState: HardState = { term: 0, vote: "", commit: 0 };
  markers: SnapshotMarker[] = [];
  /** Index and term of the last entry record replayed (what the writer tracks). */
  lastEntry: LogPosition = { index: 0, term: 0 };
  records = 0;
  private sawHeader = false;

  apply(rec: WalRecord, at: RecordLocation): void {
    this.records++;
    switch (rec.type) {
      case RecordType.Entry:
        this.applyEntry(rec.entry, at);
        this.lastEntry = { index: rec.entry.index, term: rec.entry.term };
        return;
      case RecordType.HardState:
        this.hardState = { ...rec.hardState };
        return;
      case RecordType.SnapshotMarker:
        this.applyMarker(rec.marker);
        return;
      case RecordType.SegmentHeader:
        if (!this.sawHeader) {
          this.sawHeader = true;
          const h = rec.header;
          this.sentinel = { index: h.firstIndex - 1, term: h.prevTerm };
          this.lastEntry = { ...this.sentinel };
        }
        return;
    }
  }

  private applyEntry(e: Entry, at: RecordLocation): void {
    const ents = this.entries;
    const s = this.sentinel;
    if (ents.length === 0) {
      if (s && e.index <= s.index) {
        if (!this.sentinelIsSnapshot) this.restartAt(e);
        return;
      }
      if (s && e.index !== s.index + 1) {
        throw new WalCorruptionError(
          at.path,
          at.offset,
          `entry ${e.index} does not follow position ${s.index}`,
        );
      }
      ents.push(e);
      return;
    }
    const first = ents[0]!.index;
    const last = first + ents.length - 1;
    if (e.index > last + 1) {
      throw new WalCorruptionError(at.path, at.offset, `entry ${e.index} leaves a gap after entry ${last}`);
    }
    if (e.index >= first) {
      ents.length = e.index - first;
      ents.push(e);
      return;
    }
    // Below everything we hold: covered by the snapshot, or a rewrite reaching into a released
    // segment (whose entries are then unknown, so the log restarts here).
    if (s && this.sentinelIsSnapshot && e.index <= s.index) return;
    this.restartAt(e);
  }

  private restartAt(e: Entry): void {
    this.entries = [e];
    this.sentinel = null;
    this.sentinelIsSnapshot = false;
  }

  private applyMarker(m: SnapshotMarker): void {
    this.markers.push({ ...m });
    if (m.resetsLog) {
      // A leader's snapshot replaced the whole log (as MemoryLogStorage.applySnapshot does).
      this.entries = [];
      this.sentinel = { index: m.index, term: m.term };
      this.sentinelIsSnapshot = true;
      return;
    }
    // The member's own snapshot, or the copy at a segment start: it only tells what lies before
    // the entries when that is not known yet.
    const ents = this.entries;
    const s = this.sentinel;
    if (ents.length > 0) {
      const first = ents[0]!.index;
      const last = first + ents.length - 1;
      if (m.index >= first && m.index <= last && ents[m.index - first]!.term === m.term) return;
      if (m.index < first - 1) return; // an old position before everything we hold
      if (m.index === first - 1 && (!s || s.term === m.term)) {
        this.sentinel = { index: m.index, term: m.term };
        this.sentinelIsSnapshot = true;
        return;
      }
    } else if (s && s.index > m.index) {
      return;
    }
    this.entries = [];
    this.sentinel = { index: m.index, term: m.term };
    this.sentinelIsSnapshot = true;
  }
}
