// Raft rules about elections (paper §5.2, thesis §9.6 pre-vote, §6.2 check-quorum), each stated
// and then checked on hand-driven RawNodes.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RawNode } from "./raw-node.js";
import { makeMessage } from "./raft.js";
import { Router, baseConfig } from "./router.test-util.js";
import { MessageType, type Message } from "./types.js";
import { MemoryLogStorage } from "../storage/memory-log-storage.js";

function voteRequest(from: string, to: string, term: number, index = 0, logTerm = 0): Message {
  return makeMessage({ type: MessageType.Vote, from, to, term, index, logTerm });
}

function lone(id: string, voters: string[], over = {}): { node: RawNode; storage: MemoryLogStorage } {
  const storage = new MemoryLogStorage({ voters, learners: [] });
  return { node: new RawNode(baseConfig(id, storage, over)), storage };
}

describe("elections", () => {
  test("§5.2 a follower that hears nothing for an election timeout starts an election in term+1", () => {
    const { node } = lone("a", ["a", "b", "c"], { random: () => 0 });
    for (let i = 0; i < 9; i++) node.tick();
    assert.equal(node.status().role, "follower");
    node.tick();
    const st = node.status();
    assert.equal(st.role, "candidate");
    assert.equal(st.hardState.term, 1);
    assert.equal(st.hardState.vote, "a", "a candidate votes for itself");
    const rd = node.ready();
    const votes = rd.messages.filter((m) => m.type === MessageType.Vote);
    assert.deepEqual(votes.map((m) => m.to).sort(), ["b", "c"]);
  });

  test("§5.2 election timeouts are randomized in [electionTick, 2*electionTick)", () => {
    for (const [r, expected] of [
      [0, 10],
      [0.5, 15],
      [0.999, 19],
    ] as const) {
      const { node } = lone("a", ["a", "b", "c"], { random: () => r });
      let ticks = 0;
      while (node.status().role === "follower") {
        node.tick();
        ticks++;
      }
      assert.equal(ticks, expected, `random ${r}`);
    }
  });

  test("§5.2 a candidate that receives votes from a majority becomes leader", () => {
    const r = new Router(["a", "b", "c", "d", "e"]);
    r.isolated.add("d");
    r.isolated.add("e");
    r.elect("a");
    assert.equal(r.node("a").status().role, "leader", "3 of 5 is a majority");
  });

  test("§5.2 a candidate without a majority does not become leader", () => {
    const r = new Router(["a", "b", "c", "d", "e"]);
    r.isolated.add("c");
    r.isolated.add("d");
    r.isolated.add("e");
    r.elect("a");
    assert.equal(r.node("a").status().role, "candidate");
  });

  test("§5.2 a follower grants at most one vote per term", () => {
    const { node } = lone("c", ["a", "b", "c"]);
    node.step(voteRequest("a", "c", 1));
    node.step(voteRequest("b", "c", 1));
    const resps = node.ready().messages.filter((m) => m.type === MessageType.VoteResp);
    assert.deepEqual(
      resps.map((m) => [m.to, m.reject]),
      [
        ["a", false],
        ["b", true],
      ],
    );
    node.step(voteRequest("a", "c", 1));
    assert.equal(
      node.ready().messages[0]!.reject,
      false,
      "repeating the vote for the same candidate is fine",
    );
  });

  test("§5.2 the vote is in Ready.hardState together with the granting message (persist before send)", () => {
    const { node } = lone("c", ["a", "b", "c"]);
    node.step(voteRequest("a", "c", 3));
    const rd = node.ready();
    assert.deepEqual(rd.hardState, { term: 3, vote: "a", commit: 0 });
    assert.equal(rd.mustSync, true);
    assert.equal(rd.messages.length, 1);
  });

  test("§5.4.1 a voter denies its vote if its own log is more up to date", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.node("a").propose(new Uint8Array([1]));
    r.stabilize();
    // c's log now ends at (term 1, index 2); a candidate with an older log must be refused.
    const c = r.node("c");
    c.step(voteRequest("b", "c", 5, 1, 1));
    const resp = c.ready().messages.find((m) => m.type === MessageType.VoteResp)!;
    assert.equal(resp.reject, true);
    c.step(voteRequest("b", "c", 6, 2, 1));
    const ok = c.ready().messages.find((m) => m.type === MessageType.VoteResp)!;
    assert.equal(ok.reject, false);
  });

  test("§5.1 a member that sees a higher term becomes follower in that term", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.node("a").step(makeMessage({ type: MessageType.AppResp, from: "b", to: "a", term: 7 }));
    const st = r.node("a").status();
    assert.equal(st.role, "follower");
    assert.equal(st.hardState.term, 7);
  });

  test("§5.1 messages from an older term are ignored", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.elect("b");
    assert.equal(r.node("b").status().hardState.term, 2);
    r.node("c").step(makeMessage({ type: MessageType.App, from: "a", to: "c", term: 1, commit: 1 }));
    assert.equal(r.node("c").status().lead, "b");
  });

  test("pre-vote: a pre-candidate does not bump its term", () => {
    const { node } = lone("a", ["a", "b", "c"], { preVote: true });
    node.campaign();
    const st = node.status();
    assert.equal(st.role, "pre-candidate");
    assert.equal(st.hardState.term, 0);
    const pv = node.ready().messages.filter((m) => m.type === MessageType.PreVote);
    assert.equal(pv.length, 2);
    assert.equal(pv[0]!.term, 1, "pre-votes ask for the next term");
  });

  test("pre-vote: a partitioned member rejoining does not disrupt the leader", () => {
    const r = new Router(["a", "b", "c"], { preVote: true });
    r.elect("a");
    r.isolated.add("c");
    // c campaigns repeatedly while cut off; with pre-vote its term never moves.
    r.tickAll(60);
    assert.equal(r.node("c").status().hardState.term, 1);
    r.isolated.clear();
    r.tickAll(5);
    assert.equal(r.node("a").status().role, "leader");
    assert.equal(r.node("a").status().hardState.term, 1);
    assert.equal(r.node("c").status().lead, "a");
  });

  test("without pre-vote the same rejoin deposes the leader (the test above can fail)", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.isolated.add("c");
    r.tickAll(60);
    assert.ok(r.node("c").status().hardState.term > 1);
    r.isolated.clear();
    r.tickAll(30);
    assert.ok(r.node("a").status().hardState.term > 1, "the leader saw c's inflated term");
  });

  test("pre-vote with check-quorum: a voter that heard a leader within the election timeout refuses", () => {
    const r = new Router(["a", "b", "c"], { preVote: true, checkQuorum: true });
    r.elect("a");
    const b = r.node("b");
    b.step(makeMessage({ type: MessageType.PreVote, from: "c", to: "b", term: 2, index: 5, logTerm: 1 }));
    assert.equal(b.ready().messages.length, 0, "ignored inside the leader lease");
  });

  test("check-quorum: a leader that hears from no quorum for an election timeout steps down", () => {
    const r = new Router(["a", "b", "c"], { checkQuorum: true });
    r.elect("a");
    r.isolated.add("a");
    r.tick("a", 20);
    assert.equal(r.node("a").status().role, "follower");
  });

  test("check-quorum: a leader that keeps hearing from a quorum stays leader", () => {
    const r = new Router(["a", "b", "c"], { checkQuorum: true, electionTick: 100 });
    r.elect("a");
    r.isolated.add("c");
    for (let i = 0; i < 250; i++) {
      r.tick("a");
      r.stabilize();
    }
    assert.equal(r.node("a").status().role, "leader");
  });

  test("learners and members outside the configuration never campaign", () => {
    const r = new Router(["a", "b"], {}, ["l"]);
    r.tick("l", 100);
    assert.equal(r.node("l").status().role, "follower");
    assert.equal(r.node("l").ready().messages.length, 0);
  });
});
