// Corruption detection on a 3-process Kvorum cluster. One member is stopped and a byte of a
// stored value is flipped directly in its LMDB file (through the lmdb package, so LMDB itself
// stays valid and only the data differs). Then:
// - `kvorumctl check data` says clean (0) before the flip and damaged (1) after it;
// - restarted with --experimental-initial-corrupt-check (here via its ETCD_ env var), the member
//   refuses to start with etcd's "<id> found data inconsistency with peers";
// - restarted without it, the leader's --experimental-corrupt-check-time 2s check raises
//   CORRUPT (etcdctl alarm list: "alarm:CORRUPT", member 0) and writes fail with
//   "etcdserver: corrupt cluster".
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalCluster } from "../../src/cli/local-cluster.js";
import { openLmdbBackend } from "../../src/mvcc/lmdb-backend.js";
import { TABLES } from "../../src/mvcc/schema.js";
import { eventually, put, sleep } from "./cluster-client.js";
import { ETCDCTL_MISSING, etcdctl, REPO_ROOT } from "./harness.js";

function kvorumctl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, "dist", "src", "cli", "kvorumctl.js"), ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, out: stdout + stderr });
      },
    );
  });
}

/** Flips the last byte of the newest stored change whose record contains `value`. */
async function flipStoredValue(dataDir: string, value: string): Promise<void> {
  const backend = openLmdbBackend(join(dataDir, "member", "db"));
  try {
    const table = backend.table(TABLES.revisions);
    for (const { key, value: row } of table.range(undefined, undefined, { reverse: true })) {
      if (!Buffer.from(row).includes(Buffer.from(value))) continue;
      const changed = Uint8Array.from(row);
      changed[changed.length - 1]! ^= 0x01;
      backend.writeTxn(() => table.put(key, changed));
      return;
    }
    throw new Error(`no stored change holds ${value}`);
  } finally {
    await backend.close();
  }
}

test(
  "a flipped stored value: check data, the initial check and the periodic CORRUPT alarm",
  { timeout: 180_000, skip: ETCDCTL_MISSING },
  async () => {
    const base = mkdtempSync(join(tmpdir(), "kvorum-corruption-e2e-"));
    const env: Record<string, string> = {};
    const cluster = await startLocalCluster({
      size: 3,
      baseDir: base,
      extraArgs: [
        "--heartbeat-interval",
        "50",
        "--election-timeout",
        "500",
        "--logger",
        "zap",
        "--experimental-corrupt-check-time",
        "2s",
      ],
      env,
    });
    const [m1, m2, m3] = cluster.members as [
      (typeof cluster.members)[0],
      (typeof cluster.members)[0],
      (typeof cluster.members)[0],
    ];
    try {
      await Promise.all(cluster.members.map((m) => m.waitHealthy()));
      for (let i = 0; i < 5; i++) await put(m1.clientUrl, `key-${i}`, `stored-value-${i}`);
      // Every member has applied everything: the same HashKV at the same revision.
      await eventually("members agree", async () => {
        const r = await etcdctl({ endpoint: m1.clientUrl }, ["endpoint", "hashkv", "-w", "json"], {
          endpoints: cluster.endpoints.join(","),
        });
        const hashes = (JSON.parse(r.stdout) as Array<{ HashKV: { hash: number } }>).map(
          (e) => e.HashKV.hash,
        );
        return hashes.length === 3 && hashes.every((h) => h === hashes[0]) ? true : undefined;
      });
      // Two check periods on clean data: no alarm.
      await sleep(4500);
      const clean = await etcdctl({ endpoint: m1.clientUrl }, ["alarm", "list"]);
      assert.equal(clean.stdout.trim(), "", clean.stdout + clean.stderr);

      await m3.kill("SIGTERM");
      const before = await kvorumctl(["check", "data", "--data-dir", m3.dataDir]);
      assert.equal(before.code, 0, before.out);
      assert.match(before.out, /damage: none/);

      await flipStoredValue(m3.dataDir, "stored-value-4");
      const after = await kvorumctl(["check", "data", "--data-dir", m3.dataDir]);
      assert.equal(after.code, 1, after.out);
      assert.match(after.out, /latest: key "key-4": the value differs from revision \d+'s/);

      // Restart with the initial check: it refuses to start.
      env.ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK = "true";
      m3.start();
      await Promise.race([
        m3.waitExit(),
        sleep(30_000).then(() => {
          throw new Error(`still running:\n${m3.output()}`);
        }),
      ]);
      assert.match(m3.output(), /[0-9a-f]+ found data inconsistency with peers/);
      assert.match(m3.output(), /found different hash values from remote peer/);

      // Restart without it: the leader's periodic check raises CORRUPT.
      delete env.ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK;
      m3.start();
      const started = Date.now();
      await eventually(
        "CORRUPT alarm",
        async () => {
          const r = await etcdctl({ endpoint: m2.clientUrl }, ["alarm", "list"]);
          return r.stdout.includes("alarm:CORRUPT") ? r.stdout : undefined;
        },
        30_000,
      );
      const listed = await etcdctl({ endpoint: m1.clientUrl }, ["alarm", "list"]);
      // Member 0: etcdctl prints the alarm without a memberID field (proto3 omits zero values).
      assert.equal(listed.stdout.trim(), "alarm:CORRUPT");
      console.log(`CORRUPT raised ${Date.now() - started} ms after the damaged member restarted`);
      const refused = await etcdctl({ endpoint: m1.clientUrl }, ["put", "x", "y"]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /etcdserver: corrupt cluster/);
    } catch (err) {
      for (const m of cluster.members) {
        console.log(`--- ${m.name} (last lines) ---\n${m.output().split("\n").slice(-25).join("\n")}`);
      }
      throw err;
    } finally {
      await cluster.stop();
      rmSync(base, { recursive: true, force: true });
    }
  },
);
