// The deliberate rule breaks (RaftConfig.unsafeRuleBreaks): each one, when set, really breaks its
// rule, and the same scenario without it keeps the rule. The simulator relies on them to prove its
// checkers fire.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { UnsafeRuleBreak } from "./api.js";
import { RawNode } from "./raw-node.js";
import { makeMessage } from "./raft.js";
import { Router, baseConfig, dec, enc } from "./router.test-util.js";
import { EntryType, MessageType, type Entry } from "./types.js";
import { MemoryLogStorage } from "../storage/memory-log-storage.js";

function disk(terms: number[], term: number, commit: number): MemoryLogStorage {
  const s = new MemoryLogStorage({ voters: ["a", "b", "c"], learners: [] });
  s.append(
    terms.map((t, i): Entry => ({ term: t, index: i + 1, type: EntryType.Normal, data: enc(`e${i + 1}`) })),
  );
  s.setHardState({ term, vote: "", commit });
  return s;
}

/** Figure 8 setup: a (term 3) replicates the term-2 entry 2 to everyone but none of its own. */
function figure8Commit(breaks: UnsafeRuleBreak[]): number {
  const r = new Router(["a", "b", "c"], { unsafeRuleBreaks: breaks });
  r.start("a", disk([1, 2], 2, 1), { unsafeRuleBreaks: breaks });
  r.start("b", disk([1, 2], 2, 1), { unsafeRuleBreaks: breaks });
  r.start("c", disk([1], 2, 1), { unsafeRuleBreaks: breaks });
  r.filter = (m) => {
    if (m.type === MessageType.App) m.entries = m.entries.filter((e) => e.term !== 3);
    return true;
  };
  r.elect("a");
  assert.equal(r.node("a").status().role, "leader");
  return r.node("a").status().hardState.commit;
}

function votesGranted(breaks: UnsafeRuleBreak[]): boolean[] {
  const s = new MemoryLogStorage({ voters: ["a", "b", "c"], learners: [] });
  const c = new RawNode(baseConfig("c", s, { unsafeRuleBreaks: breaks }));
  c.step(makeMessage({ type: MessageType.Vote, from: "a", to: "c", term: 1 }));
  c.step(makeMessage({ type: MessageType.Vote, from: "b", to: "c", term: 1 }));
  return c.ready().messages.map((m) => !m.reject);
}

function appliedBeyondCommit(breaks: UnsafeRuleBreak[]): { applied: number; commit: number } {
  const r = new Router(["a", "b", "c"], { unsafeRuleBreaks: breaks });
  r.elect("a");
  r.isolated.add("b");
  r.isolated.add("c");
  r.node("a").propose(enc("uncommitted"));
  r.stabilize();
  const a = r.get("a");
  return { applied: Math.max(0, ...a.applied.map((e) => e.index)), commit: a.node.status().hardState.commit };
}

function isolatedLeaderReads(breaks: UnsafeRuleBreak[]): string[] {
  const r = new Router(["a", "b", "c"], { unsafeRuleBreaks: breaks });
  r.elect("a");
  r.isolated.add("a");
  r.node("a").readIndex(enc("stale?"));
  r.tickAll(3);
  return r.get("a").readStates.map((s) => dec(s.requestCtx));
}

describe("unsafe rule breaks", () => {
  test("commit-previous-term-by-counting: the leader commits an earlier-term entry a quorum stores", () => {
    assert.equal(figure8Commit([]), 1, "rule kept");
    assert.equal(figure8Commit(["commit-previous-term-by-counting"]), 2, "rule broken");
  });

  test("grant-two-votes-per-term: a member votes for two candidates in one term", () => {
    assert.deepEqual(votesGranted([]), [true, false], "rule kept");
    assert.deepEqual(votesGranted(["grant-two-votes-per-term"]), [true, true], "rule broken");
  });

  test("apply-before-commit: Ready.committedEntries carries entries that are not committed", () => {
    const kept = appliedBeyondCommit([]);
    assert.ok(kept.applied <= kept.commit, "rule kept");
    const broken = appliedBeyondCommit(["apply-before-commit"]);
    assert.equal(broken.commit, 1);
    assert.equal(broken.applied, 2, "rule broken: entry 2 handed out for applying at commit 1");
  });

  test("read-index-without-quorum-check: a leader cut off from everyone still answers reads", () => {
    assert.deepEqual(isolatedLeaderReads([]), [], "rule kept");
    assert.deepEqual(isolatedLeaderReads(["read-index-without-quorum-check"]), ["stale?"], "rule broken");
  });
});
