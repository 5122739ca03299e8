// etcdctl 3.4 against the target server (KVORUM_E2E_TARGET, default kvorum). Each test starts a
// fresh single-member server so revisions are deterministic, runs a script of etcdctl commands,
// and compares the whole transcript with etcd's own output captured in test/fixtures/etcdctl/.

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ETCDCTL_MISSING,
  ETCD_MISSING,
  Transcript,
  assertGolden,
  e2eTarget,
  etcdctl,
  killAll,
  sleep,
  spawnEtcdctl,
  startServer,
  type RunningServer,
} from "./harness.js";

const target = e2eTarget();
const skip = ETCDCTL_MISSING || (target === "etcd" ? ETCD_MISSING : false);
const TEST_TIMEOUT_MS = 60_000;

after(killAll);

/** Run `body` against a fresh server; always stop it; print the server log on failure. */
function serverTest(name: string, body: (server: RunningServer, t: Transcript) => Promise<void>): void {
  test(name, { skip, timeout: TEST_TIMEOUT_MS }, async () => {
    const server = await startServer(target);
    try {
      await body(server, new Transcript(server));
    } catch (err) {
      process.stderr.write(`--- ${target} log tail for "${name}" ---\n${server.log().slice(-3000)}\n`);
      throw err;
    } finally {
      await server.stop();
    }
  });
}

/** Grant a lease and return its hex id as etcdctl prints it. */
function leaseIdFrom(grantOutput: string): string {
  const match = /^lease ([0-9a-f]+) granted with TTL/m.exec(grantOutput);
  assert.ok(match, `unexpected lease grant output: ${grantOutput}`);
  return match[1];
}

describe(`etcdctl e2e (${target})`, () => {
  serverTest("put and get with range options and output formats", async (_server, t) => {
    for (const [key, value] of [
      ["foo1", "a"],
      ["foo2", "b"],
      ["foo3", "c"],
      ["bar", "z"],
      ["foo4", "d"],
      ["foo1", "a2"],
      ["fop", "e"],
    ]) {
      await t.run(["put", key, value]);
    }
    await t.run(["put", "foo2", "b2", "--prev-kv"]);
    await t.run(["get", "foo1"]);
    await t.run(["get", "missing"]);
    await t.run(["get", "--prefix", "foo"]);
    await t.run(["get", "foo2", "foo4"]);
    await t.run(["get", "--from-key", "foo3"]);
    await t.run(["get", "--from-key", ""]);
    await t.run(["get", "--prefix", "foo", "--limit", "2"]);
    await t.run(["get", "foo1", "--rev", "2"]);
    await t.run(["get", "--prefix", "foo", "--rev", "4"]);
    await t.run(["get", "--prefix", "foo", "--sort-by", "MODIFY", "--order", "DESCEND"]);
    await t.run(["get", "--prefix", "foo", "--sort-by", "VALUE", "--order", "ASCEND"]);
    await t.run(["get", "--prefix", "foo", "--sort-by", "CREATE", "--order", "DESCEND"]);
    await t.run(["get", "--prefix", "foo", "--sort-by", "VERSION", "--order", "DESCEND"]);
    await t.run(["get", "--prefix", "", "--order", "DESCEND"]);
    await t.run(["get", "--prefix", "foo", "--keys-only"]);
    await t.run(["get", "--prefix", "foo", "--print-value-only"]);
    await t.run(["get", "--prefix", "foo", "--consistency", "s"]);
    await t.run(["get", "--prefix", "foo", "--limit", "2", "-w", "json"]);
    await t.run(["get", "foo1", "-w", "fields"]);
    await t.run(["get", "--prefix", "foo", "--keys-only", "-w", "json"]);
    await t.run(["get", "--prefix", "foo", "--hex"]);
    await t.run(["put", "bin", "value with spaces", "-w", "json"]);
    await t.run(["get", "bin", "-w", "fields"]);
    await t.run(["put", "foo1", "--ignore-value"]);
    await t.run(["put", "nokey", "--ignore-value"]);
    await t.run(["put", "", "empty-key"]);
    await t.run(["get", ""]);
    // Above --max-request-bytes (1.5 MiB) but within the gRPC receive limit: the server refuses.
    await t.run(["put", "big"], { input: "a".repeat(1_700_000) });
    await t.run(["get", "big", "--keys-only"]);
    assertGolden("kv-put-get.txt", t.text());
  });

  serverTest("delete with --prefix, --prev-kv and --from-key", async (_server, t) => {
    for (const key of ["a1", "a2", "a3", "b1", "b2", "c1"]) await t.run(["put", key, `v-${key}`]);
    await t.run(["del", "a1"]);
    await t.run(["del", "a1"]);
    await t.run(["del", "--prefix", "a"]);
    await t.run(["del", "b1", "--prev-kv"]);
    await t.run(["del", "b", "c", "--prev-kv"]);
    await t.run(["put", "d1", "x"]);
    await t.run(["del", "--prefix", "d", "-w", "json"]);
    await t.run(["del", "--from-key", "c"]);
    await t.run(["get", "--from-key", ""]);
    assertGolden("kv-del.txt", t.text());
  });

  serverTest("txn -i: compares, success and failure branches, too many ops", async (_server, t) => {
    await t.run(["put", "k", "1"]);
    await t.run(["txn", "-i"], { input: 'value("k") = "1"\n\nput k 2\nget k\n\nput k failed\n\n' });
    await t.run(["txn", "-i"], { input: 'value("k") = "1"\n\nput k 3\n\nget k\ndel missing\n\n' });
    await t.run(["txn", "-i"], {
      input: 'mod("k") > "1"\nversion("k") = "2"\ncreate("k") = "2"\n\nput x y\n\n\n',
    });
    await t.run(["txn", "-i", "-w", "json"], { input: 'version("nokey") = "0"\n\nput nokey v\nget k\n\n\n' });
    await t.run(["txn", "-i"], { input: 'value("k") != "2"\n\n\ndel --prefix x\n\n' });
    await t.run(["txn", "-i"], { input: "\nput a 1\nput b 2\n\n\n" });
    // etcd's default --max-txn-ops is 128.
    const tooMany = Array.from({ length: 129 }, (_, i) => `put many${i} v`).join("\n");
    await t.run(["txn", "-i"], { input: `\n${tooMany}\n\n\n` });
    await t.run(["txn", "-i"], { input: "\nput dup 1\nput dup 2\n\n\n" });
    await t.run(["get", "--prefix", ""]);
    assertGolden("txn.txt", t.text());
  });

  serverTest("watch --prefix, --rev, --prev-kv and watch -i", async (server, t) => {
    await t.run(["put", "w1", "old"]);
    await t.run(["put", "other", "x"]);

    // Live watch of a prefix with previous values.
    // Starting at the next revision (4) makes the events independent of registration timing.
    const live = spawnEtcdctl(server, ["watch", "--prefix", "w", "--prev-kv", "--rev", "4"]);
    await sleep(500);
    await t.run(["put", "w1", "new"]);
    await t.run(["put", "w2", "second"]);
    await t.run(["put", "x", "not watched"]);
    await t.run(["del", "w1"]);
    await live.waitFor(/DELETE\nw1\nnew\nw1\n/);
    t.note("watch --prefix w --prev-kv (background) printed:");
    t.record(["watch", "--prefix", "w", "--prev-kv", "--rev", "4"], { ...(await live.stop()), code: 0 });

    // Historical watch from revision 2 replays everything since.
    const history = spawnEtcdctl(server, ["watch", "--prefix", "", "--rev", "2"]);
    await history.waitFor(/DELETE\nw1\n/);
    await sleep(200);
    t.record(["watch", "--prefix", "", "--rev", "2"], { ...(await history.stop()), code: 0 });

    // Single key watch from a revision, without prefix.
    const single = spawnEtcdctl(server, ["watch", "w2", "--rev", "1"]);
    await single.waitFor(/second\n/);
    await sleep(200);
    t.record(["watch", "w2", "--rev", "1"], { ...(await single.stop()), code: 0 });

    // Interactive watch: commands on stdin.
    const interactive = spawnEtcdctl(server, ["watch", "-i"]);
    interactive.child.stdin?.write("watch i1 --rev 8\n");
    await sleep(500);
    await t.run(["put", "i1", "one"]);
    await interactive.waitFor(/one\n/);
    interactive.child.stdin?.write("watch --prefix j --prev-kv --rev 9\n");
    await sleep(500);
    await t.run(["put", "j1", "two"]);
    await t.run(["put", "j1", "three"]);
    await interactive.waitFor(/three\n/);
    await sleep(200);
    t.record(["watch", "-i"], { ...(await interactive.stop()), code: 0 });
    assertGolden("watch.txt", t.text());
  });

  serverTest("lease grant, keep-alive --once, timetolive --keys, list, revoke", async (server, t) => {
    const grant = await etcdctl(server, ["lease", "grant", "100"]);
    const id = leaseIdFrom(grant.stdout);
    t.aliasLease(id, "<LEASE1>");
    t.record(["lease", "grant", "100"], grant);
    await t.run(["put", "lk1", "v1", "--lease", id]);
    await t.run(["put", "lk2", "v2", "--lease", id]);
    await t.run(["put", "plain", "v3"]);
    await t.run(["lease", "keep-alive", "--once", id]);
    // The streaming form keeps printing until stopped.
    const streaming = spawnEtcdctl(server, ["lease", "keep-alive", id]);
    await streaming.waitFor(/keepalived with TTL\(100\)\n/);
    const streamed = await streaming.stop();
    assert.match(streamed.stdout, /^(lease [0-9a-f]+ keepalived with TTL\(100\)\n)+$/);
    const ttl = await t.run(["lease", "timetolive", id, "--keys"]);
    const remaining = /remaining\((\d+)s\)/.exec(ttl.stdout);
    assert.ok(remaining, ttl.stdout);
    assert.ok(Number(remaining[1]) >= 95 && Number(remaining[1]) <= 100, `remaining ${remaining[1]}`);
    await t.run(["lease", "timetolive", id]);
    const grant2 = await etcdctl(server, ["lease", "grant", "200"]);
    t.aliasLease(leaseIdFrom(grant2.stdout), "<LEASE2>");
    t.record(["lease", "grant", "200"], grant2);
    const list = await etcdctl(server, ["lease", "list"]);
    assert.match(list.stdout, /^found 2 leases\n/);
    await t.run(["get", "--prefix", "lk", "-w", "json"]);
    await t.run(["lease", "revoke", id]);
    await t.run(["get", "--prefix", ""]);
    await t.run(["lease", "timetolive", id]);
    await t.run(["lease", "timetolive", "1234abcd", "--keys"]);
    await t.run(["lease", "revoke", id]);
    await t.run(["lease", "keep-alive", "--once", id]);
    await t.run(["lease", "list"]);
    await t.run(["put", "bad", "v", "--lease", "1234abcd"]);
    await t.run(["lease", "grant", "9000000001"]);
    // etcd raises TTLs below its minimum lease TTL; the granted TTL shows whether we do too.
    const short = await etcdctl(server, ["lease", "grant", "1"]);
    t.aliasLease(leaseIdFrom(short.stdout), "<LEASE3>");
    t.record(["lease", "grant", "1"], short);
    await t.run(["lease", "timetolive", leaseIdFrom(short.stdout)]);
    assertGolden("lease.txt", t.text());
  });

  serverTest("compaction and reads at compacted or future revisions", async (_server, t) => {
    for (let i = 1; i <= 5; i++) await t.run(["put", "c", `v${i}`]);
    await t.run(["get", "c", "--rev", "3"]);
    await t.run(["compaction", "4"]);
    await t.run(["get", "c", "--rev", "3"]);
    await t.run(["get", "c", "--rev", "4"]);
    await t.run(["get", "c", "--rev", "100"]);
    await t.run(["compaction", "4"]);
    await t.run(["compaction", "2"]);
    await t.run(["compaction", "100"]);
    await t.run(["compaction", "--physical", "5"]);
    await t.run(["get", "c", "-w", "json"]);
    await t.run(["watch", "c", "--rev", "2"], { timeoutMs: 5000 });
    assertGolden("compaction.txt", t.text());
  });

  serverTest("endpoint status, health, hashkv, member list, alarm list, defrag", async (server, t) => {
    await t.run(["put", "m", "1"]);
    await t.run(["endpoint", "health"]);
    await t.run(["endpoint", "health", "-w", "json"]);
    // --cluster dials the client URLs the member list advertises.
    await t.run(["endpoint", "health", "--cluster"]);
    await t.run(["member", "list"]);
    await t.run(["member", "list", "-w", "json"]);
    await t.run(["alarm", "list"]);
    await t.run(["defrag"]);
    assertGolden("maintenance.txt", t.text());

    // Status and hashkv carry sizes, versions, raft indexes and hashes that legitimately
    // differ between servers: check their shape, not their values.
    const status = await etcdctl(server, ["endpoint", "status", "-w", "json"]);
    assert.equal(status.code, 0, status.stderr);
    const statusJson = JSON.parse(status.stdout) as Array<{
      Endpoint: string;
      Status: Record<string, unknown>;
    }>;
    assert.equal(statusJson.length, 1);
    assert.equal(statusJson[0].Endpoint, server.endpoint);
    const st = statusJson[0].Status;
    assert.match(String(st.version), /^3\.\d+\.\d+/);
    assert.equal(typeof st.dbSize, "number");
    assert.ok((st.dbSize as number) > 0);
    assert.equal(st.leader, (st.header as Record<string, unknown>).member_id);
    assert.ok((st.raftIndex as number) > 0);
    assert.ok((st.raftTerm as number) >= 1);
    assert.equal((st.header as Record<string, unknown>).revision, 2);

    const table = await etcdctl(server, ["endpoint", "status", "-w", "table"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /\| *ENDPOINT *\| *ID *\| *VERSION *\| *DB SIZE *\| *IS LEADER *\|/);
    assert.match(table.stdout, /\| *true *\| *false *\|/);
    const simple = await etcdctl(server, ["endpoint", "status"]);
    assert.match(
      simple.stdout,
      /^http:\/\/127\.0\.0\.1:\d+, [0-9a-f]+, 3\.\d+\.\d+, [0-9.]+ [kMG]?B, true, false, \d+, \d+, \d+, \n$/,
    );

    const cluster = await etcdctl(server, ["endpoint", "status", "--cluster"]);
    assert.equal(cluster.stdout.split("\n")[0], simple.stdout.split("\n")[0]);

    const hash = await etcdctl(server, ["endpoint", "hashkv", "-w", "json"]);
    assert.equal(hash.code, 0, hash.stderr);
    const hashJson = JSON.parse(hash.stdout) as Array<{ Endpoint: string; HashKV: Record<string, unknown> }>;
    assert.equal(hashJson[0].Endpoint, server.endpoint);
    assert.equal(typeof hashJson[0].HashKV.hash, "number");
    assert.equal(hashJson[0].HashKV.compact_revision, -1);
    const hashAgain = await etcdctl(server, ["endpoint", "hashkv", "-w", "json"]);
    const again = JSON.parse(hashAgain.stdout) as Array<{ HashKV: Record<string, unknown> }>;
    assert.equal(again[0].HashKV.hash, hashJson[0].HashKV.hash, "hashkv is stable without writes");
    const hashTable = await etcdctl(server, ["endpoint", "hashkv", "-w", "table"]);
    assert.match(hashTable.stdout, /\| *ENDPOINT *\| *HASH *\|/);
  });

  serverTest("snapshot save writes a non-empty file", async (server) => {
    await etcdctl(server, ["put", "s", "1"]);
    const dir = mkdtempSync(join(tmpdir(), "kvorum-e2e-snap-"));
    try {
      const file = join(dir, "snap.db");
      const result = await etcdctl(server, ["snapshot", "save", file], { timeoutMs: 20_000 });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `Snapshot saved at ${file}\n`);
      assert.ok(existsSync(file));
      assert.ok(statSync(file).size > 0);
      assert.ok(!existsSync(`${file}.part`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  serverTest("lock: a second contender waits until the holder exits", async (server, t) => {
    const first = spawnEtcdctl(server, ["lock", "mylock"]);
    const firstOut = await first.waitFor(/^mylock\/[0-9a-f]+\n/m);
    const second = spawnEtcdctl(server, ["lock", "mylock"]);
    await sleep(1500);
    assert.equal(second.stdout(), "", "second lock must wait while the first holds it");
    const held = await etcdctl(server, ["get", "--prefix", "mylock", "--keys-only"]);
    assert.equal(held.stdout.split("\n").filter((l) => l !== "").length, 2, held.stdout);
    await first.stop();
    const secondOut = await second.waitFor(/^mylock\/[0-9a-f]+\n/m);
    assert.notEqual(secondOut.trim(), firstOut.trim());
    await second.stop();
    // Exec form: run a command while holding the lock.
    await t.run(["lock", "mylock", "echo", "holding"]);
    await sleep(300);
    const left = await etcdctl(server, ["get", "--prefix", "mylock", "--keys-only"]);
    assert.equal(left.stdout, "", "all lock keys released");
    assertGolden("lock.txt", t.text());
  });

  serverTest("elect: campaign and --listen", async (server) => {
    const leader = spawnEtcdctl(server, ["elect", "myelection", "alice"]);
    const leaderOut = await leader.waitFor(/^myelection\/[0-9a-f]+\nalice\n/m);
    const listener = spawnEtcdctl(server, ["elect", "--listen", "myelection"]);
    await listener.waitFor(/alice\n/);
    const challenger = spawnEtcdctl(server, ["elect", "myelection", "bob"]);
    await sleep(1500);
    assert.equal(challenger.stdout(), "", "bob waits while alice leads");
    await leader.stop();
    await challenger.waitFor(/^myelection\/[0-9a-f]+\nbob\n/m);
    const listened = await listener.waitFor(/bob\n/);
    assert.match(listened, /alice\n[\s\S]*bob\n/);
    await challenger.stop();
    await listener.stop();
    // The key ends with the lease ID in unpadded hex (etcd prints it with %x).
    assert.match(leaderOut, /^myelection\/[0-9a-f]{1,16}\nalice\n$/);
  });
});
