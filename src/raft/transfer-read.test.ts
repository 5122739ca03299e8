// Rules about leadership transfer (thesis §3.10) and ReadIndex (thesis §6.4): each rule stated,
// then checked on hand-driven RawNodes.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RaftError } from "./errors.js";
import { RawNode } from "./raw-node.js";
import { Router, baseConfig, dec, enc } from "./router.test-util.js";
import { MessageType } from "./types.js";
import { MemoryLogStorage } from "../storage/memory-log-storage.js";

describe("leadership transfer", () => {
  test("the leader sends TimeoutNow to an up-to-date transferee, which wins at once (even with pre-vote and check-quorum)", () => {
    const r = new Router(["a", "b", "c"], { preVote: true, checkQuorum: true });
    r.elect("a");
    r.node("a").transferLeadership("b");
    const timeoutNow = r.flushReadys().filter((m) => m.type === MessageType.TimeoutNow);
    assert.deepEqual(
      timeoutNow.map((m) => m.to),
      ["b"],
    );
    r.stabilize();
    assert.equal(r.node("b").status().role, "leader");
    assert.equal(r.node("b").status().hardState.term, 2, "no pre-vote round, one new term");
    assert.equal(r.node("a").status().lead, "b");
  });

  test("a lagging transferee is caught up first, then gets TimeoutNow", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.isolated.add("c");
    for (let i = 0; i < 3; i++) r.node("a").propose(enc(`v${i}`));
    r.stabilize();
    r.isolated.clear();
    r.node("a").transferLeadership("c");
    assert.equal(r.node("a").status().leadTransferee, "c");
    r.stabilize();
    assert.equal(r.node("c").status().role, "leader");
    assert.deepEqual(r.appliedData("c"), ["v0", "v1", "v2"]);
  });

  test("the leader refuses proposals while a transfer is in progress", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.isolated.add("b");
    r.node("a").transferLeadership("b");
    assert.throws(() => r.node("a").propose(enc("x")), /transfer/);
  });

  test("a transfer that does not finish within an election timeout is aborted", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.isolated.add("b");
    r.node("a").transferLeadership("b");
    r.tickAll(10);
    assert.equal(r.node("a").status().leadTransferee, "");
    assert.equal(r.node("a").status().role, "leader");
    r.node("a").propose(enc("accepted again"));
  });

  test("a transfer request made on a follower is forwarded to the leader", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.node("c").transferLeadership("c");
    r.stabilize();
    assert.equal(r.node("c").status().role, "leader");
  });
});

describe("ReadIndex", () => {
  test("safe: the leader answers with its commit index only after a quorum acknowledged a heartbeat carrying ctx", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.node("a").propose(enc("x"));
    r.stabilize();
    r.node("a").readIndex(enc("r1"));
    const rd = r.processReady("a")!;
    assert.equal(rd.readStates.length, 0, "not before the heartbeat round");
    const hbs = rd.messages.filter((m) => m.type === MessageType.Heartbeat);
    assert.equal(hbs.length, 2);
    assert.ok(hbs.every((m) => dec(m.context) === "r1"));
    r.stabilize();
    assert.deepEqual(
      r.get("a").readStates.map((s) => [s.index, dec(s.requestCtx)]),
      [[2, "r1"]],
    );
  });

  test("safe: a leader cut off from the quorum never answers", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.isolated.add("a");
    r.node("a").readIndex(enc("r1"));
    r.tickAll(5);
    assert.equal(r.get("a").readStates.length, 0);
  });

  test("lease-based: answered at once, without a heartbeat round", () => {
    // random 0.9: nobody campaigns on its own while the first election timeout passes (a member
    // in lease mode refuses votes for that long after it starts).
    const r = new Router(["a", "b", "c"], {
      readOnlyOption: "lease-based",
      checkQuorum: true,
      random: () => 0.9,
    });
    r.tickAll(10);
    r.elect("a");
    r.tickAll(1); // one acknowledged heartbeat round: the lease
    r.isolated.add("b");
    r.isolated.add("c");
    r.node("a").readIndex(enc("r1"));
    r.flushReadys();
    assert.deepEqual(
      r.get("a").readStates.map((s) => dec(s.requestCtx)),
      ["r1"],
    );
  });

  test("lease-based without checkQuorum is refused at construction", () => {
    const s = new MemoryLogStorage({ voters: ["a"], learners: [] });
    assert.throws(
      () => new RawNode(baseConfig("a", s, { readOnlyOption: "lease-based", checkQuorum: false })),
      (e: unknown) => e instanceof RaftError && /checkQuorum/.test(e.message),
    );
  });

  test("a follower forwards ReadIndex to the leader and gets the answer as ReadIndexResp", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.node("a").propose(enc("x"));
    r.stabilize();
    const seen: MessageType[] = [];
    r.filter = (m) => {
      seen.push(m.type);
      return true;
    };
    r.node("c").readIndex(enc("from-c"));
    r.stabilize();
    assert.ok(seen.includes(MessageType.ReadIndex) && seen.includes(MessageType.ReadIndexResp));
    assert.deepEqual(
      r.get("c").readStates.map((s) => [s.index, dec(s.requestCtx)]),
      [[2, "from-c"]],
    );
  });

  test("a new leader defers read requests until it has committed an entry of its term", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.node("a").propose(enc("x"));
    r.stabilize();
    // b becomes leader in term 2; its empty entry does not reach anyone yet.
    r.filter = (m) => m.type !== MessageType.App;
    r.elect("b");
    assert.equal(r.node("b").status().role, "leader");
    r.node("b").readIndex(enc("early"));
    r.tickAll(3); // heartbeats are acknowledged, but the read must wait
    assert.equal(r.get("b").readStates.length, 0);
    r.filter = () => true;
    r.tickAll(3);
    assert.deepEqual(
      r.get("b").readStates.map((s) => [s.index, dec(s.requestCtx)]),
      [[3, "early"]],
      "answered with the commit index that includes the term-2 entry",
    );
  });

  test("a single-voter cluster answers at once", () => {
    const r = new Router(["a"]);
    r.elect("a");
    r.node("a").readIndex(enc("solo"));
    const rd = r.processReady("a")!;
    assert.deepEqual(
      rd.readStates.map((s) => [s.index, dec(s.requestCtx)]),
      [[1, "solo"]],
    );
    assert.equal(rd.messages.length, 0);
  });

  test("without a leader the request is dropped; an empty ctx is refused", () => {
    const s = new MemoryLogStorage({ voters: ["a", "b", "c"], learners: [] });
    const n = new RawNode(baseConfig("a", s));
    n.readIndex(enc("lost"));
    assert.equal(n.hasReady(), false);
    assert.throws(() => n.readIndex(new Uint8Array()), RaftError);
  });
});
