// Rules about membership changes (single-server changes applied when the ConfChange entry is
// applied, see docs/adr/0002-raft-membership.md): add voter, add learner, promote, remove; one
// pending change at a time; only after the leader committed an entry of its term. Plus the
// ConfChange encoding.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeConfChange, encodeConfChange } from "./confchange.js";
import { ProposalDroppedError, RaftError } from "./errors.js";
import { Router, enc } from "./router.test-util.js";
import { ConfChangeType, MessageType, type ConfChange } from "./types.js";

const cc = (type: ConfChangeType, nodeId: string): ConfChange => ({
  type,
  nodeId,
  context: new Uint8Array(),
});

/** Add a brand-new member `id` with an empty disk whose membership is `conf`. */
function join(r: Router, id: string, voters: string[], learners: string[]): void {
  r.add(id, { voters, learners });
}

describe("membership", () => {
  test("a learner receives the log but never votes for commit: a leader with a learner and one dead voter cannot commit", () => {
    const r = new Router(["a", "b"], {}, ["l"]);
    r.elect("a");
    r.isolated.add("b");
    r.node("a").propose(enc("x"));
    r.stabilize();
    assert.equal(r.get("l").storage.lastIndex(), 2, "the learner got the entry");
    assert.equal(r.node("a").status().hardState.commit, 1, "the learner's copy does not count");
    r.isolated.clear();
    r.tickAll(2);
    assert.equal(r.node("a").status().hardState.commit, 2);
    assert.deepEqual(r.appliedData("l"), ["x"]);
  });

  test("a learner's vote does not count toward an election", () => {
    const r = new Router(["a", "b", "c"], {}, ["l"]);
    r.isolated.add("b");
    r.isolated.add("c");
    r.elect("a");
    assert.equal(r.node("a").status().role, "candidate");
  });

  test("add a learner, then promote it (AddNode on a learner); it then counts for the quorum", () => {
    const r = new Router(["a"]);
    r.elect("a");
    r.node("a").proposeConfChange(cc(ConfChangeType.AddLearnerNode, "b"));
    r.stabilize();
    assert.deepEqual(r.node("a").status().confState, { voters: ["a"], learners: ["b"] });
    join(r, "b", ["a"], ["b"]);
    r.tickAll(2);
    assert.equal(r.get("b").storage.lastIndex(), r.get("a").storage.lastIndex());
    r.node("a").proposeConfChange(cc(ConfChangeType.AddNode, "b"));
    r.stabilize();
    assert.deepEqual(r.node("a").status().confState, { voters: ["a", "b"], learners: [] });
    assert.deepEqual(r.node("b").status().confState, { voters: ["a", "b"], learners: [] });
    r.isolated.add("b");
    r.node("a").propose(enc("needs-b"));
    r.stabilize();
    const commit = r.node("a").status().hardState.commit;
    assert.equal(commit, r.get("a").storage.lastIndex() - 1, "with b a voter, a alone cannot commit");
  });

  test("add a voter to a running cluster: the new member catches up and the quorum grows", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.node("a").propose(enc("before"));
    r.stabilize();
    r.node("a").proposeConfChange(cc(ConfChangeType.AddNode, "d"));
    r.stabilize();
    join(r, "d", ["a", "b", "c", "d"], []);
    r.node("a").propose(enc("after"));
    r.stabilize();
    r.tickAll(2);
    assert.deepEqual(r.appliedData("d"), ["before", "after"]);
    assert.deepEqual(r.node("a").status().confState.voters, ["a", "b", "c", "d"]);
  });

  test("only one conf change may be pending: a second is refused until the first is applied", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.isolated.add("b");
    r.isolated.add("c");
    r.node("a").proposeConfChange(cc(ConfChangeType.AddLearnerNode, "l1"));
    assert.throws(
      () => r.node("a").proposeConfChange(cc(ConfChangeType.AddLearnerNode, "l2")),
      /already pending/,
    );
    r.isolated.clear();
    r.tickAll(2);
    r.node("a").proposeConfChange(cc(ConfChangeType.AddLearnerNode, "l2"));
  });

  test("a leader must have committed an entry of its own term before proposing a conf change", () => {
    const r = new Router(["a", "b", "c"]);
    // The votes arrive, the first App does not: a leads but its empty entry is uncommitted.
    r.filter = (m) => m.type !== MessageType.App;
    r.elect("a");
    assert.equal(r.node("a").status().role, "leader");
    assert.throws(
      () => r.node("a").proposeConfChange(cc(ConfChangeType.AddNode, "d")),
      (e: unknown) => e instanceof ProposalDroppedError && /committed an entry in its term/.test(e.message),
    );
  });

  test("removing a follower shrinks the quorum", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.node("a").proposeConfChange(cc(ConfChangeType.RemoveNode, "c"));
    r.stabilize();
    assert.deepEqual(r.node("a").status().confState.voters, ["a", "b"]);
    r.isolated.add("c");
    r.node("a").propose(enc("x"));
    r.stabilize();
    assert.deepEqual(r.appliedData("b"), ["x"]);
  });

  test("a removed leader steps down, and the rest elect a new leader", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.node("a").proposeConfChange(cc(ConfChangeType.RemoveNode, "a"));
    r.stabilize();
    assert.equal(r.node("a").status().role, "follower");
    assert.deepEqual(r.node("b").status().confState.voters, ["b", "c"]);
    r.isolated.add("a");
    r.tickAll(30);
    const leaders = r.leaders();
    assert.equal(leaders.length, 1);
    assert.notEqual(leaders[0], "a");
  });

  test("refusals: removing the last voter and demoting a voter", () => {
    const r = new Router(["a"]);
    r.elect("a");
    assert.throws(() => r.node("a").proposeConfChange(cc(ConfChangeType.RemoveNode, "a")), /last voter/);
    r.node("a").proposeConfChange(cc(ConfChangeType.AddNode, "b"));
    r.stabilize();
    join(r, "b", ["a", "b"], []);
    r.tickAll(2);
    assert.throws(() => r.node("a").proposeConfChange(cc(ConfChangeType.AddLearnerNode, "b")), /demote/);
  });
});

describe("conf change encoding", () => {
  test("round trips every type, unicode ids and context bytes", () => {
    for (const type of [
      ConfChangeType.AddNode,
      ConfChangeType.RemoveNode,
      ConfChangeType.UpdateNode,
      ConfChangeType.AddLearnerNode,
    ]) {
      const orig: ConfChange = { type, nodeId: "nœud-7f", context: new Uint8Array([0, 1, 255]) };
      assert.deepEqual(decodeConfChange(encodeConfChange(orig)), orig);
    }
  });

  test("rejects malformed data", () => {
    const good = encodeConfChange(cc(ConfChangeType.AddNode, "n1"));
    assert.throws(() => decodeConfChange(good.subarray(0, 5)), RaftError);
    assert.throws(() => decodeConfChange(new Uint8Array([...good, 0])), RaftError);
    const badType = good.slice();
    badType[1] = 9;
    assert.throws(() => decodeConfChange(badType), /unknown type/);
    const badVersion = good.slice();
    badVersion[0] = 2;
    assert.throws(() => decodeConfChange(badVersion), /version/);
  });
});
