// Cross-checks identity.ts against a live etcd (skipped when `etcd` is not installed): the IDs
// etcd reports for randomly chosen URLs and tokens must equal ours.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { bootstrapIdentity } from "./identity.js";

const run = promisify(execFile);
const haveEtcd = spawnSync("etcd", ["--version"]).status === 0;

/** Large IDs lose precision in JSON.parse: read them from the text. */
const idsIn = (json: string, field: string): bigint[] =>
  [...json.matchAll(new RegExp(`"${field}":(\\d+)`, "g"))].map((m) => BigInt(m[1]!));

async function waitForMemberList(clientUrl: string, deadline: number): Promise<string> {
  for (;;) {
    try {
      const { stdout } = await run("etcdctl", [
        "--endpoints",
        clientUrl,
        "--command-timeout=1s",
        "-w",
        "json",
        "member",
        "list",
      ]);
      return stdout;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

test(
  "member and cluster IDs equal a live etcd's (3 members)",
  { skip: !haveEtcd, timeout: 40_000 },
  async () => {
    const seed = Date.now();
    console.log(`seed ${seed}`);
    const base = 20000 + (seed % 19000);
    const token = `tok-${seed}`;
    const names = ["a", "b", "c"];
    const peer = (i: number) => `http://127.0.0.1:${base + 2 * i}`;
    const client = (i: number) => `http://127.0.0.1:${base + 2 * i + 1}`;
    const initialCluster = names.map((n, i) => `${n}=${peer(i)}`).join(",");
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-idtest-"));
    const procs: ChildProcess[] = [];
    try {
      names.forEach((name, i) => {
        const args = [
          "--name",
          name,
          "--data-dir",
          path.join(root, name),
          "--listen-client-urls",
          client(i),
          "--advertise-client-urls",
          client(i),
          "--listen-peer-urls",
          peer(i),
          "--initial-advertise-peer-urls",
          peer(i),
          "--initial-cluster",
          initialCluster,
          "--initial-cluster-token",
          token,
        ];
        procs.push(spawn("etcd", args, { stdio: "ignore" }));
      });
      const ours = bootstrapIdentity(Object.fromEntries(names.map((n, i) => [n, [peer(i)]])), token, "b");
      const listed = await waitForMemberList(client(1), Date.now() + 25_000);
      assert.deepEqual(idsIn(listed, "cluster_id"), [ours.clusterId]);
      assert.deepEqual(idsIn(listed, "member_id"), [ours.memberId]);
      assert.deepEqual(
        idsIn(listed, "ID").sort((x, y) => (x < y ? -1 : 1)),
        [...ours.members.values()].sort((x, y) => (x < y ? -1 : 1)),
      );
    } finally {
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(
        procs.map((p) =>
          p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once("exit", r)),
        ),
      );
      await fs.rm(root, { recursive: true, force: true });
    }
  },
);
