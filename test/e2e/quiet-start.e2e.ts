// A plain start is quiet: Kvorum started with nothing but the URLs it must listen on (no
// --logger, no --name, no --data-dir; a temp directory as its working directory) logs no line at
// warn level or above. etcd 3.4's --logger default is capnslog, which Kvorum does not imitate;
// that is worth a warning only to a user who asked for capnslog.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { freePort, healthy, killAll, kvorumCommand, sleep } from "./harness.js";

after(killAll);

const LOUD_LEVELS = new Set(["warn", "error", "dpanic", "panic", "fatal"]);

/** Starts Kvorum with `flags` in a fresh cwd, waits for /health, stops it; returns its output. */
async function startAndStop(flags: (client: string, peer: string) => string[]): Promise<string> {
  const cwd = mkdtempSync(join(tmpdir(), "kvorum-quiet-"));
  const client = `http://127.0.0.1:${await freePort()}`;
  const peer = `http://127.0.0.1:${await freePort()}`;
  const { cmd, args } = kvorumCommand();
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ETCD_")));
  const proc = spawn(cmd, [...args, ...flags(client, peer)], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  proc.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
  proc.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  try {
    const deadline = Date.now() + 30_000;
    while (!(await healthy(client))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`kvorum did not become healthy:\n${output.slice(-4000)}`);
      }
      await sleep(100);
    }
  } finally {
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    rmSync(cwd, { recursive: true, force: true });
  }
  return output;
}

function loudLines(output: string): string[] {
  return output
    .split("\n")
    .filter((line) => line.trim() !== "")
    .filter((line) => {
      try {
        return LOUD_LEVELS.has(String((JSON.parse(line) as { level?: unknown }).level));
      } catch {
        return true; // anything that is not a zap-shaped line is noise too
      }
    });
}

const urlFlags = (client: string, peer: string): string[] => [
  "--listen-client-urls",
  client,
  "--advertise-client-urls",
  client,
  "--listen-peer-urls",
  peer,
  "--initial-advertise-peer-urls",
  peer,
  "--initial-cluster",
  `default=${peer}`,
];

test("a start with only the listen URLs logs no warning", { timeout: 60_000 }, async () => {
  const output = await startAndStop(urlFlags);
  assert.match(output, /ready to serve client requests/);
  assert.deepEqual(loudLines(output), [], output);
});

test("--logger capnslog, asked for, is warned about once", { timeout: 60_000 }, async () => {
  const output = await startAndStop((c, p) => [...urlFlags(c, p), "--logger", "capnslog"]);
  const loud = loudLines(output);
  assert.equal(loud.length, 1, output);
  assert.match(loud[0] ?? "", /--logger=capnslog is not supported/);
});
