// The raft log as raft sees it: the caller's storage (persisted, possibly compacted into a
// snapshot) followed by the unstable tail. Knows terms, conflicts, what is committed, what has
// been handed out for applying and what is applied.

import { LogCompactedError, RaftError } from "./errors.js";
import { entrySize, type Entry, type LogReader, type Snapshot } from "./types.js";
import { Unstable } from "./unstable.js";

export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  /** Highest index the caller has applied (acknowledged through advance). */
  applied: number;
  /** Highest index handed out in Ready.committedEntries. */
  applying: number;

  constructor(readonly storage: LogReader) {
    const first = storage.firstIndex();
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = first - 1;
    this.applied = first - 1;
    this.applying = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Last index that is known persisted (entries after it are still in flight to storage). */
  lastStableIndex(): number {
    return Math.min(this.lastIndex(), this.unstable.offset - 1);
  }

  /** Term of the entry at `index`, or undefined if it is compacted or beyond the last index. */
  term(index: number): number | undefined {
    const dummy = this.firstIndex() - 1;
    if (index < dummy || index > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(index);
    if (t !== undefined) return t;
    try {
      return this.storage.term(index);
    } catch (err) {
      if (err instanceof RaftError) return undefined;
      throw err;
    }
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a log is at least as up to date if its last term is higher, or equal with index >= ours. */
  isUpToDate(lastIndex: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && lastIndex >= this.lastIndex());
  }

  /** Index of the first entry whose term differs from ours (0 if none; new entries count as conflicts). */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, and that term: where a leader with
   * `term` at `index` may share our log (the fast back-off hint).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (;;) {
      const t = this.term(index);
      if (t === undefined) return { index, term: 0 };
      if (t <= term) return { index, term: t };
      index--;
    }
  }

  /**
   * Follower side of App: if our entry at `index` has `logTerm`, append `ents` (truncating a
   * conflicting suffix) and commit up to min(committed, last new index). Returns the last new index,
   * or undefined if the consistency check failed.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new RaftError(`raft: entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      }
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) {
      throw new RaftError(`raft: appending after ${after} is below committed ${this.committed}`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new RaftError(`raft: commit ${index} is beyond the last index ${this.lastIndex()}`);
    }
    this.committed = index;
  }

  /** Leader: commit `index` if it is newer and its entry is from `term` (§5.4.2). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** Entries [lo, hi) with at most `maxBytes` beyond the first one; throws LogCompactedError. */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new LogCompactedError(lo, first);
    let out: Entry[] = [];
    const off = this.unstable.offset;
    if (lo < off) {
      out = this.storage.entries(lo, Math.min(hi, off), maxBytes);
      if (out.length < Math.min(hi, off) - lo) return out; // cut by size
    }
    if (hi > off) {
      const tail = this.unstable.slice(Math.max(lo, off), hi);
      out = out.length > 0 ? out.concat(tail) : tail;
    }
    return limitSize(out, maxBytes);
  }

  /** Entries from `lo` to the end, bounded by `maxBytes`. */
  entriesFrom(lo: number, maxBytes: number): Entry[] {
    return this.slice(lo, this.lastIndex() + 1, maxBytes);
  }

  nextUnstableEntries(): Entry[] {
    return this.unstable.nextEntries();
  }

  /** Highest index that may be handed out for applying: committed (or everything, if `unsafe`). */
  private applyLimit(unsafeApplyUncommitted: boolean): number {
    return unsafeApplyUncommitted ? this.lastIndex() : this.committed;
  }

  hasNextCommittedEntries(unsafeApplyUncommitted = false): boolean {
    if (this.unstable.snapshot !== undefined) return false;
    const lo = Math.max(this.applying + 1, this.firstIndex());
    return lo <= this.applyLimit(unsafeApplyUncommitted);
  }

  nextCommittedEntries(unsafeApplyUncommitted = false): Entry[] {
    if (!this.hasNextCommittedEntries(unsafeApplyUncommitted)) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    return this.slice(lo, this.applyLimit(unsafeApplyUncommitted) + 1);
  }

  acceptApplying(index: number): void {
    this.applying = Math.max(this.applying, index);
  }

  appliedTo(index: number): void {
    if (index <= this.applied) return;
    this.applied = index;
    this.applying = Math.max(this.applying, index);
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }

  /** Throws SnapshotTemporarilyUnavailableError if the storage has none to give right now. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Replace the log with a snapshot received from the leader. */
  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }
}

function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (maxBytes === Number.POSITIVE_INFINITY || ents.length <= 1) return ents;
  let size = 0;
  for (let i = 0; i < ents.length; i++) {
    size += entrySize(ents[i]!);
    if (i > 0 && size > maxBytes) return ents.slice(0, i);
  }
  return ents;
}
