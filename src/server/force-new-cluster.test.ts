// --force-new-cluster on members with data on disk: after two of three members are gone for good,
// the third restarts with the flag, elects itself, keeps every committed key and revision, lists
// only itself, takes writes, and stays a one-member cluster on a later restart without the flag.
// Also the rewrite itself: uncommitted entries are dropped, and a missing self is added back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseServerConfig, type ServerConfig } from "../config/server-config.js";
import { ConfChangeType, EntryType, decodeConfChange, type Entry } from "../raft/index.js";
import { MemoryRaftLogStore } from "../storage/raft-log-store.js";
import { committedMembership, forceNewCluster } from "./force-new-cluster.js";
import { identityFromConfig, nodeIdOf } from "./identity.js";
import { InMemoryTransportHub, startMember, type Member } from "./index.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const CLUSTER = "m0=http://127.0.0.1:1,m1=http://127.0.0.1:2,m2=http://127.0.0.1:3";

function config(root: string, i: number, extra: string[] = [], snapshotCount = 100_000): ServerConfig {
  return parseServerConfig(
    [
      "--name",
      `m${i}`,
      "--data-dir",
      join(root, `m${i}`),
      "--initial-cluster",
      CLUSTER,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${i + 1}`,
      "--heartbeat-interval",
      "10",
      "--election-timeout",
      "100",
      "--snapshot-count",
      String(snapshotCount),
      ...extra,
    ],
    {},
  ).config;
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function startOn(hub: InMemoryTransportHub, cfg: ServerConfig): Promise<Member> {
  const box: { member?: Member } = {};
  const id = nodeIdOf(identityFromConfig(cfg).memberId);
  const transport = hub.register(id, (m) => box.member?.receive(m));
  hub.serveRpc(id, (method, body) => box.member!.answerPeer(method, body));
  box.member = await startMember({ config: cfg, storage: "disk", transport, peerCaller: hub.rpcCaller(id) });
  return box.member;
}

const isLeader = (m: Member) => m.leaderId() === m.header().memberId;

async function snapshotOfKeys(m: Member): Promise<string[]> {
  const r = await m.range({ key: enc("k"), rangeEnd: enc("l") });
  return r.kvs.map((kv) => `${dec(kv.key)}=${dec(kv.value)}@${kv.modRevision}/${kv.version}`);
}

async function loseQuorumAndForce(snapshotCount: number): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "kvorum-force-"));
  const running: Member[] = [];
  try {
    const hub = new InMemoryTransportHub();
    for (let i = 0; i < 3; i++) running.push(await startOn(hub, config(root, i, [], snapshotCount)));
    await until(() => running.some(isLeader), "a leader among three");
    for (let i = 0; i < 5; i++) await running[i % 3]!.put({ key: enc(`k${i}`), value: enc(`v${i}`) });
    await running[1]!.put({ key: enc("k1"), value: enc("v1b") });
    const before = await snapshotOfKeys(running[0]!);
    const revision = (await running[0]!.range({ key: enc("k0") })).header.revision;
    const self = running[0]!.header().memberId;
    assert.equal((await running[0]!.memberList()).length, 3);
    // The other two are gone for good; the third stops too, then restarts with the flag.
    await Promise.all(running.splice(0).map((m) => m.stop()));

    const alone = new InMemoryTransportHub();
    let m = await startOn(alone, config(root, 0, ["--force-new-cluster"], snapshotCount));
    running.push(m);
    await until(() => isLeader(m), "the forced member elects itself");
    assert.deepEqual(await snapshotOfKeys(m), before, "every committed key, with its revisions");
    assert.equal((await m.range({ key: enc("k0") })).header.revision, revision);
    assert.deepEqual(
      (await m.memberList()).map((x) => x.id),
      [self],
    );
    assert.deepEqual(m.raftConfState(), { voters: [nodeIdOf(self)], learners: [] });
    const w = await m.put({ key: enc("k9"), value: enc("after") });
    assert.equal(w.header.revision, revision + 1);

    // A second restart, without the flag: still alone, with the data.
    await running.pop()!.stop();
    m = await startOn(new InMemoryTransportHub(), config(root, 0, [], snapshotCount));
    running.push(m);
    await until(() => isLeader(m), "the member elects itself again without the flag");
    assert.deepEqual(
      (await m.memberList()).map((x) => x.id),
      [self],
    );
    assert.deepEqual(await snapshotOfKeys(m), [...before, `k9=after@${revision + 1}/1`]);
    await m.put({ key: enc("k10"), value: enc("x") });
    if (snapshotCount < 100) {
      assert.ok(readdirSync(join(root, "m0", "member", "snap")).length > 0, "the log had a snapshot");
    }
  } finally {
    await Promise.all(running.map((m) => m.stop()));
    rmSync(root, { recursive: true, force: true });
  }
}

test(
  "a member restarted with --force-new-cluster keeps its data and becomes a one-member cluster for good",
  { timeout: 60_000 },
  () => loseQuorumAndForce(100_000),
);

test("the same when the configuration comes from a raft snapshot", { timeout: 60_000 }, () =>
  loseQuorumAndForce(3),
);

const normal = (index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: enc(`e${index}`),
});

test("the rewrite drops uncommitted entries, adds a missing self first, then removes the others", async () => {
  const store = new MemoryRaftLogStore({ voters: ["a", "b", "c"], learners: ["d"] });
  await store.save(
    { entries: [1, 2, 3, 4, 5].map((i) => normal(i, 2)), hardState: { term: 3, vote: "b", commit: 3 } },
    true,
  );
  const logged: string[] = [];
  const commit = await forceNewCluster(
    store,
    { nodeId: "e", clusterId: "f", name: "me", peerUrls: ["http://127.0.0.1:9"] },
    { info: (_o, msg) => logged.push(msg) },
  );
  assert.deepEqual(logged, ["discarding uncommitted WAL entries", "forcing restart member"]);
  assert.equal(commit, 8);
  assert.equal(store.lastIndex(), 8);
  assert.deepEqual(store.initialState().hardState, { term: 3, vote: "b", commit: 8 });
  const added = store.entries(4, 9).map((e) => {
    assert.equal(e.type, EntryType.ConfChange);
    assert.equal(e.term, 3);
    const cc = decodeConfChange(e.data);
    return `${ConfChangeType[cc.type]} ${cc.nodeId}`;
  });
  assert.deepEqual(added, ["AddNode e", "RemoveNode a", "RemoveNode b", "RemoveNode c", "RemoveNode d"]);
  const after = committedMembership(store);
  assert.deepEqual([...after.voters], ["e"]);
  assert.deepEqual([...after.learners], []);
});

test("a member already alone only loses its uncommitted entries", async () => {
  const store = new MemoryRaftLogStore({ voters: ["a"], learners: [] });
  await store.save(
    { entries: [1, 2, 3].map((i) => normal(i, 1)), hardState: { term: 1, vote: "a", commit: 2 } },
    true,
  );
  const commit = await forceNewCluster(
    store,
    { nodeId: "a", clusterId: "f", name: "a", peerUrls: [] },
    { info: () => {} },
  );
  assert.equal(commit, 3);
  assert.equal(store.lastIndex(), 3);
  const e = store.entries(3, 4)[0]!;
  assert.equal(e.data.length, 0, "the uncommitted entry 3 is replaced by an empty one");
});
