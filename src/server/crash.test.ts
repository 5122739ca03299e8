// SIGKILL durability of the whole member: a child writes through raft, the WAL and LMDB and
// reports every acknowledged request; it is killed at a random moment (seeded); the reopened
// member must hold every acknowledged write (with its revision) and every acknowledged lease with
// its key. Repeated over several kills of the same data dir.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseServerConfig } from "../config/server-config.js";
import { startMember } from "./member.js";

const here = fileURLToPath(import.meta.url);
const childFile = join(dirname(here), `crash-child${extname(here)}`);
const childArgs = extname(here) === ".ts" ? ["--import", "tsx", childFile] : [childFile];
const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() % 100_000;

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function nextDelay(state: { x: number }): number {
  let x = state.x;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  state.x = x;
  return 100 + (Math.abs(x) % 400);
}

/** Runs the child until `ms` after it is ready, kills it, and returns the lines it acknowledged. */
async function runAndKill(dataDir: string, round: number, ms: number): Promise<string[]> {
  const child = spawn(process.execPath, [...childArgs, dataDir, String(round)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buf = "";
  const lines: string[] = [];
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    lines.push(...parts);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("child did not become ready")), 15_000);
    child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
    const poll = setInterval(() => {
      if (lines.includes("ready")) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 5);
  });
  await new Promise((r) => setTimeout(r, ms));
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
  return lines.filter((l) => l !== "ready"); // a partial last line is not an acknowledgement
}

test(`every acknowledged write survives kill -9 (seed ${seed})`, { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "kvorum-member-crash-"));
  const dataDir = join(dir, "data");
  const state = { x: seed | 1 };
  const acked: string[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      acked.push(...(await runAndKill(dataDir, round, nextDelay(state))));
      const { config } = parseServerConfig(["--data-dir", dataDir], {});
      const m = await startMember({ config, storage: "disk" });
      try {
        let checked = 0;
        for (const line of acked) {
          const [kind, name, extra] = line.split(" ");
          if (kind === "put") {
            const r = await m.range({ key: enc(`k/${name}`) });
            assert.equal(r.kvs.length, 1, `acknowledged put k/${name} lost`);
            assert.equal(dec(r.kvs[0]!.value), `v${name!.split("/")[2]}`);
            assert.equal(r.kvs[0]!.modRevision, Number(extra));
          } else if (kind === "lease") {
            const id = BigInt(extra!);
            const ttl = await m.leaseTimeToLive(id, true);
            assert.equal(ttl.grantedTtl, 3600, `acknowledged lease ${id} lost`);
            assert.deepEqual(ttl.keys.map(dec), [`lease/${name}`]);
          }
          checked++;
        }
        assert.ok(checked > 0, "the child acknowledged something");
      } finally {
        await m.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
