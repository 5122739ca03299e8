// The recipes on real members (memory storage): lease expiry through raft wakes a waiter, a client
// that leaves withdraws its key, and contenders on different members of a three-member cluster
// see each other (writes forwarded to the leader, watches on each member's own applied state).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseServerConfig, type ServerConfig } from "../../config/server-config.js";
import { ManualClock } from "../../lease/index.js";
import { identityFromConfig, nodeIdOf } from "../identity.js";
import { InMemoryTransportHub, startMember, type Member } from "../index.js";
import { campaign, currentLeader, observe, proclaim, resign, type LeaderObservation } from "./election.js";
import { lock, unlock } from "./lock.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const T = { timeout: 30_000 };

async function settlesSoon(p: Promise<unknown>, ms = 100): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, ms));
  return settled;
}

function soloConfig(): ServerConfig {
  return parseServerConfig(
    [
      "--data-dir",
      "/nonexistent/kvorum-lock-test",
      "--heartbeat-interval",
      "10",
      "--election-timeout",
      "100",
    ],
    {},
  ).config;
}

async function withMember(fn: (m: Member, clock: ManualClock) => Promise<void>): Promise<void> {
  const clock = new ManualClock(1_000_000);
  const m = await startMember({ config: soloConfig(), storage: "memory", clock });
  try {
    await fn(m, clock);
  } finally {
    await m.stop();
  }
}

test("a waiter gets the lock when the holder's lease expires", T, () =>
  withMember(async (m, clock) => {
    const a = (await m.leaseGrant({ id: 0n, ttl: 5 })).id;
    const b = (await m.leaseGrant({ id: 0n, ttl: 600 })).id;
    const held = await lock(m, enc("L"), a);
    assert.equal(dec(held.key), `L/${a.toString(16)}`);
    const waiting = lock(m, enc("L"), b);
    assert.equal(await settlesSoon(waiting), false);
    clock.advance(5_000 + 100 + 1_000); // TTL + the leader's promotion extension + margin
    const got = await waiting;
    assert.equal(dec(got.key), `L/${b.toString(16)}`);
    assert.equal((await m.range({ key: held.key })).kvs.length, 0, "the expired holder's key is gone");
    await unlock(m, got.key);
  }),
);

test("a contender whose client leaves withdraws its key from a real member", T, () =>
  withMember(async (m) => {
    const a = (await m.leaseGrant({ id: 0n, ttl: 600 })).id;
    const b = (await m.leaseGrant({ id: 0n, ttl: 600 })).id;
    await lock(m, enc("L"), a);
    const client = new AbortController();
    const waiting = lock(m, enc("L"), b, client.signal);
    assert.equal(await settlesSoon(waiting), false);
    const bKey = enc(`L/${b.toString(16)}`);
    assert.equal((await m.range({ key: bKey })).kvs.length, 1);
    client.abort();
    await assert.rejects(waiting);
    assert.equal((await m.range({ key: bKey })).kvs.length, 0);
  }),
);

test("election on a real member: campaign, observe, proclaim, resign, leader", T, () =>
  withMember(async (m) => {
    const a = (await m.leaseGrant({ id: 0n, ttl: 600 })).id;
    const b = (await m.leaseGrant({ id: 0n, ttl: 600 })).id;
    const wonA = await campaign(m, enc("el"), a, enc("A"));
    const client = new AbortController();
    const it = observe(m, enc("el"), client.signal)[Symbol.asyncIterator]();
    const next = async () => (await it.next()).value as LeaderObservation;
    assert.equal(dec((await next()).kv.value), "A");
    const campaignB = campaign(m, enc("el"), b, enc("B"));
    assert.equal(await settlesSoon(campaignB), false);
    await proclaim(m, wonA.leader, enc("A2"));
    assert.equal(dec((await next()).kv.value), "A2");
    await resign(m, wonA.leader);
    const wonB = await campaignB;
    const seen = await next();
    assert.equal(dec(seen.kv.key), dec(wonB.leader.key));
    assert.equal(dec((await currentLeader(m, enc("el"))).kv.value), "B");
    client.abort();
    await assert.rejects(it.next());
  }),
);

const CLUSTER = "m0=http://127.0.0.1:1,m1=http://127.0.0.1:2,m2=http://127.0.0.1:3";

function clusterConfig(i: number): ServerConfig {
  return parseServerConfig(
    [
      "--name",
      `m${i}`,
      "--data-dir",
      `/nonexistent/m${i}`,
      "--initial-cluster",
      CLUSTER,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${i + 1}`,
      "--heartbeat-interval",
      "10",
      "--election-timeout",
      "100",
    ],
    {},
  ).config;
}

test("contenders on different members of a three-member cluster take turns", T, async () => {
  const hub = new InMemoryTransportHub();
  const members: Member[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const box: { member?: Member } = {};
      const cfg = clusterConfig(i);
      const transport = hub.register(nodeIdOf(identityFromConfig(cfg).memberId), (msg) =>
        box.member?.receive(msg),
      );
      box.member = await startMember({ config: cfg, storage: "memory", transport });
      members.push(box.member);
    }
    const deadline = Date.now() + 10_000;
    while (!members.every((m) => m.leaderId() !== 0n)) {
      if (Date.now() > deadline) throw new Error("no leader elected");
      await new Promise((r) => setTimeout(r, 10));
    }
    const [m0, m1, m2] = members as [Member, Member, Member];
    const a = (await m0.leaseGrant({ id: 0n, ttl: 600 })).id;
    const b = (await m1.leaseGrant({ id: 0n, ttl: 600 })).id;
    const held = await lock(m0, enc("L"), a);
    const waiting = lock(m1, enc("L"), b);
    assert.equal(await settlesSoon(waiting), false);
    await unlock(m2, held.key);
    const got = await waiting;
    assert.equal(dec(got.key), `L/${b.toString(16)}`);

    const wonA = await campaign(m2, enc("el"), a, enc("A"));
    const campaignB = campaign(m0, enc("el"), b, enc("B"));
    assert.equal(await settlesSoon(campaignB), false);
    assert.equal(dec((await currentLeader(m1, enc("el"))).kv.value), "A");
    await resign(m1, wonA.leader);
    await campaignB;
    assert.equal(dec((await currentLeader(m2, enc("el"))).kv.value), "B");
  } finally {
    for (const m of members) await m.stop();
  }
});
