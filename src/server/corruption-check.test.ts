// The corruption checks (corruption-check.ts) on in-process members: a value altered directly in
// one follower's backend makes the leader's periodic check raise CORRUPT (member 0, as etcd
// 3.4.23), after which writes are refused with "etcdserver: corrupt cluster" (DATA_LOSS) while
// reads still answer; the start-up check refuses a member whose data differs from its peers'.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ServerConfig } from "../config/server-config.js";
import type { Backend } from "../mvcc/backend.js";
import { TABLES } from "../mvcc/schema.js";
import { EtcdError } from "../mvcc/errors.js";
import { identityFromConfig, nodeIdOf } from "./identity.js";
import { AlarmAction, AlarmType, InMemoryTransportHub, startMember, type Member } from "./index.js";
import { testMemberConfig } from "./member-config.test-util.js";
import { answerHashKV, initialCorruptCheck, type CorruptionLogger } from "./corruption-check.js";
import { runInitialCorruptCheck } from "./corruption-host.js";

const enc = (s: string) => new TextEncoder().encode(s);
const CLUSTER = "m0=http://127.0.0.1:1,m1=http://127.0.0.1:2,m2=http://127.0.0.1:3";
const quiet: CorruptionLogger = { info() {}, warn() {} };

async function until(cond: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Rewrites the last byte of the stored value of `key`'s latest revision in the revisions table. */
function flipStoredValue(m: Member, key: string): void {
  const backend = (m as unknown as { backend: Backend }).backend;
  const table = backend.table(TABLES.revisions);
  const wanted = Buffer.from(key);
  for (const { key: k, value } of table.range(undefined, undefined, { reverse: true })) {
    if (!Buffer.from(value).includes(wanted)) continue;
    const changed = Uint8Array.from(value);
    changed[changed.length - 1]! ^= 0x01;
    backend.writeTxn(() => table.put(k, changed));
    return;
  }
  throw new Error(`no revision row for ${key}`);
}

async function startCluster(hub: InMemoryTransportHub, checkEveryMs: number): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < 3; i++) {
    const box: { member?: Member } = {};
    const cfg: ServerConfig = {
      ...testMemberConfig(`m${i}`, `http://127.0.0.1:${i + 1}`, CLUSTER, {
        heartbeatMs: 10,
        electionMs: 100,
      }),
      experimentalCorruptCheckTimeMs: checkEveryMs,
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
  await Promise.all(members.map((m) => m.whenPublished()));
  return members;
}

test(
  "the leader's periodic check raises CORRUPT after a follower's value was altered",
  { timeout: 30_000 },
  async () => {
    const hub = new InMemoryTransportHub();
    const members = await startCluster(hub, 100);
    try {
      const leaderId = members[0]!.leaderId();
      const leader = members.find((m) => m.header().memberId === leaderId)!;
      const follower = members.find((m) => m !== leader)!;
      await leader.put({ key: enc("k"), value: enc("value-1") });
      await leader.put({ key: enc("other"), value: enc("x") });
      await Promise.all(members.map((m) => m.range({ key: enc("k") })));
      // Clean data: several check periods pass without an alarm.
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual(
        (await leader.alarm({ action: AlarmAction.GET, memberId: 0n, alarm: AlarmType.NONE })).alarms,
        [],
      );

      flipStoredValue(follower, "value-1");
      await until(
        async () =>
          (await follower.alarm({ action: AlarmAction.GET, memberId: 0n, alarm: AlarmType.NONE })).alarms
            .length > 0,
        5000,
      );
      for (const m of members) {
        const { alarms } = await m.alarm({ action: AlarmAction.GET, memberId: 0n, alarm: AlarmType.NONE });
        assert.deepEqual(alarms, [{ memberId: 0n, alarm: AlarmType.CORRUPT }]);
      }
      const corrupt = (e: unknown) =>
        e instanceof EtcdError && e.message === "etcdserver: corrupt cluster" && e.code === "DATA_LOSS";
      await assert.rejects(leader.put({ key: enc("k"), value: enc("v2") }), corrupt);
      await assert.rejects(follower.deleteRange({ key: enc("other") }), corrupt);
      await assert.rejects(leader.leaseGrant({ id: 0n, ttl: 30 }), corrupt);
      // Reads are served outside the applier and still answer.
      assert.equal((await leader.range({ key: enc("other") })).kvs.length, 1);
    } finally {
      await Promise.all(members.map((m) => m.stop()));
    }
  },
);

test(
  "the start-up check refuses a member whose hash differs from a peer's at the same compaction",
  { timeout: 30_000 },
  async () => {
    const hub = new InMemoryTransportHub();
    const members = await startCluster(hub, 0);
    try {
      const leader = members.find((m) => m.header().memberId === m.leaderId())!;
      await leader.put({ key: enc("k"), value: enc("value-1") });
      await Promise.all(members.map((m) => m.range({ key: enc("k") })));
      const checked = members[1]!;
      const self = nodeIdOf(checked.header().memberId);
      const caller = hub.rpcCaller(self);
      await runInitialCorruptCheck(checked, caller, quiet);

      flipStoredValue(checked, "value-1");
      await assert.rejects(runInitialCorruptCheck(checked, caller, quiet), {
        message: `${self} found data inconsistency with peers`,
      });
      // A peer that has compacted differently is not a mismatch.
      const local = await checked.hashKV(0);
      await initialCorruptCheck({
        self,
        local: { ...local, compactRevision: local.compactRevision + 1 },
        peers: checked.peerUrls(),
        caller,
        timeoutMs: 1000,
        logger: quiet,
      });
    } finally {
      await Promise.all(members.map((m) => m.stop()));
    }
  },
);

test("a hashkv peer request answers the store's HashKV and refuses a bad revision", async () => {
  const answer = await answerHashKV(async (rev) => ({ hash: 7, compactRevision: -1, revision: rev + 1 }), {
    revision: 4,
  });
  assert.deepEqual(answer, { hash: 7, compactRevision: -1, revision: 5 });
  await assert.rejects(
    answerHashKV(async () => ({ hash: 0, compactRevision: 0, revision: 0 }), { revision: "x" }),
    /bad hashkv revision/,
  );
});
