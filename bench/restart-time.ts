// npm run bench:restart: how long a member with a million keys takes to come back. For etcd 3.4
// and Kvorum in turn (one member, fresh data dir, the same flags): load `keys` keys with
// `value`-byte values through Txn requests of 128 puts (etcd's default --max-txn-ops), then
// restart the member twice, after a clean stop (SIGTERM) and after kill -9, timing from spawn to
// the first successful linearizable Range of a loaded key. Reports the load rate, the data dir
// size, both restart times and the restarted process's RSS.
// Run: npm run bench:restart [-- keys=1000000 value=256]
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Conn } from "../src/cli/bench.js";
import { freeLoopbackPort } from "../src/cli/local-cluster.js";
import { REPO_ROOT, type ServerKind } from "../test/e2e/harness.js";
import { benchArg as arg, rssBytes } from "./targets.js";

const keys = Number(arg("keys", "1000000"));
const valueSize = Number(arg("value", "256"));
// kinds=kvorum runs one server only; keep=1 leaves the data dirs (for profiling a restart).
const kinds = arg("kinds", "etcd,kvorum").split(",") as ServerKind[];
const keep = arg("keep", "0") === "1";
const OPS_PER_TXN = 128;
const IN_FLIGHT = 32;

interface Member {
  child: ChildProcess;
  endpoint: string;
}

function spawnMember(kind: ServerKind, dataDir: string, client: number, peer: number): Member {
  const flags = [
    "--name",
    "m",
    "--data-dir",
    dataDir,
    "--listen-client-urls",
    `http://127.0.0.1:${client}`,
    "--advertise-client-urls",
    `http://127.0.0.1:${client}`,
    "--listen-peer-urls",
    `http://127.0.0.1:${peer}`,
    "--initial-advertise-peer-urls",
    `http://127.0.0.1:${peer}`,
    "--initial-cluster",
    `m=http://127.0.0.1:${peer}`,
  ];
  const child =
    kind === "etcd"
      ? spawn("etcd", flags, { stdio: "ignore" })
      : spawn(process.execPath, [join(REPO_ROOT, "dist", "src", "cli", "kvorum.js"), ...flags], {
          stdio: "ignore",
        });
  return { child, endpoint: `127.0.0.1:${client}` };
}

/** Milliseconds until a linearizable Range of `key` succeeds and finds `count` keys. */
async function untilServing(endpoint: string, key: Buffer, started: number, count = 1): Promise<number> {
  const deadline = started + 600_000;
  for (;;) {
    const c = new Conn(endpoint);
    try {
      const r = await c.unary("KV", "Range", { key });
      if (Number(r["count"] ?? 0) === count) return performance.now() - started;
    } catch {
      // not yet
    } finally {
      c.close();
    }
    if (performance.now() > deadline) throw new Error(`${endpoint} did not serve within 10 minutes`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function stop(m: Member, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (m.child.exitCode !== null) return resolve();
    m.child.once("exit", () => resolve());
    m.child.kill(signal);
  });
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

const keyOf = (i: number) => Buffer.from(`key/${String(i).padStart(8, "0")}`);

async function load(endpoint: string, count: number): Promise<number> {
  const conns = Array.from({ length: 4 }, () => new Conn(endpoint));
  const value = Buffer.alloc(valueSize, 0x61);
  const started = performance.now();
  let next = 0;
  let lastReport = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, w) => {
      const conn = conns[w % conns.length] as Conn;
      while (next < count) {
        const from = next;
        next = Math.min(count, next + OPS_PER_TXN);
        const success = [];
        for (let i = from; i < next; i++) success.push({ request_put: { key: keyOf(i), value } });
        await conn.unary("KV", "Txn", { success });
        if (next - lastReport >= count / 10) {
          lastReport = next;
          process.stderr.write(`restart: loaded ${next.toLocaleString("en-US")} keys\n`);
        }
      }
    }),
  );
  for (const c of conns) c.close();
  return (performance.now() - started) / 1000;
}

const rows: string[] = [];
for (const kind of kinds) {
  const base = mkdtempSync(join(tmpdir(), `bench-restart-${kind}-`));
  const dataDir = join(base, "data");
  const client = await freeLoopbackPort();
  const peer = await freeLoopbackPort();
  const probe = keyOf(keys - 1);
  try {
    let m = spawnMember(kind, dataDir, client, peer);
    await untilServing(m.endpoint, Buffer.from("absent"), performance.now(), 0);
    process.stderr.write(`restart: ${kind}: loading ${keys.toLocaleString("en-US")} keys ...\n`);
    const seconds = await load(m.endpoint, keys);
    await stop(m, "SIGTERM");
    const bytes = dirBytes(dataDir);

    let t = performance.now();
    m = spawnMember(kind, dataDir, client, peer);
    const clean = await untilServing(m.endpoint, probe, t);
    process.stderr.write(`restart: ${kind}: after a clean stop: ${clean.toFixed(0)} ms\n`);
    // More writes (rewriting the first keys) so kill -9 lands with recent entries to replay.
    await load(m.endpoint, Math.min(keys, 50_000));
    await stop(m, "SIGKILL");

    t = performance.now();
    m = spawnMember(kind, dataDir, client, peer);
    const killed = await untilServing(m.endpoint, probe, t);
    const rss = rssBytes(m.child.pid);
    process.stderr.write(`restart: ${kind}: after kill -9: ${killed.toFixed(0)} ms\n`);
    await stop(m, "SIGTERM");
    rows.push(
      `| ${kind} | ${Math.round(keys / seconds).toLocaleString("en-US")} | ${(bytes / 1024 / 1024).toFixed(0)} MiB | ${(clean / 1000).toFixed(2)} s | ${(killed / 1000).toFixed(2)} s | ${(rss / 1024 / 1024).toFixed(0)} MiB |`,
    );
  } finally {
    if (keep)
      process.stderr.write(
        `restart: ${kind}: data kept in ${dataDir} (client port ${client}, peer port ${peer})\n`,
      );
    else rmSync(base, { recursive: true, force: true });
  }
}

console.log(
  `\n### Restart with ${keys.toLocaleString("en-US")} keys (${valueSize}-byte values, one member, loaded by Txn of ${OPS_PER_TXN} puts)\n`,
);
console.log(
  "| server | load (keys/s) | data dir | restart after clean stop | restart after kill -9 | RSS after restart |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) console.log(r);
