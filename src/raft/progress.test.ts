// Unit tests of the majority arithmetic (quorum.ts) and per-follower flow control (progress.ts).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Progress } from "./progress.js";
import { majority, quorumIndex, voteOutcome } from "./quorum.js";

describe("quorum", () => {
  test("the commit index is the highest index a majority of voters reached", () => {
    const match: Record<string, number> = { a: 5, b: 3, c: 1, d: 9, e: 2 };
    assert.equal(
      quorumIndex(["a", "b", "c"], (id) => match[id]!),
      3,
    );
    assert.equal(
      quorumIndex(["a", "b", "c", "d"], (id) => match[id]!),
      3,
    );
    assert.equal(
      quorumIndex(["a", "b", "c", "d", "e"], (id) => match[id]!),
      3,
    );
    assert.equal(
      quorumIndex(["d"], (id) => match[id]!),
      9,
    );
    assert.equal(
      quorumIndex([], () => 7),
      0,
    );
    assert.deepEqual([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
  });

  test("votes: won with a majority, lost once a majority is impossible, otherwise pending", () => {
    const v = ["a", "b", "c", "d", "e"];
    const votes = (o: Record<string, boolean>): Map<string, boolean> => new Map(Object.entries(o));
    assert.equal(voteOutcome(v, votes({ a: true, b: true })), "pending");
    assert.equal(voteOutcome(v, votes({ a: true, b: true, c: true })), "won");
    assert.equal(voteOutcome(v, votes({ a: false, b: false, c: false })), "lost");
    assert.equal(voteOutcome(v, votes({ a: true, x: true, y: true })), "pending", "non-voters do not count");
  });
});

describe("progress", () => {
  test("probe sends one message at a time; an ack moves to replicate", () => {
    const p = new Progress(5, 2, false);
    assert.equal(p.isPaused(), false);
    p.probeSent = true;
    assert.equal(p.isPaused(), true);
    assert.equal(p.maybeUpdate(4), true);
    assert.equal(p.isPaused(), false, "an ack unpauses");
    p.becomeReplicate();
    assert.equal(p.next, 5);
  });

  test("replicate pipelines up to the inflight window; acks free it", () => {
    const p = new Progress(1, 2, false);
    p.becomeReplicate();
    p.optimisticUpdate(3);
    p.inflights.add(3);
    p.optimisticUpdate(6);
    p.inflights.add(6);
    assert.equal(p.isPaused(), true);
    p.maybeUpdate(3);
    p.inflights.freeLE(3);
    assert.equal(p.isPaused(), false);
    assert.equal(p.next, 7);
  });

  test("a rejection in replicate falls back to match+1; stale rejections are ignored", () => {
    const p = new Progress(1, 8, false);
    p.maybeUpdate(4);
    p.becomeReplicate();
    p.optimisticUpdate(9);
    assert.equal(p.maybeDecrTo(3, 0), false, "rejection of an index already matched is stale");
    assert.equal(p.maybeDecrTo(9, 0), true);
    assert.equal(p.next, 5);
  });

  test("a rejection in probe uses the hint but never goes below match+1", () => {
    const p = new Progress(11, 8, false);
    p.maybeUpdate(2);
    p.next = 11;
    assert.equal(p.maybeDecrTo(7, 6), false, "not the index we probed");
    assert.equal(p.maybeDecrTo(10, 6), true);
    assert.equal(p.next, 7);
    p.next = 11;
    p.maybeDecrTo(10, 0);
    assert.equal(p.next, 3);
  });

  test("snapshot state pauses until it ends; probing resumes after the snapshot index", () => {
    const p = new Progress(3, 8, false);
    p.becomeSnapshot(20);
    assert.equal(p.isPaused(), true);
    p.becomeProbe();
    assert.equal(p.next, 21);
  });
});
