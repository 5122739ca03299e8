// Rules about where proposals go: followers forward to the leader, and a proposal that cannot be
// accepted is dropped with ProposalDroppedError (no leader, forwarding disabled, leadership
// transfer, too many uncommitted bytes).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProposalDroppedError } from "./errors.js";
import { RawNode } from "./raw-node.js";
import { Router, baseConfig, enc } from "./router.test-util.js";
import { MessageType } from "./types.js";
import { MemoryLogStorage } from "../storage/memory-log-storage.js";

describe("proposals", () => {
  test("a follower forwards a proposal to the leader, which replicates and commits it", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.node("c").propose(enc("from-c"));
    const fwd = r.flushReadys().find((m) => m.type === MessageType.Prop)!;
    assert.equal(fwd.to, "a");
    r.stabilize();
    for (const id of ["a", "b", "c"]) assert.deepEqual(r.appliedData(id), ["from-c"]);
  });

  test("with no leader a proposal is dropped with a 'no leader' error", () => {
    const s = new MemoryLogStorage({ voters: ["a", "b", "c"], learners: [] });
    const n = new RawNode(baseConfig("a", s));
    assert.throws(
      () => n.propose(enc("x")),
      (e: unknown) => e instanceof ProposalDroppedError && /no leader/.test(e.message),
    );
    n.campaign();
    assert.throws(() => n.propose(enc("x")), /no leader/, "a candidate has no leader either");
  });

  test("disableProposalForwarding: a follower drops instead of forwarding", () => {
    const r = new Router(["a", "b", "c"], { disableProposalForwarding: true });
    r.elect("a");
    assert.throws(() => r.node("b").propose(enc("x")), /forwarding/);
    assert.equal(r.flushReadys().length, 0);
  });

  test("a leader drops proposals once uncommitted entries exceed maxUncommittedEntriesSize", () => {
    const r = new Router(["a", "b", "c"], { maxUncommittedEntriesSize: 10 });
    r.elect("a");
    r.isolated.add("b");
    r.isolated.add("c");
    const a = r.node("a");
    a.propose(new Uint8Array(8));
    assert.throws(() => a.propose(new Uint8Array(8)), /uncommitted/);
    r.isolated.clear();
    r.stabilize();
    r.tickAll(2);
    a.propose(new Uint8Array(8)); // committed and applied: room again
  });

  test("a forwarded proposal the leader cannot take is dropped quietly, not thrown at the transport", () => {
    const r = new Router(["a", "b", "c"], { maxUncommittedEntriesSize: 4 });
    r.elect("a");
    r.isolated.add("c");
    r.node("a").propose(new Uint8Array(4));
    r.node("b").propose(new Uint8Array(4)); // forwarded; the leader must drop it
    const fwd = r.flushReadys().find((m) => m.type === MessageType.Prop)!;
    assert.doesNotThrow(() => r.node("a").step(fwd));
    assert.throws(
      () => r.node("a").propose(new Uint8Array(4)),
      ProposalDroppedError,
      "a local proposal still throws",
    );
    r.queue = [];
    r.stabilize();
    assert.equal(r.get("a").storage.lastIndex(), 2);
  });
});
