// Unit tests of the raft log (storage + unstable tail): terms across the boundary, conflict
// finding, the fast back-off search, truncation, commit bounds and size-limited slices.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LogCompactedError, RaftError } from "./errors.js";
import { RaftLog } from "./log.js";
import { EntryType, type Entry } from "./types.js";
import { MemoryLogStorage } from "../storage/memory-log-storage.js";

const ent = (index: number, term: number, size = 0): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new Uint8Array(size),
});

/** Storage holding entries 1..n with `stored` terms, and an unstable tail with `tail` terms. */
function log(stored: number[], tail: number[] = []): RaftLog {
  const s = new MemoryLogStorage({ voters: ["a"], learners: [] });
  s.append(stored.map((t, i) => ent(i + 1, t)));
  const l = new RaftLog(s);
  if (tail.length > 0) l.append(tail.map((t, i) => ent(stored.length + i + 1, t)));
  return l;
}

const terms = (es: Entry[]): number[] => es.map((e) => e.term);

describe("raft log", () => {
  test("terms and bounds span storage and the unstable tail", () => {
    const l = log([1, 1, 2], [3, 3]);
    assert.equal(l.lastIndex(), 5);
    assert.equal(l.lastStableIndex(), 3);
    assert.deepEqual(
      [0, 1, 3, 4, 5, 6].map((i) => l.term(i)),
      [0, 1, 2, 3, 3, undefined],
    );
    assert.deepEqual(terms(l.slice(2, 6)), [1, 2, 3, 3]);
  });

  test("§5.3 findConflict: the first entry whose term differs, or a new one", () => {
    const l = log([1, 1, 2, 2]);
    assert.equal(l.findConflict([ent(1, 1), ent(2, 1)]), 0);
    assert.equal(l.findConflict([ent(3, 2), ent(4, 3)]), 4);
    assert.equal(l.findConflict([ent(4, 2), ent(5, 2)]), 5);
  });

  test("§5.3 maybeAppend truncates a conflicting suffix and commits up to the last new entry", () => {
    const l = log([1, 1, 2, 2, 2]);
    assert.equal(l.maybeAppend(2, 1, 10, [ent(3, 3)]), 3);
    assert.equal(l.lastIndex(), 3, "entries 4 and 5 are gone");
    assert.equal(l.term(3), 3);
    assert.equal(l.committed, 3, "commit = min(leader commit, last new index)");
    assert.equal(l.maybeAppend(3, 2, 10, []), undefined, "consistency check fails");
  });

  test("maybeAppend refuses to overwrite committed entries", () => {
    const l = log([1, 1, 2]);
    l.commitTo(3);
    assert.throws(() => l.maybeAppend(1, 1, 3, [ent(2, 5)]), RaftError);
  });

  test("findConflictByTerm: the last index whose term is <= the leader's term at that point", () => {
    const l = log([1, 1, 2, 2, 4, 4, 4]);
    assert.deepEqual(l.findConflictByTerm(7, 3), { index: 4, term: 2 });
    assert.deepEqual(l.findConflictByTerm(7, 5), { index: 7, term: 4 });
    assert.deepEqual(l.findConflictByTerm(7, 1), { index: 2, term: 1 });
    assert.deepEqual(l.findConflictByTerm(7, 0), { index: 0, term: 0 });
  });

  test("isUpToDate compares last term, then last index (§5.4.1)", () => {
    const l = log([1, 2, 2]);
    assert.equal(l.isUpToDate(1, 3), true);
    assert.equal(l.isUpToDate(3, 2), true);
    assert.equal(l.isUpToDate(2, 2), false);
    assert.equal(l.isUpToDate(10, 1), false);
  });

  test("commitTo never goes backwards nor beyond the last index", () => {
    const l = log([1, 1]);
    l.commitTo(2);
    l.commitTo(1);
    assert.equal(l.committed, 2);
    assert.throws(() => l.commitTo(3), RaftError);
  });

  test("maybeCommit only commits an index whose entry has the given term", () => {
    const l = log([1, 1, 2]);
    assert.equal(l.maybeCommit(2, 2), false);
    assert.equal(l.maybeCommit(3, 2), true);
    assert.equal(l.committed, 3);
  });

  test("slices honour maxBytes (but always return one entry) and report compaction", () => {
    const s = new MemoryLogStorage({ voters: ["a"], learners: [] });
    s.append([ent(1, 1, 100), ent(2, 1, 100), ent(3, 1, 100)]);
    const l = new RaftLog(s);
    l.append([ent(4, 1, 100), ent(5, 1, 100)]);
    assert.equal(l.slice(1, 6, 1).length, 1);
    assert.equal(l.slice(1, 6, 250).length, 2);
    assert.equal(l.slice(2, 6, 380).length, 3, "crosses from storage into the unstable tail");
    s.createSnapshot(2, { voters: ["a"], learners: [] }, new Uint8Array());
    s.compact(2);
    assert.throws(() => l.slice(2, 4), LogCompactedError);
    assert.equal(l.term(1), undefined);
  });

  test("the unstable tail is handed out once, and stableTo drops only what matches", () => {
    const l = log([1], [1, 1]);
    assert.deepEqual(terms(l.nextUnstableEntries()), [1, 1]);
    l.unstable.acceptInProgress();
    assert.deepEqual(l.nextUnstableEntries(), []);
    l.append([ent(4, 2)]);
    assert.deepEqual(
      l.nextUnstableEntries().map((e) => e.index),
      [4],
    );
    l.stableTo(3, 9);
    assert.equal(l.lastStableIndex(), 1, "wrong term: ignored");
    l.stableTo(3, 1);
    assert.equal(l.lastStableIndex(), 3);
  });
});
