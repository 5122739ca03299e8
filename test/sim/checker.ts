// Safety checkers that watch a simulated cluster after every step: election safety (one leader
// per term), log matching over persisted logs, leader completeness, state-machine safety, commit
// monotonicity (in memory and on disk, across restarts) and read freshness (ReadIndex reads see
// every write acknowledged before the read was issued).

import type { Entry, HardState, LogReader, NodeId, Role } from "../../src/raft/types.js";

export type ViolationKind =
  | "two-leaders-in-term"
  | "log-matching"
  | "leader-completeness"
  | "state-machine-safety"
  | "apply-uncommitted"
  | "apply-out-of-order"
  | "commit-without-quorum"
  | "commit-decreased"
  | "stale-read"
  | "liveness"
  | "raft-error";

export interface Violation {
  kind: ViolationKind;
  time: number;
  detail: string;
}

interface PendingRead {
  key: string;
  /** Highest log index applied anywhere when the read was issued. */
  ackedIndex: number;
  /** Highest log index that wrote `key`, among writes applied anywhere when the read was issued. */
  ackedKeyIndex: number;
}

/** Identity of an entry for comparisons: type and payload. */
function entrySig(e: Entry): string {
  return `${e.type}:${Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString("latin1")}`;
}

export class Checker {
  readonly violations: Violation[] = [];
  /** Current virtual time, set by the cluster before each step. */
  now = 0;

  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** (index:term) -> "sig|prevTerm" over every persisted log. */
  private readonly persistedEntries = new Map<string, string>();
  /** index -> {term, sig} of the entry applied there (by anyone). */
  private readonly appliedAt: ({ term: number; sig: string } | undefined)[] = [];
  private maxAppliedIndex = 0;
  private readonly maxAckedIndexByKey = new Map<string, number>();
  /** Highest commit seen in memory, per member process (id#incarnation#generation). */
  private readonly memCommit = new Map<string, number>();
  /** Highest commit seen on disk, per member disk (id#incarnation). */
  private readonly diskCommit = new Map<string, number>();
  /** Leaders whose completeness has been checked, "id#incarnation@term". */
  private readonly completenessChecked = new Set<string>();
  private readonly reads = new Map<string, PendingRead>();
  /** Limit repeated reports of one broken rule so a failing seed stays readable. */
  private readonly reportedKinds = new Map<ViolationKind, number>();

  report(kind: ViolationKind, detail: string): void {
    const n = this.reportedKinds.get(kind) ?? 0;
    this.reportedKinds.set(kind, n + 1);
    if (n < 5) this.violations.push({ kind, time: this.now, detail });
  }

  /** Total number of violations found (including ones not kept in the list). */
  get count(): number {
    let n = 0;
    for (const v of this.reportedKinds.values()) n += v;
    return n;
  }

  // ---- election safety ---------------------------------------------------------------------

  /** Returns true when this is a newly seen leader of `term`. */
  observeRole(id: NodeId, role: Role, term: number): boolean {
    if (role !== "leader") return false;
    const prev = this.leaderOfTerm.get(term);
    if (prev === undefined) {
      this.leaderOfTerm.set(term, id);
      return true;
    }
    if (prev !== id) this.report("two-leaders-in-term", `term ${term} has leaders ${prev} and ${id}`);
    return false;
  }

  // ---- commit monotonicity -----------------------------------------------------------------

  observeMemoryCommit(processKey: string, diskKey: string, commit: number): void {
    const prev = this.memCommit.get(processKey);
    if (prev === undefined) {
      // A fresh process starts from its persisted commit; never below it.
      const onDisk = this.diskCommit.get(diskKey) ?? 0;
      if (commit < onDisk) {
        this.report(
          "commit-decreased",
          `${processKey} restarted with commit ${commit} < persisted ${onDisk}`,
        );
      }
    } else if (commit < prev) {
      this.report("commit-decreased", `${processKey} commit went from ${prev} to ${commit}`);
    }
    this.memCommit.set(processKey, Math.max(prev ?? 0, commit));
  }

  observePersistedHardState(diskKey: string, hs: HardState): void {
    const prev = this.diskCommit.get(diskKey) ?? 0;
    if (hs.commit < prev) {
      this.report("commit-decreased", `${diskKey} persisted commit ${hs.commit} < earlier ${prev}`);
    }
    this.diskCommit.set(diskKey, Math.max(prev, hs.commit));
  }

  // ---- log matching ------------------------------------------------------------------------

  /**
   * Entries were just appended to a persisted log. Two logs agreeing on (index, term) must hold
   * the same entry there and agree on the term of the entry before it; by induction this is the
   * log matching property over whole prefixes.
   */
  observePersistedEntries(memberKey: string, disk: LogReader, entries: readonly Entry[]): void {
    const first = disk.firstIndex();
    for (const e of entries) {
      if (e.index < first) continue;
      const prevTerm = disk.term(e.index - 1);
      const key = `${e.index}:${e.term}`;
      const sig = `${entrySig(e)}|${prevTerm}`;
      const seen = this.persistedEntries.get(key);
      if (seen === undefined) this.persistedEntries.set(key, sig);
      else if (seen !== sig) {
        this.report("log-matching", `${memberKey} persisted a different entry or prefix at index ${key}`);
      }
    }
  }

  // ---- leader completeness -----------------------------------------------------------------

  /**
   * A leader of `term` persisted its first entry of that term at `firstIndex`: its log now holds
   * everything before. Every entry known committed must be in it.
   */
  checkLeaderCompleteness(memberKey: string, term: number, firstIndex: number, disk: LogReader): void {
    const tag = `${memberKey}@${term}`;
    if (this.completenessChecked.has(tag)) return;
    this.completenessChecked.add(tag);
    const snapIndex = disk.firstIndex() - 1;
    for (let i = 1; i <= this.maxAppliedIndex; i++) {
      const c = this.appliedAt[i];
      if (c === undefined || c.term >= term) continue;
      if (i >= firstIndex) {
        this.report(
          "leader-completeness",
          `leader ${memberKey} of term ${term} lacks committed entry ${i} (term ${c.term}): its log ends at ${firstIndex - 1}`,
        );
        return;
      }
      if (i < snapIndex) continue;
      const t = disk.term(i);
      if (t !== c.term) {
        this.report(
          "leader-completeness",
          `leader ${memberKey} of term ${term} has term ${t} at committed index ${i} (committed term ${c.term})`,
        );
        return;
      }
    }
  }

  // ---- state machine safety ----------------------------------------------------------------

  /**
   * A member applies `e`; `commit` is its commit index at that moment. Returns true when this is
   * the first time anyone applies this index (the write is acknowledged).
   */
  observeApply(memberKey: string, e: Entry, commit: number, setKey: string | undefined): boolean {
    if (e.index > commit) {
      this.report("apply-uncommitted", `${memberKey} applied index ${e.index} with commit ${commit}`);
    }
    const sig = entrySig(e);
    const prev = this.appliedAt[e.index];
    if (prev !== undefined) {
      if (prev.term !== e.term || prev.sig !== sig) {
        this.report(
          "state-machine-safety",
          `${memberKey} applied term ${e.term} at index ${e.index}, another member applied term ${prev.term}`,
        );
      }
      return false;
    }
    this.appliedAt[e.index] = { term: e.term, sig };
    if (e.index > this.maxAppliedIndex) this.maxAppliedIndex = e.index;
    if (setKey !== undefined) {
      const k = this.maxAckedIndexByKey.get(setKey) ?? 0;
      if (e.index > k) this.maxAckedIndexByKey.set(setKey, e.index);
    }
    return true;
  }

  /** Term of the committed entry at index, if anyone applied it. */
  committedTerm(index: number): number | undefined {
    return this.appliedAt[index]?.term;
  }

  get highestApplied(): number {
    return this.maxAppliedIndex;
  }

  // ---- reads -------------------------------------------------------------------------------

  readIssued(readId: string, key: string): void {
    this.reads.set(readId, {
      key,
      ackedIndex: this.maxAppliedIndex,
      ackedKeyIndex: this.maxAckedIndexByKey.get(key) ?? 0,
    });
  }

  readIndexGranted(readId: string, member: string, index: number): void {
    const r = this.reads.get(readId);
    if (r === undefined) return;
    if (index < r.ackedIndex) {
      this.report(
        "stale-read",
        `read ${readId} on ${member} got read index ${index} < ${r.ackedIndex} applied before it was issued`,
      );
    }
  }

  readCompleted(readId: string, member: string, valueIndex: number): void {
    const r = this.reads.get(readId);
    if (r === undefined) return;
    this.reads.delete(readId);
    if (valueIndex < r.ackedKeyIndex) {
      this.report(
        "stale-read",
        `read ${readId} of ${r.key} on ${member} saw the write at ${valueIndex}, older than acknowledged write at ${r.ackedKeyIndex}`,
      );
    }
  }

  readAbandoned(readId: string): void {
    this.reads.delete(readId);
  }
}
