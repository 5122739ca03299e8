#!/usr/bin/env node
// Runs every compiled end-to-end test file (dist/test/e2e/*.e2e.js), one file at a time, since
// each starts real server processes on this machine's two cores.
// Usage: node scripts/run-e2e.mjs [substring ...]   (only files whose name contains a substring)
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const dir = join("dist", "test", "e2e");
const filters = process.argv.slice(2);
// The chaos and bench files run last: they are the longest, and a failure elsewhere shows sooner.
const last = ["chaos.e2e.js", "bench.e2e.js"];
const files = readdirSync(dir)
  .filter((name) => name.endsWith(".e2e.js"))
  .filter((name) => filters.length === 0 || filters.some((s) => name.includes(s)))
  .sort((a, b) => Number(last.includes(a)) - Number(last.includes(b)) || a.localeCompare(b))
  .map((name) => join(dir, name));
if (files.length === 0) {
  console.error("run-e2e: no end-to-end test files found under dist/test/e2e (did the build run?)");
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--enable-source-maps", "--test", "--test-concurrency=1", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
