// Snapshots in etcd's format, checked with etcd's own tools:
// 1. The same workload (puts, overwrites, deletes, a lease with a key, a compaction) on etcd and on
//    Kvorum; `etcdctl snapshot save` from each; `etcdctl snapshot status` gives the same revision
//    and key count for both, and `kvorumctl snapshot status` prints what etcdctl prints.
// 2. Kvorum's snapshot restored with `etcdctl snapshot restore` and served by real etcd: the same
//    keys with the same revisions and versions, the same lease, the same compaction point.
// 3. Both snapshots restored with `kvorumctl snapshot restore` and served by Kvorum: the same.
// 4. Random databases from Kvorum's bbolt writer (with the SHA-256 appended): etcdctl's status
//    (which runs bbolt's consistency check) matches the contents and kvorumctl's output.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ETCDCTL_MISSING,
  REPO_ROOT,
  etcdctl,
  freePort,
  killAll,
  startServer,
  type RunningServer,
} from "./harness.js";
import { PARITY_SKIP } from "./parity.js";
import { writeBoltFile, type BoltEntry } from "../../src/bbolt/writer.js";
import { revisionBytes } from "../../src/bbolt/etcd-schema.js";

after(killAll);

const skip = PARITY_SKIP !== false ? PARITY_SKIP : ETCDCTL_MISSING;
const work = mkdtempSync(join(tmpdir(), "kvorum-bbolt-e2e-"));
after(() => rmSync(work, { recursive: true, force: true }));

async function ok(server: { endpoint: string }, args: string[]): Promise<string> {
  const r = await etcdctl(server, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** etcdctl commands that need no server (snapshot status/restore). */
function etcdctlLocal(args: string[]): { stdout: string; stderr: string; code: number | null } {
  const r = spawnSync("etcdctl", args, {
    env: { ...process.env, ETCDCTL_API: "3" },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

function kvorumctl(args: string[]): { stdout: string; stderr: string; code: number | null } {
  const cli = join(REPO_ROOT, "dist", "src", "cli", "kvorumctl.js");
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 30_000 });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

interface Kv {
  key: string;
  create_revision: number;
  mod_revision: number;
  version: number;
  value: string;
  lease?: number;
}

/** Keys and header revision as `etcdctl get "" --prefix -w json` reports them (numbers kept exact). */
async function getAll(server: { endpoint: string }): Promise<{ revision: string; kvs: string[] }> {
  const out = await ok(server, ["get", "", "--prefix", "-w", "json"]);
  // Lease IDs exceed 2^53: compare the JSON text of each kv rather than parsed numbers.
  const revision = /"revision":(\d+)/.exec(out)![1]!;
  const kvs = out.includes('"kvs":[')
    ? out.slice(out.indexOf('"kvs":[') + 7, out.lastIndexOf("]")).split(/(?<=}),(?={)/)
    : [];
  for (const kv of kvs) JSON.parse(kv) as Kv; // each is a well-formed object
  return { revision, kvs };
}

/** Puts, overwrites, deletes, a lease with an attached key, a compaction, and writes after it. */
async function workload(server: RunningServer): Promise<{ leaseId: string }> {
  for (let i = 0; i < 12; i++) await ok(server, ["put", `k/${i}`, `v${i}`]);
  for (let i = 0; i < 12; i += 3) await ok(server, ["put", `k/${i}`, `v${i}-2`]);
  await ok(server, ["del", "k/1"]);
  await ok(server, ["del", "k/2"]);
  await ok(server, ["put", "k/2", "again"]);
  const grant = await ok(server, ["lease", "grant", "600"]);
  const leaseId = /lease ([0-9a-f]+) granted/.exec(grant)![1]!;
  await ok(server, ["put", "k/leased", "l", `--lease=${leaseId}`]);
  const status = JSON.parse(await ok(server, ["endpoint", "status", "-w", "json"])) as [
    { Status: { header: { revision: number } } },
  ];
  await ok(server, ["put", "k/0", "after"]);
  await ok(server, ["del", "k/4"]);
  await ok(server, ["compact", String(status[0].Status.header.revision)]);
  await ok(server, ["put", "k/5", "post-compact"]);
  await ok(server, ["del", "k/6"]);
  return { leaseId };
}

async function save(server: RunningServer, name: string): Promise<string> {
  const file = join(work, name);
  await ok(server, ["snapshot", "save", file]);
  return file;
}

function status(file: string, format = "json"): string {
  const r = etcdctlLocal(["snapshot", "status", file, "-w", format]);
  assert.equal(r.code, 0, `etcdctl snapshot status ${file}: ${r.stderr}`);
  return r.stdout;
}

function assertKvorumctlStatusMatches(file: string): void {
  for (const format of ["simple", "table", "json"]) {
    const mine = kvorumctl(["snapshot", "status", file, "-w", format]);
    assert.equal(mine.code, 0, mine.stderr);
    assert.equal(mine.stdout, status(file, format), `-w ${format} on ${file}`);
  }
}

test(
  "etcdctl snapshot save/status/restore work on Kvorum as on etcd",
  { skip, timeout: 180_000 },
  async () => {
    const etcd = await startServer("etcd");
    const kvorum = await startServer("kvorum");
    try {
      const etcdLease = await workload(etcd);
      const { leaseId } = await workload(kvorum);
      const etcdFile = await save(etcd, "etcd.db");
      const kvorumFile = await save(kvorum, "kvorum.db");
      const served = await getAll(kvorum);
      const etcdServed = await getAll(etcd);

      // The same revision and number of keys as etcd after the same workload.
      const e = JSON.parse(status(etcdFile)) as { revision: number; totalKey: number };
      const k = JSON.parse(status(kvorumFile)) as { revision: number; totalKey: number };
      assert.equal(k.revision, Number(served.revision));
      assert.equal(k.revision, e.revision);
      assert.equal(k.totalKey, e.totalKey);
      assertKvorumctlStatusMatches(kvorumFile);
      assertKvorumctlStatusMatches(etcdFile);

      // Restore Kvorum's snapshot into a data dir and serve it with real etcd.
      const peer = await freePort();
      const dataDir = join(work, "restored");
      const restore = etcdctlLocal([
        "snapshot",
        "restore",
        kvorumFile,
        "--name",
        "e2e",
        "--data-dir",
        dataDir,
        "--initial-cluster",
        `e2e=http://127.0.0.1:${peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${peer}`,
      ]);
      assert.equal(restore.code, 0, restore.stderr);
      const restored = await startServer("etcd", { dataDir, firstPorts: { client: await freePort(), peer } });
      try {
        assert.deepEqual(await getAll(restored), served);
        assert.equal(await ok(restored, ["lease", "list"]), `found 1 leases\n${leaseId}\n`);
        assert.equal(await ok(kvorum, ["lease", "list"]), `found 1 leases\n${leaseId}\n`);
        const ttl = await ok(restored, ["lease", "timetolive", leaseId, "--keys"]);
        assert.match(ttl, /granted with TTL\(600s\).*attached keys\(\[k\/leased\]\)/);
        // The compaction point came along: below it etcd refuses, at it the old value is there.
        const compacted = await etcdctl(restored, ["get", "k/0", "--rev", "2"]);
        assert.match(compacted.stderr, /required revision has been compacted/);
        const compactRev = k.revision - 4; // the workload writes 4 revisions from the compaction point on
        assert.match(
          await ok(restored, ["get", "k/3", "--rev", String(compactRev), "-w", "json"]),
          /"count":1/,
        );
        // etcd goes on from Kvorum's revision.
        await ok(restored, ["put", "k/new", "x"]);
        assert.equal((await getAll(restored)).revision, String(k.revision + 1));
      } finally {
        await restored.stop();
      }

      // kvorumctl snapshot restore: Kvorum's and etcd's snapshots become Kvorum data dirs.
      const sources = [
        { file: kvorumFile, served, lease: leaseId },
        { file: etcdFile, served: etcdServed, lease: etcdLease.leaseId },
      ];
      for (const [i, source] of sources.entries()) {
        const peerPort = await freePort();
        const dir = join(work, `kvorum-restored-${i}`);
        const r = kvorumctl([
          "snapshot",
          "restore",
          source.file,
          "--name",
          "e2e",
          "--data-dir",
          dir,
          "--initial-cluster",
          `e2e=http://127.0.0.1:${peerPort}`,
          "--initial-advertise-peer-urls",
          `http://127.0.0.1:${peerPort}`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const member = await startServer("kvorum", {
          dataDir: dir,
          firstPorts: { client: await freePort(), peer: peerPort },
        });
        try {
          const got = await getAll(member);
          assert.deepEqual(got, source.served, `kvorumctl restore of ${source.file}`);
          assert.equal(await ok(member, ["lease", "list"]), `found 1 leases\n${source.lease}\n`);
          const compactRev = Number(got.revision) - 4;
          assert.match(
            await ok(member, ["get", "k/3", "--rev", String(compactRev), "-w", "json"]),
            /"count":1/,
          );
          const old = await etcdctl(member, ["get", "k/3", "--rev", String(compactRev - 1)]);
          assert.match(old.stderr, /required revision has been compacted/);
          await ok(member, ["put", "k/new", "x"]);
          assert.equal((await getAll(member)).revision, String(Number(got.revision) + 1));
        } finally {
          await member.stop();
        }
      }
    } finally {
      await etcd.stop();
      await kvorum.stop();
    }
  },
);

/** A small deterministic PRNG (mulberry32) so a failing database can be rebuilt from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test(
  "etcdctl accepts random databases written by Kvorum's bbolt writer",
  { skip: ETCDCTL_MISSING, timeout: 120_000 },
  () => {
    const base = Date.now() & 0xffff;
    for (let n = 0; n < 6; n++) {
      const seed = base + n;
      const rand = rng(seed);
      const int = (max: number): number => Math.floor(rand() * max);
      const buckets = new Map<string, BoltEntry[]>();
      // A key bucket of etcd revision keys, so the revision etcdctl reports is known.
      const revs = int(n === 0 ? 6000 : 800);
      const keyRows: BoltEntry[] = [];
      for (let r = 1; r <= revs; r++) {
        const big = int(50) === 0;
        const value = Buffer.alloc(big ? 4000 + int(30_000) : int(60), r & 0xff);
        keyRows.push({ key: revisionBytes(r + 1, 0, int(10) === 0), value });
      }
      buckets.set("key", keyRows);
      for (let b = int(6); b > 0; b--) {
        const rows = new Map<string, BoltEntry>();
        for (let i = int(n % 2 === 0 ? 400 : 20); i > 0; i--) {
          const key = Buffer.from(Array.from({ length: 1 + int(40) }, () => int(256)));
          rows.set(key.toString("hex"), {
            key,
            value: Buffer.alloc(int(10) === 0 ? int(9000) : int(30), 0x61),
          });
        }
        buckets.set(`bucket-${seed}-${b}`, [...rows.values()]);
      }
      const db = writeBoltFile(buckets);
      const file = join(work, `random-${seed}.db`);
      writeFileSync(file, Buffer.concat([db, createHash("sha256").update(db).digest()]));
      const got = JSON.parse(status(file)) as { revision: number; totalKey: number; totalSize: number };
      const totalKey = [...buckets.values()].reduce((sum, rows) => sum + rows.length, 0);
      assert.deepEqual(
        { revision: got.revision, totalKey: got.totalKey, totalSize: got.totalSize },
        { revision: revs === 0 ? 0 : revs + 1, totalKey, totalSize: db.length },
        `database of seed ${seed}`,
      );
      assertKvorumctlStatusMatches(file);
    }
  },
);
