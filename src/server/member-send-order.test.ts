// When a member hands a Ready's messages to the transport relative to its own log save
// (Member.handleReady). A leader whose term and vote are already durable sends its appends before
// its own save, so followers write in parallel; the write is still acknowledged and applied only
// after the leader's save. Any Ready with a new term or vote (a campaign, a vote) saves first.
// Entries a Ready commits that were durable before it are applied while its own save runs.
//
// Three in-memory members on the in-process transport. Each member's log store is wrapped: a
// test can hold one save pending (the fsync that has not returned yet) until it releases it, and
// every message handed to the transport is checked against what the sender has saved by then.
// MemberOptions has no log-store hook, so the wrapper is put on the member's private `logStore`.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ServerConfig } from "../config/server-config.js";
import { MessageType, type Message, type NodeId } from "../raft/index.js";
import { MemoryRaftLogStore, type LogUpdate, type RaftLogStore } from "../storage/index.js";
import { identityFromConfig, nodeIdOf } from "./identity.js";
import { InMemoryTransportHub, startMember, type Member } from "./index.js";
import { testMemberConfig } from "./member-config.test-util.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CLUSTER = "m0=http://127.0.0.1:1,m1=http://127.0.0.1:2,m2=http://127.0.0.1:3";
// Election timeout 500 ms: holding a leader's save stops its heartbeats, and the windows below
// (a few tens of ms) must stay well inside it so that no election interferes.
const HEARTBEAT_MS = 10;
const ELECTION_MS = 500;

function config(name: string, peer: string): ServerConfig {
  return testMemberConfig(name, peer, CLUSTER, { heartbeatMs: HEARTBEAT_MS, electionMs: ELECTION_MS });
}

async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not met in ${ms} ms: ${what}`);
    await sleep(2);
  }
}

function includes(data: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= data.length; i++) {
    for (let j = 0; j < needle.length; j++) if (data[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** One save the test holds pending until release(). */
interface HeldSave {
  update: LogUpdate;
  released: boolean;
  release(): void;
}

interface Tap {
  node: NodeId;
  member: Member;
  /** The term and vote of the last save that completed (resolved to the member). */
  durable: { term: number; vote: NodeId };
  /** The highest entry index of a completed save. */
  durableIndex: number;
  /** Holds the next save this accepts (then disarms); undefined: saves complete at once. */
  hold: ((u: LogUpdate) => boolean) | undefined;
  held: HeldSave[];
  /** Messages handed to the transport, with the sender's durableIndex at that moment. */
  sent: Array<{ m: Message; durableIndex: number }>;
  /** Messages delivered to this member. */
  received: Message[];
}

interface Cluster {
  hub: InMemoryTransportHub;
  taps: Tap[];
  /** Messages a member handed to the transport before their term or vote was durable. */
  violations: string[];
  close(): Promise<void>;
}

function instrumentSaves(tap: Tap, store: RaftLogStore): void {
  const save = store.save.bind(store);
  store.save = (update: LogUpdate, sync: boolean): Promise<void> => {
    // The store applies the update to its in-memory view now (as the WAL does); only the
    // completion, the fsync's return, is what the test holds.
    const written = save(update, sync);
    let gate: Promise<void> = Promise.resolve();
    if (tap.hold?.(update) === true) {
      tap.hold = undefined;
      let release = () => {};
      gate = new Promise<void>((r) => (release = r));
      const h: HeldSave = {
        update,
        released: false,
        release: () => {
          h.released = true;
          release();
        },
      };
      tap.held.push(h);
    }
    return (async () => {
      await written;
      await gate;
      if (update.hardState !== undefined) {
        tap.durable = { term: update.hardState.term, vote: update.hardState.vote };
      }
      const last = update.entries[update.entries.length - 1];
      if (last !== undefined) tap.durableIndex = Math.max(tap.durableIndex, last.index);
    })();
  };
}

async function startCluster(): Promise<Cluster> {
  const hub = new InMemoryTransportHub();
  const taps: Tap[] = [];
  const violations: string[] = [];
  const cluster: Cluster = {
    hub,
    taps,
    violations,
    async close() {
      hub.heal();
      for (const t of taps) {
        t.hold = undefined;
        for (const h of t.held) h.release();
      }
      await Promise.all(taps.map((t) => t.member.stop()));
    },
  };
  try {
    for (let i = 0; i < 3; i++) {
      const cfg = config(`m${i}`, `http://127.0.0.1:${i + 1}`);
      const node = nodeIdOf(identityFromConfig(cfg).memberId);
      const box: { tap?: Tap } = {};
      const inner = hub.register(node, (m) => {
        box.tap?.received.push(m);
        box.tap?.member.receive(m);
      });
      const transport = {
        send(messages: readonly Message[]) {
          const tap = box.tap;
          if (tap !== undefined) {
            for (const m of messages) {
              tap.sent.push({ m, durableIndex: tap.durableIndex });
              checkDurable(tap, m, violations);
            }
          }
          inner.send(messages);
        },
        close: () => inner.close(),
      };
      hub.serveRpc(node, (method, body) => box.tap!.member.answerPeer(method, body));
      const member = await startMember({
        config: cfg,
        storage: "memory",
        transport,
        peerCaller: hub.rpcCaller(node),
      });
      const store = (member as unknown as { logStore: unknown }).logStore;
      assert.ok(store instanceof MemoryRaftLogStore, "Member keeps its log store in the field logStore");
      const hs = store.initialState().hardState;
      const tap: Tap = {
        node,
        member,
        durable: { term: hs.term, vote: hs.vote },
        durableIndex: store.lastIndex(),
        hold: undefined,
        held: [],
        sent: [],
        received: [],
      };
      instrumentSaves(tap, store);
      box.tap = tap;
      taps.push(tap);
    }
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** Raft's rule for every message but pre-votes: its term, and a vote it grants, are durable. */
function checkDurable(tap: Tap, m: Message, violations: string[]): void {
  if (m.type === MessageType.PreVote || m.type === MessageType.PreVoteResp) return;
  const d = tap.durable;
  const what = `${tap.node} sent ${MessageType[m.type]} (term ${m.term}) to ${m.to} with term ${d.term}, vote "${d.vote}" durable`;
  if (m.term > d.term) violations.push(what);
  else if (m.type === MessageType.Vote && !(d.term === m.term && d.vote === tap.node)) violations.push(what);
  else if (m.type === MessageType.VoteResp && !m.reject && !(d.term === m.term && d.vote === m.to)) {
    violations.push(what);
  }
}

/** Waits until all three agree on a leader, then puts one key through it and reads it everywhere. */
async function stableLeader(c: Cluster): Promise<Tap> {
  let leader: Tap | undefined;
  await until(
    () => {
      const id = c.taps[0]!.member.leaderId();
      if (id === 0n || !c.taps.every((t) => t.member.leaderId() === id)) return false;
      leader = c.taps.find((t) => t.member.header().memberId === id);
      return leader !== undefined && leader.member.header().raftTerm > 0;
    },
    "a leader all three members know",
    ELECTION_MS * 6,
  );
  // A put through the leader: its term has a committed entry, and followers are in replicate state.
  await leader!.member.put({ key: enc("warm-up"), value: enc("1") });
  await Promise.all(c.taps.map((t) => t.member.range({ key: enc("warm-up") })));
  return leader!;
}

/**
 * Starts the three members and waits for a stable leader, runs the test, then checks that no
 * message went out before its sender's term or vote was durable.
 */
async function withCluster(body: (c: Cluster, leader: Tap) => Promise<void>): Promise<void> {
  const c = await startCluster();
  try {
    await body(c, await stableLeader(c));
    assert.deepEqual(c.violations, []);
  } finally {
    await c.close();
  }
}

/** Holds `tap`'s next save whose entries carry `key`; the getter gives that save and the entry's index. */
function holdSaveOf(tap: Tap, key: Uint8Array): () => { index: number; save: HeldSave } | undefined {
  tap.hold = (u) => u.entries.some((e) => includes(e.data, key));
  return () => {
    const save = tap.held.find((h) => h.update.entries.some((e) => includes(e.data, key)));
    const e = save?.update.entries.find((x) => includes(x.data, key));
    return save !== undefined && e !== undefined ? { index: e.index, save } : undefined;
  };
}

/**
 * Puts `key` on the leader with the leader's save of it held; resolves once that save waits, with
 * the tracked put, the entry's index and the held save.
 */
async function putWithLeaderSaveHeld(
  leader: Tap,
  key: Uint8Array,
  value: string,
): Promise<{ put: Tracked<Awaited<ReturnType<Member["put"]>>>; index: number; save: HeldSave }> {
  const held = holdSaveOf(leader, key);
  const put = track(leader.member.put({ key, value: enc(value) }));
  await until(() => held() !== undefined, `the leader saves the entry of ${dec(key)}`);
  return { put, ...held()! };
}

interface Tracked<T> {
  settled: boolean;
  promise: Promise<T>;
}

function track<T>(p: Promise<T>): Tracked<T> {
  const s = { settled: false, promise: p };
  p.then(
    () => (s.settled = true),
    () => (s.settled = true),
  );
  return s;
}

const gotApp = (t: Tap, from: NodeId, index: number) =>
  t.received.some(
    (m) => m.type === MessageType.App && m.from === from && m.entries.some((e) => e.index === index),
  );
const gotAck = (leader: Tap, from: NodeId, index: number) =>
  leader.received.some(
    (m) => m.type === MessageType.AppResp && m.from === from && !m.reject && m.index >= index,
  );

test(
  "a stable leader's MsgApp reaches the followers while its own save is pending; the put waits for that save",
  { timeout: 30_000 },
  async () => {
    await withCluster(async (c, leader) => {
      const followers = c.taps.filter((t) => t !== leader);
      const key = enc("held-by-the-leader");
      const { put, index, save } = await putWithLeaderSaveHeld(leader, key, "v");

      // (a) Both followers get the entry, save it and answer, all while the leader's save is pending.
      await until(
        () =>
          followers.every(
            (f) => gotApp(f, leader.node, index) && f.durableIndex >= index && gotAck(leader, f.node, index),
          ),
        "both followers receive, persist and acknowledge the entry before the leader's save completes",
        2000,
      );
      assert.equal(save.released, false);
      for (const f of followers) {
        assert.ok(
          leader.sent.some(
            (s) =>
              s.durableIndex < index &&
              s.m.type === MessageType.App &&
              s.m.to === f.node &&
              s.m.entries.some((e) => e.index === index),
          ),
          `the MsgApp to ${f.node} went out before the leader's copy was durable`,
        );
      }

      // (b) Two followers hold it, but the leader neither acknowledges nor applies it before its
      // own save completes (its loop is strictly one Ready at a time).
      await sleep(5 * HEARTBEAT_MS);
      assert.equal(put.settled, false, "the put was answered before the leader's own save completed");
      const st = await leader.member.status();
      assert.ok(st.raftAppliedIndex < index, `applied ${st.raftAppliedIndex} >= ${index} before the save`);
      assert.equal((await leader.member.range({ key, serializable: true })).kvs.length, 0);

      save.release();
      const res = await put.promise;
      const r = await leader.member.range({ key, serializable: true });
      assert.equal(dec(r.kvs[0]!.value), "v");
      assert.equal(r.kvs[0]!.modRevision, res.header.revision);
    });
  },
);

test(
  "a committed write is applied and answered while the save of the next Ready's new entries is pending",
  { timeout: 30_000 },
  async () => {
    await withCluster(async (c, leader) => {
      const followers = c.taps.filter((t) => t !== leader);
      // Hold the leader's save of A until both followers have acknowledged A and B is proposed:
      // the Ready after it then holds B as a new entry and A as committed.
      const keyA = enc("committed-first");
      const keyB = enc("saved-second");
      const a = await putWithLeaderSaveHeld(leader, keyA, "a");
      const putA = a.put;
      await until(
        () => followers.every((f) => gotAck(leader, f.node, a.index)),
        "both followers acknowledge A",
      );
      const heldB = holdSaveOf(leader, keyB);
      const putB = track(leader.member.put({ key: keyB, value: enc("b") }));
      a.save.release();
      await until(() => heldB() !== undefined, "the leader saves B's entry");
      const b = heldB()!;

      // A was durable on all three before B's save began: it is answered without waiting for it.
      const resA = await putA.promise;
      assert.equal(b.save.released, false);
      assert.equal(putB.settled, false, "B was answered before the leader's copy of it was durable");
      const r = await leader.member.range({ key: keyA, serializable: true });
      assert.equal(r.kvs[0]!.modRevision, resA.header.revision);

      b.save.release();
      await putB.promise;
    });
  },
);

test(
  "with one follower cut off, the quorum needs the leader's own copy: the put waits for the leader's save",
  { timeout: 30_000 },
  async () => {
    await withCluster(async (c, leader) => {
      const [f1, f2] = c.taps.filter((t) => t !== leader) as [Tap, Tap];
      c.hub.partition(leader.node, f2.node);
      c.hub.partition(f2.node, leader.node);
      const key = enc("needs-the-leader");
      const { put, index, save } = await putWithLeaderSaveHeld(leader, key, "v");

      await until(
        () => gotApp(f1, leader.node, index) && f1.durableIndex >= index && gotAck(leader, f1.node, index),
        "the connected follower receives, persists and acknowledges the entry during the leader's save",
        2000,
      );
      assert.equal(gotApp(f2, leader.node, index), false, "the cut-off follower got the entry");
      await sleep(5 * HEARTBEAT_MS);
      assert.equal(put.settled, false, "acknowledged with one durable copy of three (the follower's)");
      assert.ok((await leader.member.status()).raftAppliedIndex < index);
      assert.equal((await leader.member.range({ key, serializable: true })).kvs.length, 0);

      save.release();
      await put.promise;
      assert.equal(dec((await leader.member.range({ key, serializable: true })).kvs[0]!.value), "v");
    });
  },
);

test(
  "an election's Readies (new term, vote) are saved before their MsgVote and MsgVoteResp are sent",
  { timeout: 30_000 },
  async () => {
    await withCluster(async (c, leader) => {
      const [target, other] = c.taps.filter((t) => t !== leader) as [Tap, Tap];
      const term = leader.member.header().raftTerm;
      // Every member holds its first save of a later term: the candidate's (term + 1, vote for
      // itself) and each voter's (term + 1, vote for the candidate). The old leader's vote is the
      // case to watch: when it grants it, the member still counts itself leader (isLeader is set
      // from the Ready's soft state only after the save).
      for (const t of c.taps) t.hold = (u) => u.hardState !== undefined && u.hardState.term > term;
      const votes = (from: Tap) =>
        from.sent.filter(
          (s) => (s.m.type === MessageType.Vote || s.m.type === MessageType.VoteResp) && s.m.term > term,
        );
      const delivered = (type: MessageType, from: Tap) =>
        c.taps.some((t) => t.received.some((m) => m.type === type && m.from === from.node && m.term > term));

      const moved = track(leader.member.moveLeader(target.member.header().memberId));
      await until(() => target.held.length === 1, "the transferee saves its new term");
      await sleep(10 * HEARTBEAT_MS);
      assert.deepEqual(votes(target), [], "the candidate sent MsgVote before its term and vote were saved");
      assert.equal(delivered(MessageType.Vote, target), false);

      target.held[0]!.release();
      await until(
        () => leader.held.length === 1 && other.held.length === 1,
        "both voters receive MsgVote and save the new term and vote",
      );
      for (const voter of [leader, other]) assert.equal(voter.held[0]!.update.hardState?.vote, target.node);
      await sleep(10 * HEARTBEAT_MS);
      for (const voter of [leader, other]) {
        assert.deepEqual(votes(voter), [], `${voter.node} answered the vote before saving it`);
        assert.equal(delivered(MessageType.VoteResp, voter), false);
      }

      for (const voter of [leader, other]) voter.held[0]!.release();
      await moved.promise;
      await until(
        () => c.taps.every((t) => t.member.leaderId() === target.member.header().memberId),
        "the transferee leads",
      );
      assert.ok(delivered(MessageType.VoteResp, leader) || delivered(MessageType.VoteResp, other));
    });
  },
);
