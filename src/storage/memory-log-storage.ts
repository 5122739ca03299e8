// The in-memory raft log: what raft reads (LogReader) plus the synchronous writes a caller makes
// after each Ready. Used directly by the simulator and the raft tests, and as the in-memory view
// that the durable WAL-backed storage keeps of the log tail.

import { LogCompactedError, LogUnavailableError, SnapshotOutOfDateError } from "../raft/errors.js";
import {
  entrySize,
  type ConfState,
  type Entry,
  type HardState,
  type LogReader,
  type Snapshot,
} from "../raft/types.js";

const emptyHardState = (): HardState => ({ term: 0, vote: "", commit: 0 });

export class MemoryLogStorage implements LogReader {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot;
  /**
   * ents[0] is a sentinel standing for the last compacted entry (index = snapshot index,
   * term = snapshot term); real entries follow it contiguously.
   */
  private ents: Entry[];

  /** A fresh log whose membership starts as `confState` (bootstrap), with nothing committed. */
  constructor(confState: ConfState = { voters: [], learners: [] }) {
    this.snap = { metadata: { index: 0, term: 0, confState: cloneConf(confState) }, data: new Uint8Array() };
    this.ents = [{ term: 0, index: 0, type: 0, data: new Uint8Array() }];
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: cloneConf(this.snap.metadata.confState) };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new LogCompactedError(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi - 1, this.lastIndex());
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - offset]!;
      size += entrySize(e);
      if (out.length > 0 && size > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  term(index: number): number {
    const offset = this.ents[0]!.index;
    if (index < offset) throw new LogCompactedError(index, offset + 1);
    if (index - offset >= this.ents.length) throw new LogUnavailableError(index, this.lastIndex());
    return this.ents[index - offset]!.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replace the whole log with a snapshot received from the leader (or recovered from disk). */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index < this.snap.metadata.index) {
      throw new SnapshotOutOfDateError(snap.metadata.index, this.snap.metadata.index);
    }
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 0, data: new Uint8Array() }];
  }

  /**
   * Record the application's snapshot at `index` (which must be applied, so it is in the log).
   * Entries are not discarded here; call compact() for that.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) {
      throw new SnapshotOutOfDateError(index, this.snap.metadata.index);
    }
    if (index > this.lastIndex()) throw new LogUnavailableError(index, this.lastIndex());
    this.snap = { metadata: { index, term: this.term(index), confState: cloneConf(confState) }, data };
    return this.snap;
  }

  /** Discard entries up to and including `index`; the entry at `index` becomes the sentinel. */
  compact(index: number): void {
    const offset = this.ents[0]!.index;
    if (index <= offset) throw new LogCompactedError(index, offset + 1);
    if (index > this.lastIndex()) throw new LogUnavailableError(index, this.lastIndex());
    const sentinel = this.ents[index - offset]!;
    this.ents = [
      { term: sentinel.term, index: sentinel.index, type: 0, data: new Uint8Array() },
      ...this.ents.slice(index - offset + 1),
    ];
  }

  /**
   * Append entries; an entry at an index already present replaces it and everything after it
   * (raft's conflict truncation). Entries already compacted are ignored.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    const kept = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const offset = kept[0]!.index - this.ents[0]!.index;
    if (offset > this.ents.length) {
      throw new LogUnavailableError(kept[0]!.index, this.lastIndex());
    }
    if (offset === this.ents.length) {
      // The common case: appending right after the last entry. No copy of the tail.
      for (const e of kept) this.ents.push(e);
      return;
    }
    this.ents = this.ents.slice(0, offset).concat(kept);
  }
}

function cloneConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}
