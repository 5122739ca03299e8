// The member's contract, run on both storage kinds: KV through raft, leases (with an injected
// clock for expiry), watches, linearizable reads, stop, and (disk only) restart.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseServerConfig, type ServerConfig } from "../config/server-config.js";
import { ManualClock } from "../lease/index.js";
import { EtcdError } from "../mvcc/errors.js";
import { CompareResult, CompareTarget, EventType } from "../mvcc/types.js";
import type { WatchResponse } from "../mvcc/watch/index.js";
import { AlarmAction, AlarmType, startMember, type Member } from "./index.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function testConfig(dataDir: string, extra: string[] = []): ServerConfig {
  return parseServerConfig(
    ["--data-dir", dataDir, "--heartbeat-interval", "10", "--election-timeout", "100", ...extra],
    {},
  ).config;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function withMember(
  storage: "memory" | "disk",
  fn: (m: Member, ctx: { clock: ManualClock; dir: string }) => Promise<void>,
  extra: string[] = [],
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kvorum-member-"));
  const clock = new ManualClock(1_000_000);
  const m = await startMember({ config: testConfig(join(dir, "data"), extra), storage, clock });
  try {
    await fn(m, { clock, dir });
  } finally {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("--initial-election-tick-advance: a single-voter member leads at once, not after its election timeout", async () => {
  // A 40 s election timeout: only the start-up campaign can make the member leader within seconds.
  const slow = ["--heartbeat-interval", "100", "--election-timeout", "40000"];
  const leads = async (m: Member) => (await m.status()).leader !== 0n;
  await withMember(
    "memory",
    async (m) => {
      const end = Date.now() + 5000;
      while (!(await leads(m))) {
        assert.ok(Date.now() < end, "no leader 5 s after start");
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    slow,
  );
  await withMember(
    "memory",
    async (m) => {
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await leads(m), false, "with the advance off, the member waits out its election timeout");
    },
    [...slow, "--initial-election-tick-advance=false"],
  );
});

for (const storage of ["memory", "disk"] as const) {
  describe(`member (${storage})`, { timeout: 30_000 }, () => {
    test("put, range, delete, txn and compact go through raft with etcd's revisions", async () => {
      await withMember(storage, async (m) => {
        const p1 = await m.put({ key: enc("a"), value: enc("1") });
        assert.equal(p1.header.revision, 2);
        const p2 = await m.put({ key: enc("a"), value: enc("2"), prevKv: true });
        assert.equal(p2.header.revision, 3);
        assert.equal(dec(p2.prevKv!.value), "1");
        await m.put({ key: enc("b"), value: enc("x") });

        const r = await m.range({ key: enc("a"), rangeEnd: enc("c") });
        assert.deepEqual(
          r.kvs.map((kv) => [dec(kv.key), dec(kv.value), kv.version]),
          [
            ["a", "2", 2],
            ["b", "x", 1],
          ],
        );
        assert.equal(r.header.revision, 4);
        const old = await m.range({ key: enc("a"), revision: 2, serializable: true });
        assert.equal(dec(old.kvs[0]!.value), "1");

        const t = await m.txn({
          compare: [
            { key: enc("a"), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: enc("2") },
          ],
          success: [{ requestPut: { key: enc("c"), value: enc("y") } }, { requestRange: { key: enc("b") } }],
          failure: [],
        });
        assert.equal(t.succeeded, true);
        assert.equal(t.header.revision, 5);
        // A read-only txn does not create a revision.
        const ro = await m.txn({ compare: [], success: [{ requestRange: { key: enc("c") } }], failure: [] });
        assert.equal(ro.header.revision, 5);

        const d = await m.deleteRange({ key: enc("a"), rangeEnd: enc("c"), prevKv: true });
        assert.equal(d.deleted, 2);
        assert.equal(d.header.revision, 6);

        await m.compact({ revision: 4, physical: true });
        await assert.rejects(m.range({ key: enc("a"), revision: 3 }), /required revision has been compacted/);
        await assert.rejects(m.compact({ revision: 3 }), /required revision has been compacted/);
        await assert.rejects(m.compact({ revision: 100 }), /required revision is a future revision/);
        await assert.rejects(m.put({ key: new Uint8Array(0), value: enc("v") }), (e: unknown) => {
          assert.ok(e instanceof EtcdError);
          assert.equal(e.message, "etcdserver: key is not provided");
          return true;
        });
        // The failed requests still consumed raft entries; the next write gets the next revision.
        assert.equal((await m.put({ key: enc("z"), value: enc("1") })).header.revision, 7);
        const st = await m.status();
        assert.equal(st.revision, 7);
        assert.equal(st.leader, m.header().memberId);
        assert.equal(st.raftAppliedIndex, st.raftIndex);
        assert.equal(st.version, "3.4.31");
      });
    });

    test("concurrent writes are all applied, each once, in distinct revisions", async () => {
      await withMember(storage, async (m) => {
        const results = await Promise.all(
          Array.from({ length: 300 }, (_, i) => m.put({ key: enc(`k${i}`), value: enc(`${i}`) })),
        );
        const revs = new Set(results.map((r) => r.header.revision));
        assert.equal(revs.size, 300);
        const all = await m.range({ key: enc("k"), rangeEnd: enc("l"), countOnly: true });
        assert.equal(all.count, 300);
      });
    });

    test("the answers of one Ready go out over several event-loop turns, in log order", async () => {
      await withMember(storage, async (m) => {
        // Proposed in one turn, so raft commits all 40 in one Ready.
        const puts = Array.from({ length: 40 }, (_, i) => m.put({ key: enc(`spread${i}`), value: enc("v") }));
        let laterTurn = false;
        let answeredInLaterTurn = 0;
        void puts[0]!.then(() => setImmediate(() => (laterTurn = true)));
        for (const p of puts) void p.then(() => (answeredInLaterTurn += laterTurn ? 1 : 0));
        const revisions = (await Promise.all(puts)).map((r) => r.header.revision);
        assert.ok(answeredInLaterTurn > 0, "every answer of the Ready was given in the first one's turn");
        assert.deepEqual(
          revisions,
          revisions.map((_, i) => revisions[0]! + i),
        );
      });
    });

    test("a linearizable read sees every write acknowledged before it", async () => {
      await withMember(storage, async (m) => {
        for (let i = 0; i < 20; i++) {
          const [w] = await Promise.all([m.put({ key: enc("x"), value: enc(`${i}`) })]);
          const r = await m.range({ key: enc("x") });
          assert.equal(dec(r.kvs[0]!.value), `${i}`);
          assert.ok(r.header.revision >= w.header.revision);
        }
        // Many reads in one turn share a ReadIndex and all answer.
        const reads = await Promise.all(Array.from({ length: 50 }, () => m.range({ key: enc("x") })));
        assert.ok(reads.every((r) => dec(r.kvs[0]!.value) === "19"));
      });
    });

    test("leases: grant, attach, time-to-live, keep-alive, list, revoke deletes the keys", async () => {
      await withMember(storage, async (m) => {
        const g = await m.leaseGrant({ id: 0n, ttl: 60 });
        assert.ok(g.id > 0n);
        assert.equal(g.ttl, 60);
        const small = await m.leaseGrant({ id: 77n, ttl: 1 });
        assert.equal(small.id, 77n);
        assert.equal(small.ttl, 1, "1 s is the minimum here: ceil(1.5 × 100 ms)");
        await assert.rejects(m.leaseGrant({ id: 77n, ttl: 5 }), /lease already exists/);
        await m.put({ key: enc("l1"), value: enc("v"), lease: g.id });
        await m.put({ key: enc("l2"), value: enc("v"), lease: g.id });
        await assert.rejects(
          m.put({ key: enc("l3"), value: enc("v"), lease: 999n }),
          /requested lease not found/,
        );

        const ttl = await m.leaseTimeToLive(g.id, true);
        assert.equal(ttl.grantedTtl, 60);
        assert.deepEqual(ttl.keys.map(dec), ["l1", "l2"]);
        assert.equal((await m.leaseTimeToLive(12345n, false)).ttl, -1);
        assert.equal((await m.leaseRenew(g.id)).ttl, 60);
        await assert.rejects(m.leaseRenew(12345n), /requested lease not found/);
        const list = await m.leaseLeases();
        assert.deepEqual(
          list.ids.sort((a, b) => (a < b ? -1 : 1)),
          [77n, g.id].sort((a, b) => (a < b ? -1 : 1)),
        );

        const before = (await m.range({ key: enc("a"), rangeEnd: new Uint8Array([0]) })).header.revision;
        const rv = await m.leaseRevoke(g.id);
        assert.equal(rv.revision, before + 1, "both keys deleted in one revision");
        assert.equal((await m.range({ key: enc("l"), rangeEnd: enc("m") })).kvs.length, 0);
        await assert.rejects(m.leaseRevoke(g.id), /requested lease not found/);
      });
    });

    test("an expired lease is revoked through raft and its keys' DELETE events reach watchers", async () => {
      await withMember(storage, async (m, { clock }) => {
        const g = await m.leaseGrant({ id: 0n, ttl: 5 });
        await m.put({ key: enc("eph"), value: enc("v"), lease: g.id });
        const got: WatchResponse[] = [];
        const stream = m.openWatchStream({ send: (r) => (got.push(r), true) });
        stream.createWatch({ key: enc("eph") });
        clock.advance(5_000 + 100 + 1_000); // TTL + the leader's promotion extension + margin
        await until(() => got.some((r) => r.events.length > 0));
        const ev = got.flatMap((r) => r.events);
        assert.equal(ev.length, 1);
        assert.equal(ev[0]!.type, EventType.DELETE);
        assert.equal(dec(ev[0]!.kv.key), "eph");
        assert.equal((await m.leaseTimeToLive(g.id, false)).ttl, -1);
        stream.close();
      });
    });

    test("a keep-alive on an expired, not yet revoked lease answers 'not found' once the keys are gone", async () => {
      await withMember(storage, async (m, { clock }) => {
        const g = await m.leaseGrant({ id: 0n, ttl: 5 });
        const put = await m.put({ key: enc("exp"), value: enc("v"), lease: g.id });
        clock.advance(5_000 + 100 + 1_000); // past expiry; the revocation is proposed on a later tick
        const err = await m.leaseRenew(g.id).then(
          () => assert.fail("an expired lease was renewed"),
          (e: unknown) => e,
        );
        assert.ok(err instanceof EtcdError);
        assert.equal(err.message, "etcdserver: requested lease not found");
        // etcd's lessor answers only after the revocation: the key is already deleted.
        assert.equal((await m.range({ key: enc("exp"), serializable: true })).kvs.length, 0);
        // The answer's header revision is the one from before the wait, as etcd's.
        assert.equal((err as EtcdError & { revision?: number }).revision, put.header.revision);
      });
    });

    test("watch: created response, then PUT and DELETE events with prev_kv", async () => {
      await withMember(storage, async (m) => {
        const got: WatchResponse[] = [];
        const stream = m.openWatchStream({ send: (r) => (got.push(r), true) });
        const id = stream.createWatch({ key: enc("w"), rangeEnd: enc("x"), prevKv: true });
        await m.put({ key: enc("w1"), value: enc("a") });
        await m.put({ key: enc("w1"), value: enc("b") });
        await m.deleteRange({ key: enc("w1") });
        await until(() => got.flatMap((r) => r.events).length === 3);
        assert.equal(got[0]!.created, true);
        assert.equal(got[0]!.watchId, id);
        const ev = got.flatMap((r) => r.events);
        assert.deepEqual(
          ev.map((e) => [e.type, dec(e.kv.key), e.kv.modRevision]),
          [
            [EventType.PUT, "w1", 2],
            [EventType.PUT, "w1", 3],
            [EventType.DELETE, "w1", 4],
          ],
        );
        assert.equal(dec(ev[1]!.prevKv!.value), "a");
        // A watch from an old revision catches up from history.
        const old: WatchResponse[] = [];
        const s2 = m.openWatchStream({ send: (r) => (old.push(r), true) });
        s2.createWatch({ key: enc("w1"), startRevision: 2 });
        await until(() => old.flatMap((r) => r.events).length === 3);
        stream.close();
        s2.close();
      });
    });

    test("alarms go through raft; NOSPACE blocks writes until deactivated", async () => {
      await withMember(storage, async (m) => {
        const me = m.header().memberId;
        const on = await m.alarm({ action: AlarmAction.ACTIVATE, memberId: me, alarm: AlarmType.NOSPACE });
        assert.deepEqual(on.alarms, [{ memberId: me, alarm: AlarmType.NOSPACE }]);
        await assert.rejects(m.put({ key: enc("a"), value: enc("1") }), /database space exceeded/);
        assert.equal((await m.deleteRange({ key: enc("a") })).deleted, 0, "deletes still allowed");
        const listed = await m.alarm({ action: AlarmAction.GET, memberId: 0n, alarm: AlarmType.NONE });
        assert.equal(listed.alarms.length, 1);
        await m.alarm({ action: AlarmAction.DEACTIVATE, memberId: me, alarm: AlarmType.NOSPACE });
        await m.put({ key: enc("a"), value: enc("1") });
      });
    });

    test("a caller proposing again from each answer's promise callback does not starve timers", async () => {
      // Saves can complete within the turn (memory storage; small inline WAL syncs on disk), so
      // without the member's time slice raft ticks and backend commits would never run here.
      await withMember(storage, async (m) => {
        let fired = 0;
        const timer = setInterval(() => fired++, 1);
        try {
          const end = performance.now() + 300;
          for (let i = 0; performance.now() < end; i++) {
            await m.put({ key: enc(`t${i % 10}`), value: enc("v") });
          }
          assert.ok(fired >= 10, `a 1 ms interval fired ${fired} times in 300 ms of back-to-back puts`);
        } finally {
          clearInterval(timer);
        }
      });
    });

    test("exceeding --quota-backend-bytes raises NOSPACE and refuses growing requests", async () => {
      await withMember(
        storage,
        async (m) => {
          const value = new Uint8Array(4096);
          let refused: unknown;
          for (let i = 0; i < 1000 && refused === undefined; i++) {
            await m.put({ key: enc(`q${i}`), value }).catch((e: unknown) => (refused = e));
          }
          assert.ok(refused instanceof EtcdError, String(refused));
          assert.equal(refused.message, "etcdserver: mvcc: database space exceeded");
          const alarms = await m.alarm({ action: AlarmAction.GET, memberId: 0n, alarm: AlarmType.NONE });
          assert.deepEqual(alarms.alarms, [{ memberId: m.header().memberId, alarm: AlarmType.NOSPACE }]);
          await assert.rejects(m.leaseGrant({ id: 0n, ttl: 10 }), /database space exceeded/);
          assert.match((await m.status()).errors.join(), /NOSPACE/);
        },
        ["--quota-backend-bytes", String(256 * 1024)],
      );
    });

    test("after stop, requests fail with etcd's 'server stopped'", async () => {
      const dir = mkdtempSync(join(tmpdir(), "kvorum-member-"));
      try {
        const m = await startMember({ config: testConfig(join(dir, "data")), storage });
        await m.put({ key: enc("a"), value: enc("1") });
        // In flight at stop: either applied before the loop stopped, or "server stopped".
        const inflight = m.put({ key: enc("b"), value: enc("2") }).then(
          () => "applied",
          (e: unknown) => String(e),
        );
        await m.stop();
        assert.match(await inflight, /^applied$|etcdserver: server stopped/);
        await assert.rejects(m.put({ key: enc("c"), value: enc("3") }), /etcdserver: server stopped/);
        await assert.rejects(m.range({ key: enc("a") }), /etcdserver: server stopped/);
        await m.stop(); // idempotent
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("an aborted request stops waiting", async () => {
      await withMember(storage, async (m) => {
        const ac = new AbortController();
        ac.abort(new Error("client went away"));
        await assert.rejects(
          m.put({ key: enc("a"), value: enc("1") }, { signal: ac.signal }),
          /client went away/,
        );
      });
    });
  });
}

describe("member on disk across restarts", { timeout: 30_000 }, () => {
  test("membership changes after the last snapshot reach raft again after a restart (regression: chaos seed 11)", async () => {
    // A member restarted with raft's configuration from its last snapshot only: a learner added
    // since then was missing from raft, so a restarted leader never replicated to it.
    const dir = mkdtempSync(join(tmpdir(), "kvorum-member-"));
    const dataDir = join(dir, "data");
    try {
      const m1 = await startMember({ config: testConfig(dataDir), storage: "disk" });
      await until(() => m1.leaderId() !== 0n);
      await m1.put({ key: enc("k"), value: enc("v1") });
      const { member: learner } = await m1.memberAdd(["http://127.0.0.1:9"], true);
      // More entries after the change, so the durable commit index passes it before the stop.
      for (let i = 0; i < 5; i++) await m1.put({ key: enc("k"), value: enc("v2") });
      await new Promise((r) => setTimeout(r, 100));
      const learnerNode = learner.id.toString(16);
      assert.deepEqual(m1.raftConfState().learners, [learnerNode]);
      await m1.stop();

      const m2 = await startMember({ config: testConfig(dataDir), storage: "disk" });
      try {
        await until(() => m2.leaderId() !== 0n);
        assert.deepEqual(m2.raftConfState().learners, [learnerNode]);
        assert.equal((await m2.memberList()).length, 2);
        assert.equal(dec((await m2.range({ key: enc("k") })).kvs[0]!.value), "v2");
        assert.equal((await m2.range({ key: enc("k") })).header.revision, 7);
      } finally {
        await m2.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("data, revisions and leases survive a restart; the data dir is locked while in use", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvorum-member-"));
    const dataDir = join(dir, "data");
    try {
      const m1 = await startMember({ config: testConfig(dataDir), storage: "disk" });
      const g = await m1.leaseGrant({ id: 0n, ttl: 100 });
      await m1.put({ key: enc("k"), value: enc("v1") });
      await m1.put({ key: enc("k"), value: enc("v2"), lease: g.id });
      await m1.compact({ revision: 2 });
      await assert.rejects(startMember({ config: testConfig(dataDir), storage: "disk" }), /already in use/);
      const id1 = m1.header().memberId;
      await m1.stop();

      const m2 = await startMember({ config: testConfig(dataDir), storage: "disk" });
      try {
        assert.equal(m2.header().memberId, id1);
        const r = await m2.range({ key: enc("k") });
        assert.equal(dec(r.kvs[0]!.value), "v2");
        assert.equal(r.kvs[0]!.version, 2);
        assert.equal(r.kvs[0]!.lease, g.id);
        assert.equal(r.header.revision, 3);
        assert.equal((await m2.leaseTimeToLive(g.id, true)).grantedTtl, 100);
        assert.deepEqual((await m2.leaseTimeToLive(g.id, true)).keys.map(dec), ["k"]);
        await assert.rejects(m2.range({ key: enc("k"), revision: 1 }), /compacted/);
        assert.equal((await m2.put({ key: enc("k2"), value: enc("x") })).header.revision, 4);
        assert.ok(m2.header().raftTerm >= 2, "a restart campaigns in a new term");
      } finally {
        await m2.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("snapshots every --snapshot-count entries and still restarts with everything", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvorum-member-"));
    const dataDir = join(dir, "data");
    try {
      const cfg = testConfig(dataDir, ["--snapshot-count", "50"]);
      const m1 = await startMember({ config: cfg, storage: "disk" });
      for (let i = 0; i < 4; i++) {
        await Promise.all(
          Array.from({ length: 40 }, (_, j) => m1.put({ key: enc(`s${i}-${j}`), value: enc("v") })),
        );
      }
      await m1.stop();
      const m2 = await startMember({ config: cfg, storage: "disk" });
      try {
        const r = await m2.range({ key: enc("s"), rangeEnd: enc("t"), countOnly: true });
        assert.equal(r.count, 160);
        assert.equal(r.header.revision, 161);
      } finally {
        await m2.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a data dir that is a file is refused with a clear error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvorum-member-"));
    try {
      const file = join(dir, "file");
      (await import("node:fs")).writeFileSync(file, "x");
      await assert.rejects(startMember({ config: testConfig(file), storage: "disk" }), /cannot use data dir/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
