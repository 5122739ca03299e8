// Raft rules about log replication and commitment (paper §5.3, §5.4), flow control, the
// durability rule (the leader's own entries count only once persisted) and restart from storage.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RawNode } from "./raw-node.js";
import { makeMessage } from "./raft.js";
import { Router, baseConfig, enc } from "./router.test-util.js";
import { EntryType, MessageType, type Entry, type Message } from "./types.js";
import { MemoryLogStorage } from "../storage/memory-log-storage.js";

/** A disk holding entries with the given terms at indexes 1..n and hard state (term, commit). */
function disk(voters: string[], terms: number[], term: number, commit = 0): MemoryLogStorage {
  const s = new MemoryLogStorage({ voters, learners: [] });
  s.append(
    terms.map((t, i): Entry => ({ term: t, index: i + 1, type: EntryType.Normal, data: enc(`e${i + 1}`) })),
  );
  s.setHardState({ term, vote: "", commit });
  return s;
}

function termsOf(r: Router, id: string): number[] {
  const s = r.get(id).storage;
  const out: number[] = [];
  for (let i = s.firstIndex(); i <= s.lastIndex(); i++) out.push(s.term(i));
  return out;
}

const isApp = (m: Message): boolean => m.type === MessageType.App;

describe("log replication", () => {
  test("§5.3 a follower rejects App when its log has no entry at prevLogIndex with prevLogTerm", () => {
    const s = disk(["a", "b"], [1, 1], 1);
    const b = new RawNode(baseConfig("b", s));
    b.step(makeMessage({ type: MessageType.App, from: "a", to: "b", term: 2, index: 3, logTerm: 2 }));
    const resp = b.ready().messages[0]!;
    assert.equal(resp.type, MessageType.AppResp);
    assert.equal(resp.reject, true);
    assert.equal(resp.rejectHint, 2, "hint: the follower's last index");
  });

  test("§5.3 conflicting entries are truncated and the follower's log ends up equal to the leader's", () => {
    const r = new Router(["a", "b", "c"]);
    r.start("a", disk(["a", "b", "c"], [1, 1, 3, 3, 3], 3));
    r.start("b", disk(["a", "b", "c"], [1, 1, 2, 2], 2));
    r.start("c", disk(["a", "b", "c"], [1, 1, 3, 3, 3], 3));
    r.elect("a");
    assert.equal(r.node("a").status().role, "leader");
    assert.deepEqual(termsOf(r, "b"), [1, 1, 3, 3, 3, 4]);
    assert.deepEqual(termsOf(r, "c"), [1, 1, 3, 3, 3, 4]);
    assert.equal(r.node("b").status().hardState.commit, 6);
  });

  test("fast back-off: a follower with a long conflicting suffix is repaired in a few round trips", () => {
    const long = (t: number): number[] => [1, ...Array.from({ length: 50 }, () => t)];
    const r = new Router(["a", "b", "c"]);
    r.start("a", disk(["a", "b", "c"], long(2), 3));
    r.start("b", disk(["a", "b", "c"], long(3), 3));
    r.start("c", disk(["a", "b", "c"], long(2), 3));
    let rejects = 0;
    r.filter = (m) => {
      if (m.type === MessageType.AppResp && m.from === "b" && m.reject) rejects++;
      return true;
    };
    r.elect("a");
    assert.equal(r.node("a").status().role, "leader");
    assert.deepEqual(termsOf(r, "b"), [...long(2), 4]);
    assert.ok(rejects <= 2, `took ${rejects} rejections (one per entry would be 50)`);
  });

  test("fast back-off: a follower missing many entries answers with its last index", () => {
    const r = new Router(["a", "b", "c"]);
    r.start(
      "a",
      disk(
        ["a", "b", "c"],
        Array.from({ length: 100 }, () => 1),
        1,
      ),
    );
    r.start(
      "c",
      disk(
        ["a", "b", "c"],
        Array.from({ length: 100 }, () => 1),
        1,
      ),
    );
    let rejects = 0;
    r.filter = (m) => {
      if (m.type === MessageType.AppResp && m.from === "b" && m.reject) rejects++;
      return true;
    };
    r.elect("a");
    assert.equal(rejects, 1);
    assert.equal(r.get("b").storage.lastIndex(), 101);
  });

  test("§5.4.2 a leader never commits an entry of an earlier term by counting replicas (Figure 8)", () => {
    const r = new Router(["a", "b", "c"]);
    r.start("a", disk(["a", "b", "c"], [1, 2], 2, 1));
    r.start("b", disk(["a", "b", "c"], [1, 2], 2, 1));
    r.start("c", disk(["a", "b", "c"], [1], 2, 1));
    // Strip entries of the new term (3) from every App so only the term-2 entry replicates.
    let block = true;
    r.filter = (m) => {
      if (block && isApp(m)) m.entries = m.entries.filter((e) => e.term !== 3);
      return true;
    };
    r.elect("a");
    assert.equal(r.node("a").status().role, "leader");
    assert.equal(r.get("c").storage.lastIndex(), 2, "entry 2 (term 2) is now on all three members");
    assert.equal(r.node("a").status().hardState.commit, 1, "but it is not committed");
    block = false;
    r.tickAll(2);
    assert.equal(r.node("a").status().hardState.commit, 3, "committing the term-3 entry commits entry 2 too");
  });

  test("§8 a new leader appends an empty entry of its term", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    const e = r.get("a").storage.entries(1, 2)[0]!;
    assert.deepEqual([e.term, e.index, e.type, e.data.length], [1, 1, EntryType.Normal, 0]);
    assert.equal(r.node("a").status().hardState.commit, 1);
  });

  test("durability rule: a lone leader does not commit entries it has not persisted", () => {
    const r = new Router(["a"]);
    r.elect("a");
    const a = r.node("a");
    const before = a.status().hardState.commit;
    a.propose(enc("x"));
    const rd = a.ready();
    assert.equal(rd.entries.length, 1);
    assert.equal(a.status().hardState.commit, before, "not committed at append time");
    assert.equal(rd.committedEntries.length, 0);
    assert.equal(a.hasReady(), false, "nothing else to do until the caller persists");
    r.get("a").storage.append(rd.entries);
    a.advance(rd);
    assert.equal(a.status().hardState.commit, before + 1, "committed once the caller persisted it");
  });

  test("durability rule: one follower's ack is not a quorum of three while the leader's copy is unpersisted", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.isolated.add("c");
    const a = r.node("a");
    a.propose(enc("x"));
    const rd = a.ready();
    r.sendAll(rd.messages); // sent before persisting: exactly what the rule guards against
    r.stabilize();
    assert.equal(a.status().hardState.commit, 1, "only b holds entry 2 durably");
    r.get("a").storage.append(rd.entries);
    a.advance(rd);
    assert.equal(a.status().hardState.commit, 2);
  });

  test("heartbeats carry min(match, commit) so a lagging follower never commits past its log", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    r.isolated.add("c");
    for (let i = 0; i < 3; i++) r.node("a").propose(enc(`v${i}`));
    r.stabilize();
    r.isolated.clear();
    r.node("a").tick();
    const msgs = r.flushReadys();
    const hbC = msgs.find((m) => m.type === MessageType.Heartbeat && m.to === "c")!;
    const hbB = msgs.find((m) => m.type === MessageType.Heartbeat && m.to === "b")!;
    assert.equal(hbB.commit, 4);
    assert.equal(hbC.commit, 1);
  });

  test("flow control: in replicate state at most maxInflightMsgs App messages are in flight", () => {
    const r = new Router(["a", "b"], { maxInflightMsgs: 2, maxSizePerMsg: 1 });
    r.elect("a");
    r.isolated.add("b"); // nothing gets acknowledged
    const a = r.node("a");
    for (let i = 0; i < 10; i++) a.propose(enc(`v${i}`));
    const rd = a.ready();
    const apps = rd.messages.filter(isApp);
    assert.equal(apps.length, 2);
    assert.ok(
      apps.every((m) => m.entries.length === 1),
      "maxSizePerMsg limits each message",
    );
  });

  test("flow control: in probe state one App at a time until the follower answers", () => {
    const r = new Router(["a", "b", "c"]);
    r.isolated.add("c");
    r.elect("a");
    // c never answered: it is still probed. New proposals must not send it more messages.
    for (let i = 0; i < 3; i++) r.node("a").propose(enc(`v${i}`));
    const rd = r.node("a").ready();
    assert.equal(rd.messages.filter((m) => isApp(m) && m.to === "c").length, 0);
    assert.equal(r.node("a").status().progress!.get("c")!.state, "probe");
    assert.equal(r.node("a").status().progress!.get("b")!.state, "replicate");
  });
});

describe("unreachable peers", () => {
  test("reportUnreachable moves a replicating follower back to probe (one message at a time)", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    assert.equal(r.node("a").status().progress!.get("b")!.state, "replicate");
    r.node("a").reportUnreachable("b");
    assert.equal(r.node("a").status().progress!.get("b")!.state, "probe");
    r.node("a").propose(enc("x"));
    r.node("a").propose(enc("y"));
    const toB = r.flushReadys().filter((m) => m.to === "b" && isApp(m));
    const toC = r.queue.filter((m) => m.to === "c" && isApp(m));
    assert.equal(toB.length, 1, "probe: one message");
    assert.equal(toC.length, 2, "replicate: pipelined");
  });
});

describe("restart from storage", () => {
  test("a restarted member recovers term, vote, commit and log, and re-delivers entries after `applied`", () => {
    const r = new Router(["a", "b", "c"]);
    r.elect("a");
    for (let i = 0; i < 4; i++) r.node("a").propose(enc(`v${i}`));
    r.stabilize();
    const st = r.node("b").status();
    const storage = r.get("b").storage;
    const b = r.start("b", storage, {}, 3);
    const st2 = b.node.status();
    assert.deepEqual(st2.hardState, st.hardState);
    assert.equal(st2.lastIndex, st.lastIndex);
    assert.equal(st2.applied, 3);
    const rd = b.node.ready();
    assert.deepEqual(
      rd.committedEntries.map((e) => e.index),
      [4, 5],
      "entries up to applied are not handed out again",
    );
    assert.equal(rd.hardState, undefined, "nothing changed, nothing to persist");
  });

  test("a restarted member that voted in its term does not vote again in it", () => {
    const s = new MemoryLogStorage({ voters: ["a", "b", "c"], learners: [] });
    s.setHardState({ term: 4, vote: "a", commit: 0 });
    const c = new RawNode(baseConfig("c", s));
    c.step(makeMessage({ type: MessageType.Vote, from: "b", to: "c", term: 4 }));
    assert.equal(c.ready().messages[0]!.reject, true);
  });
});
