// Disaster recovery across implementations, with 3-member clusters on both sides:
// a. A Kvorum cluster's snapshot (taken with `etcdctl snapshot save` from one member) has the
//    revision Kvorum served and the key count etcd's has after the same workload; restored with
//    three `etcdctl snapshot restore` calls it is served by three real etcd processes with the
//    same keys, revisions, versions and leases, and a new put lands at the next revision.
// b. A real etcd cluster's snapshot restored with `kvorumctl snapshot restore` for three members:
//    a Kvorum cluster serves the same data and writes continue from etcd's revision.
// c. A Kvorum snapshot restored into a new 3-member Kvorum cluster: the same checks.
// d. Single members: binary and long keys, empty values, transactions with several writes in one
//    revision and a revoked lease, on etcd and on Kvorum; each snapshot restored by etcdctl into
//    etcd and by kvorumctl into Kvorum: every revision's keys and a watch from revision 1 as the
//    source served them (and etcd and Kvorum served the same).
// The workload has puts, overwrites, deletes, two leases with attached keys and a compaction.
// Every process is killed and every data dir removed, whatever the outcome.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ETCDCTL_MISSING,
  REPO_ROOT,
  etcdctl,
  freePort,
  healthy,
  killAll,
  memberFlags,
  sleep,
  startServer,
  type ServerKind,
} from "./harness.js";
import { Etcd3 } from "etcd3";
import { PARITY_SKIP } from "./parity.js";
import { spawnMember, type SpawnedMember } from "./spawn-member.js";

after(killAll);

const skip = PARITY_SKIP !== false ? PARITY_SKIP : ETCDCTL_MISSING;
const work = mkdtempSync(join(tmpdir(), "kvorum-dr-e2e-"));
after(() => rmSync(work, { recursive: true, force: true }));

const TOKEN = "dr-e2e";
const NAMES = ["m1", "m2", "m3"];

interface Ports {
  client: number;
  peer: number;
}

interface Cluster {
  kind: ServerKind;
  /** All client URLs, comma-separated (what etcdctl --endpoints takes). */
  endpoint: string;
  members: Array<{ endpoint: string }>;
  stop(): Promise<void>;
}

async function allocPorts(): Promise<Ports[]> {
  const ports: Ports[] = [];
  const seen = new Set<number>();
  while (ports.length < NAMES.length) {
    const client = await freePort();
    const peer = await freePort();
    if (client === peer || seen.has(client) || seen.has(peer)) continue;
    seen.add(client).add(peer);
    ports.push({ client, peer });
  }
  return ports;
}

function initialCluster(ports: Ports[]): string {
  return NAMES.map((n, i) => `${n}=http://127.0.0.1:${ports[i]!.peer}`).join(",");
}

/** Starts three members of `kind` on the given ports and data dirs; resolves once all are healthy. */
async function startCluster(kind: ServerKind, dirs: string[], ports: Ports[]): Promise<Cluster> {
  const spawned: SpawnedMember[] = NAMES.map((name, i) =>
    spawnMember(
      kind,
      name,
      [
        ...memberFlags(name, dirs[i]!, ports[i]!, initialCluster(ports)),
        "--initial-cluster-token",
        TOKEN,
        "--initial-cluster-state",
        "new",
      ],
      REPO_ROOT,
    ),
  );
  const members = ports.map((p) => ({ endpoint: `http://127.0.0.1:${p.client}` }));
  const stop = async () => {
    await Promise.all(spawned.map((m) => m.stop()));
  };
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      const ok = await Promise.all(members.map((m) => healthy(m.endpoint)));
      if (ok.every(Boolean)) break;
      if (Date.now() > deadline) throw new Error(`${kind} cluster not healthy within 60 s`);
      await sleep(200);
    }
  } catch (err) {
    for (const m of spawned) console.log(`--- ${kind} ${m.name} ---\n${m.output().slice(-3000)}`);
    await stop();
    throw err;
  }
  return { kind, endpoint: members.map((m) => m.endpoint).join(","), members, stop };
}

async function ok(server: { endpoint: string }, args: string[]): Promise<string> {
  const r = await etcdctl(server, args, { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")} at ${server.endpoint}: ${r.stderr}`);
  return r.stdout;
}

function run(cmd: string, args: string[]): { stdout: string; stderr: string; code: number | null } {
  const r = spawnSync(cmd, args, {
    env: { ...process.env, ETCDCTL_API: "3" },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

const kvorumctlPath = join(REPO_ROOT, "dist", "src", "cli", "kvorumctl.js");

/** Restores `file` into three data dirs with etcdctl's or kvorumctl's restore, one call per member. */
function restore(tool: "etcdctl" | "kvorumctl", file: string, label: string, ports: Ports[]): string[] {
  return NAMES.map((name, i) => {
    const dir = join(work, `${label}-${name}`);
    const args = [
      "snapshot",
      "restore",
      file,
      "--name",
      name,
      "--data-dir",
      dir,
      "--initial-cluster",
      initialCluster(ports),
      "--initial-cluster-token",
      TOKEN,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${ports[i]!.peer}`,
    ];
    const r = tool === "etcdctl" ? run("etcdctl", args) : run(process.execPath, [kvorumctlPath, ...args]);
    assert.equal(r.code, 0, `${tool} snapshot restore for ${name}: ${r.stderr}`);
    return dir;
  });
}

/** Header revision and the kvs as `etcdctl get "" --prefix -w json` prints them (JSON text kept). */
async function getAll(server: { endpoint: string }): Promise<{ revision: string; kvs: string[] }> {
  const out = await ok(server, ["get", "", "--prefix", "-w", "json"]);
  // Lease IDs exceed 2^53: the kvs are compared as JSON text, not as parsed numbers.
  const revision = /"revision":(\d+)/.exec(out)![1]!;
  const kvs = out.includes('"kvs":[')
    ? out.slice(out.indexOf('"kvs":[') + 7, out.lastIndexOf("]")).split(/(?<=}),(?={)/)
    : [];
  for (const kv of kvs) JSON.parse(kv);
  return { revision, kvs };
}

/** The lease IDs `etcdctl lease list` prints, sorted (etcd lists them in map order). */
async function leases(server: { endpoint: string }): Promise<string[]> {
  const out = await ok(server, ["lease", "list"]);
  const lines = out.trim().split("\n");
  assert.match(lines[0]!, /^found \d+ leases$/);
  return lines.slice(1).sort();
}

interface Served {
  revision: string;
  kvs: string[];
  leases: string[];
  compactRev: number;
  /** `lease timetolive --keys` of each lease, without the remaining TTL. */
  leaseDetails: string[];
  /** Every key at each revision from the compaction point on, then a watch from there. */
  history: string;
}

/** Each lease's granted TTL and attached keys (sorted), as `lease timetolive --keys` prints them. */
async function leaseDetails(c: { endpoint: string }, ids: string[]): Promise<string[]> {
  const details: string[] = [];
  for (const id of ids) {
    const out = await ok(c, ["lease", "timetolive", id, "--keys"]);
    const m = /^lease (\w+) granted with TTL\((\d+s)\), remaining\(\d+s\), attached keys\(\[(.*)\]\)$/.exec(
      out.trim(),
    );
    assert.ok(m !== null, out);
    details.push(`${m[1]} ${m[2]} ${m[3]!.split(" ").sort().join(" ")}`);
  }
  return details;
}

/** What `get --rev` gives at each retained revision and a watch from the compaction point sends. */
async function history(c: { endpoint: string }, compactRev: number, revision: number): Promise<string> {
  const header = /"[Hh]eader":\{[^}]*\},?/g; // member and cluster IDs differ after a restore
  let text = "";
  for (let rev = compactRev; rev <= revision; rev++) {
    const out = await ok(c, ["get", "", "--prefix", "-w", "json", "--rev", String(rev)]);
    text += `${rev}: ${out.replace(header, "")}`;
  }
  const watch = await etcdctl(c, ["watch", "", "--prefix", "--rev", String(compactRev), "-w", "json"], {
    timeoutMs: 3000,
  });
  return text + watch.stdout.replace(header, "").replace(/"watch_id":\d+,?/g, "");
}

/** Puts, overwrites, deletes, two leases with attached keys, a compaction, writes after it. */
async function workload(c: Cluster): Promise<Served> {
  for (let i = 0; i < 15; i++) await ok(c, ["put", `dr/${i}`, `v${i}`]);
  for (let i = 0; i < 15; i += 3) await ok(c, ["put", `dr/${i}`, `v${i}-2`]);
  await ok(c, ["put", "dr/0", "v0-3"]);
  await ok(c, ["del", "dr/1"]);
  await ok(c, ["del", "dr/10", "dr/13"]); // a range delete: dr/10, dr/11, dr/12
  await ok(c, ["put", "dr/11", "back"]);
  const ids: string[] = [];
  for (const ttl of ["900", "1200"]) {
    const grant = await ok(c, ["lease", "grant", ttl]);
    ids.push(/lease ([0-9a-f]+) granted/.exec(grant)![1]!);
  }
  await ok(c, ["put", "lease/a1", "x", `--lease=${ids[0]}`]);
  await ok(c, ["put", "lease/a2", "y", `--lease=${ids[0]}`]);
  await ok(c, ["put", "lease/b1", "z", `--lease=${ids[1]}`]);
  await ok(c, ["put", "dr/3", "moved-to-lease", `--lease=${ids[1]}`]);
  const compactRev = Number((await getAll(c)).revision);
  await ok(c, ["put", "dr/4", "after"]);
  await ok(c, ["del", "dr/5"]);
  await ok(c, ["compact", String(compactRev)]);
  await ok(c, ["put", "dr/6", "post-compact"]);
  await ok(c, ["del", "dr/7"]);
  const served = await getAll(c);
  const hist = await history(c, compactRev, Number(served.revision));
  assert.match(hist, /"mod_revision":/);
  const listed = await leases(c);
  const details = await leaseDetails(c, listed);
  assert.deepEqual(details.map((d) => d.split(" ").slice(1).join(" ")).sort(), [
    "1200s dr/3 lease/b1",
    "900s lease/a1 lease/a2",
  ]);
  return { ...served, leases: listed, compactRev, history: hist, leaseDetails: details };
}

/** Every member of `c` serves `want`; the compaction point holds; a put lands at the next revision. */
async function assertServes(c: Cluster, want: Served, label: string): Promise<void> {
  for (const m of c.members) {
    assert.deepEqual(
      await getAll(m),
      { revision: want.revision, kvs: want.kvs },
      `${label} at ${m.endpoint}`,
    );
    assert.deepEqual(await leases(m), want.leases, `${label}: leases at ${m.endpoint}`);
  }
  assert.equal(await history(c, want.compactRev, Number(want.revision)), want.history, `${label}: history`);
  assert.deepEqual(await leaseDetails(c, want.leases), want.leaseDetails, `${label}: lease TTLs and keys`);
  const below = await etcdctl(c, ["get", "dr/0", "--rev", String(want.compactRev - 1)]);
  assert.match(below.stderr, /required revision has been compacted/, `${label}: below the compaction`);
  assert.match(
    await ok(c, ["get", "dr/2", "--rev", String(want.compactRev), "-w", "json"]),
    /"count":1/,
    `${label}: at the compaction point`,
  );
  await ok(c, ["put", "dr/new", "after-restore"]);
  const next = String(Number(want.revision) + 1);
  for (const m of c.members) {
    // Followers apply the put shortly after the leader acknowledges it; a linearizable read waits.
    const got = await getAll(m);
    assert.equal(got.revision, next, `${label}: revision after a new put at ${m.endpoint}`);
    assert.ok(
      got.kvs.some((kv) => kv.includes(`"mod_revision":${next}`)),
      `${label}: the new key at revision ${next}`,
    );
  }
}

test(
  "3-member disaster recovery: Kvorum to etcd, etcd to Kvorum, Kvorum to Kvorum",
  { skip, timeout: 400_000 },
  async () => {
    const kvorumFile = join(work, "kvorum.db");
    const etcdFile = join(work, "etcd.db");
    let kvorumServed: Served;
    let etcdServed: Served;

    // The same workload on a 3-member Kvorum cluster and a 3-member etcd cluster.
    const kvorum = await startCluster(
      "kvorum",
      NAMES.map((n) => join(work, `src-kvorum-${n}`)),
      await allocPorts(),
    );
    try {
      kvorumServed = await workload(kvorum);
      // Saved from the second member (usually a follower).
      await ok(kvorum.members[1]!, ["snapshot", "save", kvorumFile]);
    } finally {
      await kvorum.stop();
    }
    const etcd = await startCluster(
      "etcd",
      NAMES.map((n) => join(work, `src-etcd-${n}`)),
      await allocPorts(),
    );
    try {
      etcdServed = await workload(etcd);
      await ok(etcd.members[1]!, ["snapshot", "save", etcdFile]);
    } finally {
      await etcd.stop();
    }
    assert.equal(kvorumServed.revision, etcdServed.revision, "same workload, same revision");
    assert.equal(kvorumServed.kvs.length, 13);
    assert.equal(kvorumServed.leases.length, 2);

    // etcdctl's view of Kvorum's snapshot: Kvorum's revision, etcd's key count.
    const statusOf = (file: string) => {
      const r = run("etcdctl", ["snapshot", "status", file, "-w", "json"]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { revision: number; totalKey: number };
    };
    const ks = statusOf(kvorumFile);
    const es = statusOf(etcdFile);
    assert.equal(ks.revision, Number(kvorumServed.revision));
    assert.equal(es.revision, Number(etcdServed.revision));
    assert.equal(ks.totalKey, es.totalKey, "key count of Kvorum's snapshot vs etcd's");

    // a. Kvorum's snapshot into three real etcd members.
    {
      const ports = await allocPorts();
      const dirs = restore("etcdctl", kvorumFile, "a", ports);
      const c = await startCluster("etcd", dirs, ports);
      try {
        await assertServes(c, kvorumServed, "etcd restored from Kvorum");
      } finally {
        await c.stop();
      }
    }
    // b. etcd's snapshot into three Kvorum members.
    {
      const ports = await allocPorts();
      const dirs = restore("kvorumctl", etcdFile, "b", ports);
      const c = await startCluster("kvorum", dirs, ports);
      try {
        await assertServes(c, etcdServed, "Kvorum restored from etcd");
      } finally {
        await c.stop();
      }
    }
    // c. Kvorum's snapshot into three new Kvorum members.
    {
      const ports = await allocPorts();
      const dirs = restore("kvorumctl", kvorumFile, "c", ports);
      const c = await startCluster("kvorum", dirs, ports);
      try {
        await assertServes(c, kvorumServed, "Kvorum restored from Kvorum");
      } finally {
        await c.stop();
      }
    }
  },
);

/** Keys with NUL and 0xff bytes, a long key, empty values, multi-write transactions, a revoked lease. */
async function byteWorkload(c: Etcd3): Promise<void> {
  await c.put(Buffer.from("a\x00b", "latin1")).value("1").exec();
  await c.put("a").value("").exec();
  await c.put(Buffer.from("a\x00", "latin1")).value("2").exec();
  await c
    .put(Buffer.from([0xff, 0xff]))
    .value(Buffer.from([0, 1, 2]))
    .exec();
  await c
    .put(Buffer.from([0xff]))
    .value("x")
    .exec();
  await c.put("L".repeat(1500)).value("long").exec();
  await c
    .if("a", "Version", ">", 0)
    .then(c.put("t1").value("1"), c.put("t2").value("2"), c.delete().key(Buffer.from([0xff])))
    .commit();
  await c.if("a", "Version", ">", 0).then(c.put("t1").value("1b"), c.put("t3").value("3")).commit();
  const kept = c.lease(600, { autoKeepAlive: false });
  await kept.put("lk").value("v").exec();
  await kept.put(Buffer.from("l\x00k", "latin1")).value("v").exec();
  const revoked = c.lease(600, { autoKeepAlive: false });
  await revoked.put("gone").value("v").exec();
  await revoked.revoke();
  await c.put("a").value("again").exec();
}

/** Every key at every revision 1..revision, and a watch from revision 1 (lease IDs dropped). */
async function fullHistory(server: { endpoint: string }, revision: number): Promise<string> {
  const text = await history(server, 1, revision);
  return text.replace(/"lease":\d+/g, "");
}

test(
  "binary keys, transactions and every revision survive restores both ways",
  { skip, timeout: 240_000 },
  async () => {
    const seen = new Map<ServerKind, string>();
    for (const kind of ["etcd", "kvorum"] as const) {
      const source = await startServer(kind);
      const file = join(work, `bytes-${kind}.db`);
      try {
        const client = new Etcd3({ hosts: source.endpoint });
        try {
          await byteWorkload(client);
        } finally {
          client.close();
        }
        const revision = Number((await getAll(source)).revision);
        assert.equal(revision, 14);
        seen.set(kind, await fullHistory(source, revision));
        await ok(source, ["snapshot", "save", file]);
      } finally {
        await source.stop();
      }
      for (const target of ["etcd", "kvorum"] as const) {
        const peer = await freePort();
        const dir = join(work, `bytes-${kind}-to-${target}`);
        const args = [
          "snapshot",
          "restore",
          file,
          "--name",
          "e2e",
          "--data-dir",
          dir,
          "--initial-cluster",
          `e2e=http://127.0.0.1:${peer}`,
          "--initial-advertise-peer-urls",
          `http://127.0.0.1:${peer}`,
        ];
        const r = target === "etcd" ? run("etcdctl", args) : run(process.execPath, [kvorumctlPath, ...args]);
        assert.equal(r.code, 0, r.stderr);
        const restored = await startServer(target, {
          dataDir: dir,
          firstPorts: { client: await freePort(), peer },
        });
        try {
          assert.equal(
            await fullHistory(restored, 14),
            seen.get(kind),
            `${kind} snapshot restored into ${target}`,
          );
        } finally {
          await restored.stop();
        }
      }
    }
    assert.equal(seen.get("kvorum"), seen.get("etcd"), "etcd and Kvorum serve the same history");
  },
);
