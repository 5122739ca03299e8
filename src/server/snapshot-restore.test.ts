// Restore of etcd-format snapshots into Kvorum's tables: random workloads exported and imported
// again must read back the same at every revision from the compaction point on (and refuse older
// ones), with the same leases; and restoreSnapshot applies etcdctl's checks of the file and flags.
// Replay a failure with KVORUM_SEED=<seed printed in the test name>.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { BoltReader } from "../bbolt/reader.js";
import { BackendLeaseStore } from "../lease/backend-lease-store.js";
import { MemoryBackend } from "../mvcc/memory-backend.js";
import { openLmdbBackend } from "../mvcc/lmdb-backend.js";
import { MvccStore } from "../mvcc/store.js";
import type { KeyValue } from "../mvcc/types.js";
import { exportEtcdBackend } from "./maintenance/etcd-export.js";
import { importBackend, restoreSnapshot } from "./snapshot-restore.js";

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() ^ 0x7e57;
const KEYS = ["a", "b", "c\u0000", "d"];
const ALL = { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };
const enc = (s: string): Uint8Array => Buffer.from(s, "utf8");
const registry = { exists: () => true, attach: () => {}, detach: () => {} };
const work = mkdtempSync(join(tmpdir(), "kvorum-restore-test-"));
after(() => rmSync(work, { recursive: true, force: true }));

const plain = (kvs: KeyValue[]) =>
  kvs.map((kv) => ({ ...kv, key: Buffer.from(kv.key).toString(), value: Buffer.from(kv.value).toString() }));

const op = fc.oneof(
  fc.record({ kind: fc.constant("put" as const), key: fc.nat(3), lease: fc.boolean() }),
  fc.record({ kind: fc.constant("del" as const), key: fc.nat(3) }),
  fc.record({ kind: fc.constant("compact" as const), back: fc.nat(3) }),
);

test(`export then import reads back the same at every retained revision (seed ${seed})`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
      const source = new MemoryBackend();
      const store = MvccStore.open(source, { leases: registry });
      new BackendLeaseStore(source).put({ id: 77n, ttl: 60 });
      new BackendLeaseStore(source).put({ id: 78n, ttl: 60, remainingTtl: 33 }); // a persisted checkpoint
      let n = 0;
      for (const o of ops) {
        if (o.kind === "put")
          store.put({ key: enc(KEYS[o.key]!), value: enc(`v${n++}`), lease: o.lease ? 77n : 0n });
        else if (o.kind === "del") store.deleteRange({ key: enc(KEYS[o.key]!) });
        else {
          const target = store.currentRevision() - o.back;
          if (target > store.compactRevision() && target >= 1) store.compact(target);
        }
      }
      const file = Buffer.concat((await exportEtcdBackend(source)).chunks);
      const target = new MemoryBackend();
      await importBackend(BoltReader.open(file), target);
      const restored = MvccStore.open(target, { leases: registry });
      assert.equal(restored.currentRevision(), store.currentRevision());
      assert.equal(restored.compactRevision(), store.compactRevision());
      const from = Math.max(store.compactRevision(), 1);
      for (let rev = from; rev <= store.currentRevision(); rev++) {
        assert.deepEqual(
          plain(restored.range({ ...ALL, revision: rev }).kvs),
          plain(store.range({ ...ALL, revision: rev }).kvs),
          `at revision ${rev}`,
        );
      }
      if (store.compactRevision() > 1)
        assert.throws(() => restored.range({ ...ALL, revision: from - 1 }), /compacted/);
      assert.deepEqual(new BackendLeaseStore(target).loadAll(), [
        { id: 77n, ttl: 60 },
        { id: 78n, ttl: 60, remainingTtl: 33 },
      ]);
      assert.deepEqual([...restored.leasedKeys()], [...store.leasedKeys()]);
      // Writing goes on from the restored revision.
      assert.equal(
        restored.put({ key: enc("z"), value: enc("z") }).header.revision,
        store.currentRevision() + 1,
      );
    }),
    { seed, numRuns: 60 },
  );
});

test("restoreSnapshot checks the hash, the flags and the data dir as etcdctl does", async () => {
  const source = new MemoryBackend();
  MvccStore.open(source).put({ key: enc("k"), value: enc("v") });
  const db = Buffer.concat((await exportEtcdBackend(source)).chunks);
  const withHash = join(work, "ok.db");
  writeFileSync(withHash, Buffer.concat([db, createHash("sha256").update(db).digest()]));
  const noHash = join(work, "nohash.db");
  writeFileSync(noHash, db);
  const badHash = join(work, "bad.db");
  writeFileSync(badHash, Buffer.concat([db, Buffer.alloc(32)]));
  const flags = {
    name: "m1",
    initialCluster: "m1=http://127.0.0.1:2380",
    initialClusterToken: "etcd-cluster",
    initialAdvertisePeerUrls: "http://127.0.0.1:2380",
    skipHashCheck: false,
  };
  const dir = (n: string) => join(work, n);
  await assert.rejects(
    restoreSnapshot({ ...flags, snapshotPath: noHash, dataDir: dir("a") }),
    /^Error: snapshot missing hash but --skip-hash-check=false: .*nohash\.db has no SHA-256 at its end; it is truncated, or a db file copied from a data dir/,
  );
  await assert.rejects(
    restoreSnapshot({ ...flags, snapshotPath: badHash, dataDir: dir("b") }),
    /bad\.db is damaged: its contents hash to sha256 [0-9a-f]{64}, but the file records 0{64}$/,
  );
  // A file that is not a snapshot, and one cut short, say so and name the file.
  const notSnapshot = join(work, "not.db");
  writeFileSync(notSnapshot, "hello\n");
  await assert.rejects(
    restoreSnapshot({ ...flags, snapshotPath: notSnapshot, dataDir: dir("e") }),
    /not\.db is not an etcd or Kvorum snapshot \(no bbolt database header\)$/,
  );
  const cut = join(work, "cut.db");
  writeFileSync(cut, db.subarray(0, 2 * 4096 + 100));
  await assert.rejects(
    restoreSnapshot({ ...flags, snapshotPath: cut, dataDir: dir("f"), skipHashCheck: true }),
    /cut\.db is truncated or damaged: /,
  );
  await assert.rejects(
    restoreSnapshot({
      ...flags,
      snapshotPath: withHash,
      dataDir: dir("c"),
      initialAdvertisePeerUrls: "http://127.0.0.1:9",
    }),
    /--initial-cluster has m1=http:\/\/127.0.0.1:2380 but missing from --initial-advertise-peer-urls/,
  );
  const r = await restoreSnapshot({ ...flags, snapshotPath: withHash, dataDir: dir("d") });
  assert.equal(r.revision, 2);
  assert.equal(r.keys, 1);
  await assert.rejects(restoreSnapshot({ ...flags, snapshotPath: withHash, dataDir: dir("d") }), {
    message: `data-dir ${JSON.stringify(dir("d"))} exists`,
  });
  const backend = openLmdbBackend(join(dir("d"), "member", "db"));
  try {
    const kvs = MvccStore.open(backend).range({ key: enc("k") }).kvs;
    assert.equal(Buffer.from(kvs[0]!.value).toString(), "v");
  } finally {
    await backend.close();
  }
  const skipped = await restoreSnapshot({
    ...flags,
    snapshotPath: noHash,
    dataDir: dir("e"),
    skipHashCheck: true,
  });
  assert.equal(skipped.keys, 1);
});
