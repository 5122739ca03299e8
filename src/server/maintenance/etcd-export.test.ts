// The export of Kvorum's backend in etcd's schema, checked against a model of etcd's key bucket:
// random puts (with and without a lease), deletes, two-key txns and compactions run on an
// MvccStore, and the exported key bucket must hold exactly what etcd's backend would: every change
// after the compaction point (puts, and deletions as tombstones), and at or below it each key's
// newest change if that is a put. Physical compaction progress must not change the export.
// Replay a failure with KVORUM_SEED=<seed printed in the test name>.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MemoryBackend } from "../../mvcc/memory-backend.js";
import { MvccStore } from "../../mvcc/store.js";
import { BackendLeaseStore } from "../../lease/backend-lease-store.js";
import { MemberTable } from "../members.js";
import { AlarmStore } from "./alarms.js";
import { AlarmType } from "../member-api.js";
import { BoltReader } from "../../bbolt/reader.js";
import {
  decodeKeyValue,
  encodeAlarmMember,
  encodeLease,
  parseRevisionBytes,
  revisionBytes,
  u64BE,
} from "../../bbolt/etcd-schema.js";
import { exportEtcdBackend } from "./etcd-export.js";
import { bboltSnapshot } from "./bbolt-snapshot.js";
import { snapshotStatus } from "../../bbolt/status.js";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLmdbBackend } from "../../mvcc/lmdb-backend.js";
import type { Backend } from "../../mvcc/backend.js";

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() ^ 0xe7cd;
const KEYS = ["a", "b", "c", "d\u0000x", "e"];
const LEASE = 0x1234n;

type Op =
  | { kind: "put"; key: number; value: string; lease: boolean }
  | { kind: "del"; key: number }
  | { kind: "txn"; keys: [number, number] }
  | { kind: "compact"; back: number }
  | { kind: "step" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("put" as const),
      key: fc.nat(4),
      value: fc.string({ maxLength: 6 }),
      lease: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("del" as const), key: fc.nat(4) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("txn" as const), keys: fc.tuple(fc.nat(4), fc.nat(4)) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("compact" as const), back: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "step" as const }) },
);

interface Row {
  rev: number;
  sub: number;
  key: string;
  put: boolean;
  create: number;
  version: number;
  value: string;
  lease: bigint;
}

const enc = (s: string): Uint8Array => Buffer.from(s, "utf8");

function expectedRows(rows: Row[], compact: number): Row[] {
  const newestAtCompact = new Map<string, Row>();
  for (const r of rows) if (r.rev <= compact) newestAtCompact.set(r.key, r);
  return rows.filter((r) => r.rev > compact || (r.put && newestAtCompact.get(r.key) === r));
}

test(`the key bucket holds what etcd keeps (seed ${seed})`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
      const backend = new MemoryBackend();
      const store = MvccStore.open(backend, {
        leases: { exists: () => true, attach: () => {}, detach: () => {} },
      });
      new BackendLeaseStore(backend).put({ id: LEASE, ttl: 100 });
      const live = new Map<string, { create: number; version: number }>();
      const rows: Row[] = [];
      let compact = 0;
      let raftIndex = 0;
      const putRow = (rev: number, sub: number, key: string, value: string, lease: bigint): void => {
        const prev = live.get(key);
        const create = prev?.create ?? rev;
        const version = (prev?.version ?? 0) + 1;
        live.set(key, { create, version });
        rows.push({ rev, sub, key, put: true, create, version, value, lease });
      };
      for (const o of ops) {
        const rev = store.currentRevision() + 1;
        if (o.kind === "put") {
          const lease = o.lease ? LEASE : 0n;
          store.put({ key: enc(KEYS[o.key]!), value: enc(o.value), lease }, ++raftIndex);
          putRow(rev, 0, KEYS[o.key]!, o.value, lease);
        } else if (o.kind === "del") {
          const key = KEYS[o.key]!;
          store.deleteRange({ key: enc(key) }, ++raftIndex);
          if (live.delete(key))
            rows.push({ rev, sub: 0, key, put: false, create: 0, version: 0, value: "", lease: 0n });
        } else if (o.kind === "txn") {
          const [k1, k2] = o.keys;
          if (k1 === k2) continue;
          const success = [k1, k2].map((k) => ({ requestPut: { key: enc(KEYS[k]!), value: enc("t") } }));
          store.txn({ compare: [], success, failure: [] }, ++raftIndex);
          putRow(rev, 0, KEYS[k1]!, "t", 0n);
          putRow(rev, 1, KEYS[k2]!, "t", 0n);
        } else if (o.kind === "compact") {
          const target = store.currentRevision() - o.back;
          if (target <= compact || target < 1) continue;
          store.compact(target, ++raftIndex);
          compact = target;
        } else {
          store.compactionStep(2);
        }
      }
      const exported = await exportEtcdBackend(backend, { rowsPerSlice: 3 });
      const db = BoltReader.open(Buffer.concat(exported.chunks));
      assert.deepEqual(db.check(), []);
      const got: Row[] = [...db.entries("key")].map(({ key, value }) => {
        const rev = parseRevisionBytes(key);
        const kv = decodeKeyValue(value);
        return {
          rev: rev.main,
          sub: rev.sub,
          key: Buffer.from(kv.key).toString("utf8"),
          put: !rev.tombstone,
          create: kv.createRevision,
          version: kv.version,
          value: Buffer.from(kv.value).toString("utf8"),
          lease: kv.lease,
        };
      });
      assert.deepEqual(got, expectedRows(rows, compact));
      for (const r of got) if (r.put) assert.ok(r.rev >= r.create);
      const meta = new Map([...db.entries("meta")].map((i) => [i.key.toString(), Buffer.from(i.value)]));
      assert.deepEqual(meta.get("consistent_index"), u64BE(raftIndex));
      assert.deepEqual(meta.get("finishedCompactRev"), compact > 0 ? revisionBytes(compact, 0) : undefined);
      assert.deepEqual(meta.get("scheduledCompactRev"), compact > 0 ? revisionBytes(compact, 0) : undefined);
      // Finishing the physical compaction changes nothing in the export.
      store.finishCompaction();
      const after = await exportEtcdBackend(backend);
      assert.deepEqual(Buffer.concat(after.chunks), Buffer.concat(exported.chunks));
    }),
    { seed, numRuns: 80 },
  );
});

test("leases, members, alarms and fixed buckets are exported in etcd's encoding", async () => {
  const backend = new MemoryBackend();
  new BackendLeaseStore(backend).put({ id: 0x694d77aaf1a8ee04n, ttl: 30 });
  const members = new MemberTable(backend);
  members.set({
    id: 0x8e7c83c23d0439f4n,
    name: "m1",
    peerUrls: ["http://127.0.0.1:2380"],
    clientUrls: [],
    isLearner: false,
  });
  members.set({ id: 0x2n, name: "m2", peerUrls: ["http://127.0.0.1:2381"], clientUrls: [], isLearner: true });
  members.remove(0x2n);
  backend.writeTxn(() => new AlarmStore(backend).activate(0x8e7c83c23d0439f4n, AlarmType.NOSPACE));
  const db = BoltReader.open(Buffer.concat((await exportEtcdBackend(backend)).chunks));
  const bucket = (name: string): string[][] =>
    [...db.entries(name)].map((i) => [i.key.toString("hex"), i.value.toString("latin1")]);
  assert.deepEqual(db.bucketNames().map(String), [
    "alarm",
    "auth",
    "authRoles",
    "authUsers",
    "cluster",
    "key",
    "lease",
    "members",
    "members_removed",
    "meta",
  ]);
  // (the protobuf encodings themselves are checked against etcd's bytes in etcd-schema.test.ts)
  assert.deepEqual(bucket("lease"), [
    ["694d77aaf1a8ee04", encodeLease(0x694d77aaf1a8ee04n, 30).toString("latin1")],
  ]);
  assert.deepEqual(bucket("members"), [
    [
      Buffer.from("8e7c83c23d0439f4").toString("hex"),
      '{"id":10267226120768469492,"peerURLs":["http://127.0.0.1:2380"],"name":"m1"}',
    ],
  ]);
  assert.deepEqual(bucket("members_removed"), [[Buffer.from("2").toString("hex"), "removed"]]);
  assert.deepEqual(bucket("alarm"), [
    [encodeAlarmMember(0x8e7c83c23d0439f4n, AlarmType.NOSPACE).toString("hex"), ""],
  ]);
  assert.deepEqual(bucket("cluster"), [[Buffer.from("clusterVersion").toString("hex"), "3.4.0"]]);
  assert.deepEqual(bucket("auth"), [[Buffer.from("authRevision").toString("hex"), "\0\0\0\0\0\0\0\u0001"]]);
  assert.deepEqual(bucket("key"), []);
});

test("the snapshot stream is the bbolt file followed by its SHA-256", async () => {
  const backend = new MemoryBackend();
  const store = MvccStore.open(backend);
  for (let i = 0; i < 300; i++) store.put({ key: enc(`k${i % 40}`), value: Buffer.alloc(i * 10, 1) }, i + 1);
  const snap = await bboltSnapshot(backend, { chunkSize: 5000 });
  const chunks: Buffer[] = [];
  for await (const c of snap.chunks) chunks.push(Buffer.from(c));
  const all = Buffer.concat(chunks);
  assert.equal(all.length, snap.size + 32);
  const file = all.subarray(0, snap.size);
  assert.deepEqual(all.subarray(snap.size), createHash("sha256").update(file).digest());
  const status = snapshotStatus(all);
  assert.equal(status.revision, 301); // the first write is revision 2, as in etcd
  assert.equal(status.totalKey, 300 + 1 + 1 + 1); // key rows, authRevision, clusterVersion, consistent_index
  assert.equal(status.totalSize, snap.size);
});

test("an LMDB member's snapshot, written through a temp file, equals the in-memory one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kvorum-bbolt-snap-"));
  const lmdb = openLmdbBackend(join(dir, "db"));
  try {
    const fill = (backend: Backend): void => {
      const store = MvccStore.open(backend);
      for (let i = 0; i < 400; i++)
        store.put({ key: enc(`k${i % 70}`), value: Buffer.alloc((i * 37) % 9000, i) }, i + 1);
      store.deleteRange({ key: enc("k3") }, 401);
      store.compact(200, 402);
    };
    const memory = new MemoryBackend();
    fill(memory);
    fill(lmdb);
    const read = async (snap: { chunks: AsyncIterable<Uint8Array> }): Promise<Buffer> => {
      const parts: Buffer[] = [];
      for await (const c of snap.chunks) parts.push(Buffer.from(c));
      return Buffer.concat(parts);
    };
    const temp = join(dir, "temp");
    rmSync(temp, { force: true, recursive: true });
    await import("node:fs/promises").then((f) => f.mkdir(temp));
    const fromFile = await read(await bboltSnapshot(lmdb, { tempDir: temp }));
    assert.deepEqual(readdirSync(temp), []); // nothing left behind
    const fromMemory = await read(await bboltSnapshot(memory));
    assert.equal(fromFile.length % 4096, 32);
    assert.ok(fromFile.equals(fromMemory));
    assert.equal(snapshotStatus(fromFile).revision, 402); // the deletion after 400 puts (revisions 2-401)
  } finally {
    await lmdb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
