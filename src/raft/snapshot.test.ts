// Rules about snapshots: a follower whose next entry the leader compacted gets the snapshot
// (MessageType.Snap), installs it through Ready.snapshot when it is newer than its commit, and the
// leader resumes replication after reportSnapshot.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SnapshotTemporarilyUnavailableError } from "./errors.js";
import { makeMessage } from "./raft.js";
import { Router, enc } from "./router.test-util.js";
import { MessageType, type Snapshot } from "./types.js";
import { MemoryLogStorage } from "../storage/memory-log-storage.js";

/** a leads a, b, c; c is cut off while 5 entries commit; a then snapshots and compacts at 6. */
function compactedLeader(): Router {
  const r = new Router(["a", "b", "c"]);
  r.elect("a");
  r.isolated.add("c");
  for (let i = 0; i < 5; i++) r.node("a").propose(enc(`v${i}`));
  r.stabilize();
  const s = r.get("a").storage;
  s.createSnapshot(6, { voters: ["a", "b", "c"], learners: [] }, enc("state@6"));
  s.compact(6);
  r.isolated.clear();
  return r;
}

describe("snapshots", () => {
  test("the leader sends its snapshot to a follower whose next entry was compacted; the follower installs it", () => {
    const r = compactedLeader();
    const seen: MessageType[] = [];
    let muteC = true; // c's answers to App are lost, so only reportSnapshot can move the leader on
    r.filter = (m) => {
      if (m.to === "c") seen.push(m.type);
      return !(muteC && m.from === "c" && m.type === MessageType.AppResp && !m.reject);
    };
    r.tickAll(1);
    assert.ok(seen.includes(MessageType.Snap));
    assert.equal(r.node("a").status().progress!.get("c")!.state, "snapshot");
    const c = r.get("c");
    assert.equal(c.storage.snapshot().metadata.index, 6);
    assert.equal(new TextDecoder().decode(c.storage.snapshot().data), "state@6");
    assert.equal(c.node.status().hardState.commit, 6);
    assert.equal(c.node.status().applied, 6, "advance(ready with snapshot) marks it applied");
    // While in snapshot state the leader sends no entries to c.
    seen.length = 0;
    r.node("a").propose(enc("after"));
    r.stabilize();
    assert.ok(!seen.includes(MessageType.App));
    r.node("a").reportSnapshot("c", true);
    assert.equal(r.node("a").status().progress!.get("c")!.state, "probe");
    muteC = false;
    r.tickAll(2);
    assert.equal(r.node("a").status().progress!.get("c")!.state, "replicate");
    assert.equal(c.storage.lastIndex(), 7);
    assert.deepEqual(r.appliedData("c"), ["after"]);
  });

  test("reportSnapshot(false) returns the follower to probe, and the leader sends the snapshot again", () => {
    const r = compactedLeader();
    let snaps = 0;
    r.filter = (m) => {
      if (m.type === MessageType.Snap) {
        snaps++;
        return snaps > 1; // the first transfer is lost
      }
      return true;
    };
    r.tickAll(1);
    assert.equal(snaps, 1);
    r.node("a").reportSnapshot("c", false);
    assert.equal(r.node("a").status().progress!.get("c")!.state, "probe");
    r.tickAll(3);
    assert.equal(snaps, 2);
    assert.equal(r.get("c").storage.snapshot().metadata.index, 6);
  });

  test("SnapshotTemporarilyUnavailableError from storage means: try again later", () => {
    const r = compactedLeader();
    const s = r.get("a").storage;
    let available = false;
    const real = s.snapshot.bind(s);
    s.snapshot = (): Snapshot => {
      if (!available) throw new SnapshotTemporarilyUnavailableError();
      return real();
    };
    r.tickAll(2);
    assert.equal(r.get("c").storage.snapshot().metadata.index, 0);
    available = true;
    r.tickAll(2);
    assert.equal(r.get("c").storage.snapshot().metadata.index, 6);
  });

  test("a follower's answer to the snapshot moves the leader straight back to replicating", () => {
    const r = compactedLeader();
    r.tickAll(1);
    assert.equal(r.get("c").storage.snapshot().metadata.index, 6);
    assert.equal(r.node("a").status().progress!.get("c")!.state, "replicate");
    r.node("a").propose(enc("next"));
    r.stabilize();
    assert.deepEqual(r.appliedData("c"), ["next"]);
  });

  test("a follower ignores a snapshot that is not newer than its commit index", () => {
    const r = new Router(["a", "b"]);
    r.elect("a");
    for (let i = 0; i < 3; i++) r.node("a").propose(enc(`v${i}`));
    r.stabilize();
    const b = r.node("b");
    const old: Snapshot = {
      metadata: { index: 2, term: 1, confState: { voters: ["a", "b"], learners: [] } },
      data: enc("old"),
    };
    b.step(makeMessage({ type: MessageType.Snap, from: "a", to: "b", term: 1, snapshot: old }));
    const rd = b.ready();
    assert.equal(rd.snapshot, undefined);
    assert.equal(rd.messages[0]!.index, 4, "answers with its commit index");
  });

  test("a restarted member whose storage holds a snapshot starts from it", () => {
    const s = new MemoryLogStorage({ voters: ["a"], learners: [] });
    s.applySnapshot({
      metadata: { index: 10, term: 3, confState: { voters: ["a", "b"], learners: [] } },
      data: enc("s"),
    });
    s.setHardState({ term: 3, vote: "", commit: 10 });
    const r = new Router([]);
    const m = r.start("a", s, {}, 10);
    const st = m.node.status();
    assert.deepEqual(st.confState, { voters: ["a", "b"], learners: [] });
    assert.equal(st.lastIndex, 10);
    assert.equal(st.applied, 10);
  });
});
