// Members are not special-cased when alone: three in-memory members linked by the in-process
// transport elect a leader, replicate writes proposed on any member (followers forward), serve
// linearizable reads everywhere, and hand leases' expiry to the leader. Also: without a quorum,
// requests time out or fail fast with "no leader" as etcd's do.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ServerConfig } from "../config/server-config.js";
import { identityFromConfig, nodeIdOf } from "./identity.js";
import { InMemoryTransportHub, startMember, type Member } from "./index.js";
import { testMemberConfig } from "./member-config.test-util.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const CLUSTER = "m0=http://127.0.0.1:1,m1=http://127.0.0.1:2,m2=http://127.0.0.1:3";

function config(name: string, peer: string, cluster = CLUSTER): ServerConfig {
  return testMemberConfig(name, peer, cluster, { heartbeatMs: 10, electionMs: 100 });
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

test(
  "three members replicate through raft; any member takes writes and linearizable reads",
  { timeout: 30_000 },
  async () => {
    const hub = new InMemoryTransportHub();
    const members: Member[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const box: { member?: Member } = {};
        const cfg = config(`m${i}`, `http://127.0.0.1:${i + 1}`);
        const id = nodeIdOf(identityFromConfig(cfg).memberId);
        const transport = hub.register(id, (m) => box.member?.receive(m));
        hub.serveRpc(id, (method, body) => box.member!.answerPeer(method, body));
        box.member = await startMember({
          config: cfg,
          storage: "memory",
          transport,
          peerCaller: hub.rpcCaller(id),
        });
        members.push(box.member);
      }
      await until(
        () => members.some((m) => m.header().raftTerm > 0) && members.every((m) => m.leaderId() !== 0n),
      );
      const leaderId = members[0]!.leaderId();
      assert.ok(
        members.every((m) => m.leaderId() === leaderId),
        "all agree on the leader",
      );
      const follower = members.find((m) => m.header().memberId !== leaderId)!;

      const w = await follower.put({ key: enc("a"), value: enc("1") });
      assert.equal(w.header.revision, 2);
      for (const m of members) {
        const r = await m.range({ key: enc("a") });
        assert.equal(dec(r.kvs[0]!.value), "1", "a linearizable read on every member sees the write");
        assert.equal(r.header.revision, 2);
      }
      const g = await follower.leaseGrant({ id: 0n, ttl: 30 });
      await members[2]!.put({ key: enc("l"), value: enc("v"), lease: g.id });
      const leader = members.find((m) => m.header().memberId === leaderId)!;
      assert.equal((await leader.leaseRenew(g.id)).ttl, 30);
      // A follower forwards keep-alives and time-to-live questions to the leader.
      assert.equal((await follower.leaseRenew(g.id)).ttl, 30);
      const ttl = await follower.leaseTimeToLive(g.id, true);
      assert.equal(ttl.grantedTtl, 30);
      assert.ok(ttl.ttl > 25 && ttl.ttl <= 30, `ttl ${ttl.ttl}`);
      assert.deepEqual(ttl.keys.map(dec), ["l"]);
      await assert.rejects(follower.leaseRenew(12345n), /etcdserver: requested lease not found/);
      // hash() reads local state: a linearizable read first makes each member catch up.
      await Promise.all(members.map((m) => m.range({ key: enc("l") })));
      const hashes = await Promise.all(members.map((m) => m.hash()));
      assert.deepEqual(
        hashes.map((h) => h.revision),
        [3, 3, 3],
      );
      assert.ok(
        hashes.every((h) => h.hash === hashes[0]!.hash),
        JSON.stringify(hashes),
      );
    } finally {
      await Promise.all(members.map((m) => m.stop()));
    }
  },
);

test(
  "without a quorum: requireLeader fails fast, writes time out, serializable reads still answer",
  { timeout: 30_000 },
  async () => {
    // Two voters, only one running: no leader can be elected.
    const cluster = "a=http://127.0.0.1:1,b=http://127.0.0.1:2";
    const m = await startMember({ config: config("a", "http://127.0.0.1:1", cluster), storage: "memory" });
    try {
      await assert.rejects(
        m.put({ key: enc("x"), value: enc("1") }, { requireLeader: true }),
        /etcdserver: no leader/,
      );
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error("client gone")), 50);
      await assert.rejects(m.put({ key: enc("x"), value: enc("1") }, { signal: ac.signal }), /client gone/);
      assert.equal((await m.range({ key: enc("x"), serializable: true })).kvs.length, 0);
      const started = Date.now();
      await assert.rejects(m.put({ key: enc("x"), value: enc("1") }), /etcdserver: request timed out/);
      const took = Date.now() - started;
      assert.ok(took >= 5000 && took < 8000, `timed out after ${took} ms (5 s + 2 × election timeout)`);
    } finally {
      await m.stop();
    }
  },
);
