// The chaos harness in CI: a short run with every fault must pass every check, and the same
// harness must catch the bug the test-only switch KVORUM_UNSAFE_STALE_READS=1 plants (reads
// answered from local state) when members are partitioned. The runs print their seed; replay
// with npm run chaos -- --seed <seed> ...
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./harness.js";

const LAST_LINE =
  /^chaos: (\d+) ops, (\d+) faults, linearizable=(yes|no), watch=(ok|violations), lost=(\d+)$/;

async function chaos(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; last: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, "dist", "src", "chaos", "cli.js"), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", () => {});
  const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  const lines = out.trim().split("\n");
  return { code, out, last: lines.at(-1) ?? "" };
}

const seed = Number(process.env.KVORUM_SEED ?? Date.now() % 1_000_000);

test(
  `chaos: 3 members, every fault, 30 s: linearizable, watches ok, nothing lost (seed ${seed})`,
  { timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvorum-chaos-e2e-"));
    try {
      const html = join(dir, "timeline.html");
      const r = await chaos([
        "--members",
        "3",
        "--duration",
        "30",
        "--seed",
        String(seed),
        "--faults",
        "kill,pause,partition,leader-isolate,restart,membership",
        "--out",
        html,
      ]);
      console.log(r.out);
      const m = LAST_LINE.exec(r.last);
      assert.ok(m, `last line: ${r.last}`);
      assert.ok(Number(m[1]) > 100, "operations ran");
      assert.ok(Number(m[2]) > 0, "faults were injected");
      assert.equal(r.last.endsWith("linearizable=yes, watch=ok, lost=0"), true, r.last);
      assert.equal(r.code, 0);
      assert.match(readFileSync(html, "utf8"), /<svg[^>]*>.*<rect/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  `chaos bites: with KVORUM_UNSAFE_STALE_READS=1 and partitions the checker reports linearizable=no (seed ${seed})`,
  { timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "kvorum-chaos-e2e-"));
    try {
      const r = await chaos(
        [
          "--members",
          "3",
          "--duration",
          "25",
          "--seed",
          String(seed),
          "--faults",
          "partition,leader-isolate",
          "--out",
          join(dir, "t.html"),
        ],
        { KVORUM_UNSAFE_STALE_READS: "1" },
      );
      console.log(r.out.split("\n").slice(-15).join("\n"));
      assert.match(r.last, LAST_LINE);
      assert.match(r.last, /linearizable=no/);
      assert.equal(r.code, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
