// The space quota and the NOSPACE alarm on one member on disk, with etcd 3.4's observable rules:
// the quota check refuses a put and raises NOSPACE through raft; while it is active puts, txns
// with puts and lease grants are refused, deletes, delete-only txns, compactions and reads are
// not; the alarm is in the backend, so it is still active after a restart; compact + defragment
// + deactivate makes room again, and a deactivation answers with the alarm it cleared. In a
// cluster the alarm one member raises is every member's (it is applied from the raft log).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseServerConfig, type ServerConfig } from "../config/server-config.js";
import { EtcdError } from "../mvcc/errors.js";
import { identityFromConfig, nodeIdOf } from "./identity.js";
import { AlarmAction, AlarmType, InMemoryTransportHub, startMember, type Member } from "./index.js";
import { testMemberConfig } from "./member-config.test-util.js";

const enc = (s: string) => new TextEncoder().encode(s);
/** 13 pages of 4 KiB, the quota of the side-by-side test against etcd. */
const QUOTA = 53248;

function config(dataDir: string): ServerConfig {
  return parseServerConfig(
    [
      "--data-dir",
      dataDir,
      "--heartbeat-interval",
      "10",
      "--election-timeout",
      "100",
      "--quota-backend-bytes",
      String(QUOTA),
    ],
    {},
  ).config;
}

async function untilLeader(m: Member): Promise<void> {
  const end = Date.now() + 5000;
  while (m.leaderId() === 0n) {
    if (Date.now() > end) throw new Error("no leader");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const listAll = (m: Member) => m.alarm({ action: AlarmAction.GET, memberId: 0n, alarm: AlarmType.NONE });
const noSpace = (e: unknown) =>
  e instanceof EtcdError &&
  e.message === "etcdserver: mvcc: database space exceeded" &&
  e.code === "RESOURCE_EXHAUSTED";

test(
  "NOSPACE: raised by the quota check, persisted across a restart, cleared after compact + defrag + disarm",
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvorum-nospace-"));
    const dataDir = join(dir, "data");
    try {
      const m1 = await startMember({ config: config(dataDir), storage: "disk" });
      let me: bigint;
      try {
        await untilLeader(m1);
        me = m1.header().memberId;
        await m1.put({ key: enc("small"), value: new Uint8Array(64) });
        const big = new Uint8Array(4096).fill(98);
        let accepted = 0;
        let refused: unknown;
        for (let i = 0; i < 20 && refused === undefined; i++) {
          await m1.put({ key: enc("big"), value: big }).then(
            () => accepted++,
            (e: unknown) => (refused = e),
          );
          // Sizes are measured on committed data and reused briefly (as etcd's backend size is).
          await new Promise((r) => setTimeout(r, 150));
        }
        assert.ok(noSpace(refused), String(refused));
        assert.ok(accepted >= 2 && accepted <= 8, `${accepted} puts of 4 KiB fitted in 13 pages`);
        assert.deepEqual((await listAll(m1)).alarms, [{ memberId: me, alarm: AlarmType.NOSPACE }]);
        assert.deepEqual((await m1.status()).errors, [`memberID:${me} alarm:NOSPACE `]);
      } finally {
        await m1.stop();
      }

      const m2 = await startMember({ config: config(dataDir), storage: "disk" });
      try {
        await untilLeader(m2);
        assert.deepEqual((await listAll(m2)).alarms, [{ memberId: me, alarm: AlarmType.NOSPACE }]);
        // A tiny put fits the quota, yet the active alarm refuses it (etcd's capped applier).
        await assert.rejects(m2.put({ key: enc("x"), value: enc("y") }), noSpace);
        await assert.rejects(m2.leaseGrant({ id: 0n, ttl: 60 }), noSpace);
        const txnPut = {
          compare: [],
          success: [{ requestPut: { key: enc("t"), value: enc("1") } }],
          failure: [],
        };
        await assert.rejects(m2.txn(txnPut), noSpace);
        // What does not grow the database still works.
        assert.equal((await m2.range({ key: enc("small") })).kvs.length, 1);
        assert.equal((await m2.deleteRange({ key: enc("nothing") })).deleted, 0);
        const txnDel = {
          compare: [],
          success: [{ requestDeleteRange: { key: enc("nothing") } }],
          failure: [],
        };
        assert.equal((await m2.txn(txnDel)).succeeded, true);
        const rev = (await m2.range({ key: enc("small") })).header.revision;
        await m2.compact({ revision: rev });
        await m2.defragment();
        const off = await m2.alarm({
          action: AlarmAction.DEACTIVATE,
          memberId: me,
          alarm: AlarmType.NOSPACE,
        });
        assert.deepEqual(off.alarms, [{ memberId: me, alarm: AlarmType.NOSPACE }], "the cleared alarm");
        assert.deepEqual((await listAll(m2)).alarms, []);
        await new Promise((r) => setTimeout(r, 150));
        await m2.put({ key: enc("after"), value: enc("ok") });
        const again = await m2.alarm({
          action: AlarmAction.DEACTIVATE,
          memberId: me,
          alarm: AlarmType.NOSPACE,
        });
        assert.deepEqual(again.alarms, [], "nothing to clear");
      } finally {
        await m2.stop();
      }

      const m3 = await startMember({ config: config(dataDir), storage: "disk" });
      try {
        await untilLeader(m3);
        assert.deepEqual((await listAll(m3)).alarms, [], "the disarm is persisted too");
        await m3.put({ key: enc("after2"), value: enc("ok") });
      } finally {
        await m3.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "NOSPACE raised on one member of three is every member's: writes refused anywhere, cleared anywhere",
  { timeout: 60_000 },
  async () => {
    const hub = new InMemoryTransportHub();
    const members: Member[] = [];
    const cluster = "m0=http://127.0.0.1:1,m1=http://127.0.0.1:2,m2=http://127.0.0.1:3";
    try {
      for (let i = 0; i < 3; i++) {
        const box: { member?: Member } = {};
        const cfg: ServerConfig = {
          ...testMemberConfig(`m${i}`, `http://127.0.0.1:${i + 1}`, cluster, {
            heartbeatMs: 10,
            electionMs: 100,
          }),
          quotaBackendBytes: 20_000,
        };
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
      // Every member is ready (its attributes published) before the test talks to it.
      await Promise.all(members.map((m) => m.whenPublished()));
      const leaderId = members[0]!.leaderId();
      const follower = members.find((m) => m.header().memberId !== leaderId)!;
      const others = members.filter((m) => m !== follower);
      let refused: unknown;
      for (let i = 0; i < 20 && refused === undefined; i++) {
        await follower
          .put({ key: enc("big"), value: new Uint8Array(4096) })
          .catch((e: unknown) => (refused = e));
        await new Promise((r) => setTimeout(r, 120));
      }
      assert.ok(noSpace(refused), String(refused));
      const raised = [{ memberId: follower.header().memberId, alarm: AlarmType.NOSPACE }];
      for (const m of members) assert.deepEqual((await listAll(m)).alarms, raised);
      for (const m of others) {
        await assert.rejects(m.put({ key: enc("x"), value: enc("y") }), noSpace);
        assert.equal((await m.deleteRange({ key: enc("nothing") })).deleted, 0);
      }
      const off = await others[0]!.alarm({
        action: AlarmAction.DEACTIVATE,
        memberId: follower.header().memberId,
        alarm: AlarmType.NOSPACE,
      });
      assert.deepEqual(off.alarms, raised);
      await others[1]!.deleteRange({ key: enc("big") });
      for (const m of members) assert.deepEqual((await listAll(m)).alarms, []);
      await others[1]!.put({ key: enc("x"), value: enc("y") });
    } finally {
      await Promise.all(members.map((m) => m.stop()));
    }
  },
);
