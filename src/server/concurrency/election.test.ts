import assert from "node:assert/strict";
import { test } from "node:test";
import { campaign, currentLeader, observe, proclaim, resign, type LeaderObservation } from "./election.js";
import { ConcurrencyError } from "./errors.js";
import { TestMember } from "./test-member.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const T = { timeout: 5000 };

async function settlesSoon(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 30));
  return settled;
}

async function withMember(fn: (m: TestMember) => Promise<void>): Promise<void> {
  const m = new TestMember();
  try {
    await fn(m);
    assert.equal(m.openStreams(), 0, "every watch stream the recipes opened is closed");
  } finally {
    await m.close();
  }
}

async function lease(m: TestMember, id: bigint): Promise<bigint> {
  return (await m.leaseGrant({ id, ttl: 30 })).id;
}

test("an uncontended campaign wins at once; Leader reports its key-value", T, () =>
  withMember(async (m) => {
    const a = await lease(m, 0xan);
    const won = await campaign(m, enc("el"), a, enc("v1"));
    assert.equal(dec(won.leader.key), "el/a");
    assert.equal(dec(won.leader.name), "el");
    assert.equal(won.leader.lease, a);
    assert.equal(won.leader.rev, won.header.revision);
    const now = await currentLeader(m, enc("el"));
    assert.equal(dec(now.kv.key), "el/a");
    assert.equal(dec(now.kv.value), "v1");
    assert.equal(now.kv.createRevision, won.leader.rev);
  }),
);

test("Leader without candidates fails with etcd's 'election: no leader'", T, () =>
  withMember(async (m) => {
    await assert.rejects(currentLeader(m, enc("el")), (err: unknown) => {
      assert.ok(err instanceof ConcurrencyError);
      assert.equal(err.message, "election: no leader");
      return true;
    });
  }),
);

test("a second candidate leads only after the first resigns", T, () =>
  withMember(async (m) => {
    const a = await lease(m, 0xan);
    const b = await lease(m, 0xbn);
    const first = await campaign(m, enc("el"), a, enc("A"));
    const second = campaign(m, enc("el"), b, enc("B"));
    assert.equal(await settlesSoon(second), false);
    assert.equal(dec((await currentLeader(m, enc("el"))).kv.value), "A");
    await resign(m, first.leader);
    const won = await second;
    assert.equal(dec(won.leader.key), "el/b");
    assert.equal(dec((await currentLeader(m, enc("el"))).kv.value), "B");
    // etcd answers with the header of the campaign's own write, not of the moment it won
    assert.equal(won.header.revision, won.leader.rev);
  }),
);

test("proclaim updates the leader's value; a stale leader key is 'election: not leader'", T, () =>
  withMember(async (m) => {
    const a = await lease(m, 0xan);
    const won = await campaign(m, enc("el"), a, enc("v1"));
    const hdr = await proclaim(m, won.leader, enc("v2"));
    const now = await currentLeader(m, enc("el"));
    assert.equal(dec(now.kv.value), "v2");
    assert.equal(now.kv.modRevision, hdr.revision);
    await assert.rejects(proclaim(m, { ...won.leader, rev: won.leader.rev + 100 }, enc("x")), {
      message: "election: not leader",
    });
    await resign(m, won.leader);
    await assert.rejects(proclaim(m, won.leader, enc("x")), { message: "election: not leader" });
  }),
);

test("campaigning again with the same lease keeps the place and proclaims a new value", T, () =>
  withMember(async (m) => {
    const a = await lease(m, 0xan);
    const first = await campaign(m, enc("el"), a, enc("v1"));
    const again = await campaign(m, enc("el"), a, enc("v2"));
    assert.equal(again.leader.rev, first.leader.rev);
    assert.equal(again.header.revision, first.header.revision, "header of the campaign txn (etcd 3.4)");
    assert.equal(dec((await currentLeader(m, enc("el"))).kv.value), "v2");
  }),
);

test("resign by a candidate that no longer owns the key changes nothing", T, () =>
  withMember(async (m) => {
    const a = await lease(m, 0xan);
    const won = await campaign(m, enc("el"), a, enc("v1"));
    const rev = m.store.currentRevision();
    const hdr = await resign(m, { ...won.leader, rev: won.leader.rev + 1 });
    assert.equal(hdr.revision, rev);
    assert.equal(dec((await currentLeader(m, enc("el"))).kv.key), "el/a");
  }),
);

test("a candidate whose client goes away while waiting withdraws its key", T, () =>
  withMember(async (m) => {
    const a = await lease(m, 0xan);
    const b = await lease(m, 0xbn);
    await campaign(m, enc("el"), a, enc("A"));
    const client = new AbortController();
    const waiting = campaign(m, enc("el"), b, enc("B"), client.signal);
    assert.equal(await settlesSoon(waiting), false);
    assert.equal((await m.range({ key: enc("el/b") })).kvs.length, 1);
    client.abort();
    await assert.rejects(waiting);
    assert.equal((await m.range({ key: enc("el/b") })).kvs.length, 0);
  }),
);

test("observe reports the first candidate, each proclaimed value and the next leader", T, () =>
  withMember(async (m) => {
    const a = await lease(m, 0xan);
    const b = await lease(m, 0xbn);
    const client = new AbortController();
    const seen: LeaderObservation[] = [];
    let notify: () => void = () => {};
    const consumer = (async () => {
      for await (const obs of observe(m, enc("el"), client.signal)) {
        seen.push(obs);
        notify();
      }
    })();
    const nextSeen = (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => (seen.length >= n ? resolve() : (notify = check));
        check();
      });

    await new Promise((r) => setTimeout(r, 10)); // observe is now watching an empty election
    const won = await campaign(m, enc("el"), a, enc("A1"));
    await nextSeen(1);
    assert.equal(dec(seen[0]!.kv.value), "A1");
    assert.equal(seen[0]!.header.revision, won.leader.rev);

    const second = campaign(m, enc("el"), b, enc("B1"));
    await settlesSoon(second);
    const proclaimed = await proclaim(m, won.leader, enc("A2"));
    await nextSeen(2);
    assert.equal(dec(seen[1]!.kv.value), "A2");
    assert.equal(seen[1]!.header.revision, proclaimed.revision);

    await resign(m, won.leader);
    await second;
    await nextSeen(3);
    assert.equal(dec(seen[2]!.kv.key), "el/b");
    assert.equal(dec(seen[2]!.kv.value), "B1");

    client.abort();
    await assert.rejects(consumer);
    assert.equal(seen.length, 3, "a non-leader's writes are not reported");
  }),
);

test("observe starts with the current leader when there is one", T, () =>
  withMember(async (m) => {
    const a = await lease(m, 0xan);
    await campaign(m, enc("el"), a, enc("A"));
    const client = new AbortController();
    const it = observe(m, enc("el"), client.signal)[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false);
    assert.equal(dec((first.value as LeaderObservation).kv.value), "A");
    await it.return(); // the consumer stops: the watch must be released
  }),
);

test("proclaim and resign with an empty leader key are etcd's key-not-provided error", T, () =>
  withMember(async (m) => {
    const leader = { name: enc("el"), key: new Uint8Array(0), rev: 5, lease: await lease(m, 0xan) };
    await assert.rejects(proclaim(m, leader, enc("v")), { message: "etcdserver: key is not provided" });
    await assert.rejects(resign(m, leader), { message: "etcdserver: key is not provided" });
  }),
);

test("campaigning with an unknown lease fails with etcd's lease-not-found error and leaves no key", T, () =>
  withMember(async (m) => {
    await assert.rejects(campaign(m, enc("el"), 0x777n, enc("v")), {
      message: "etcdserver: requested lease not found",
    });
    assert.equal((await m.range({ key: enc("el/"), rangeEnd: enc("el0") })).count, 0);
  }),
);
