// Tests for `kvorumctl check wal`: a clean dir, a torn tail, mid-log corruption and an unusable
// dir give exit codes 0, 1, 1 and 2 with the file and offset named; one run goes through the real
// kvorumctl entry point in a child process.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdir, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCheckWal } from "./check-wal.js";
import { DurableLogStore, storagePaths } from "../storage/raft-log-store.js";
import { quietLogger, range, tempDir } from "../storage/store-factories.test-util.js";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function dataDir(): Promise<{ dir: string; segments: string[] }> {
  const t = await tempDir("kvorum-check-");
  cleanups.push(t.remove);
  const s = await DurableLogStore.open(t.dir, { segmentSize: 2048, logger: quietLogger, catchUpEntries: 5 });
  for (let i = 1; i <= 50; i += 5)
    await s.save({ entries: range(i, i + 4, 2), hardState: { term: 2, vote: "n1", commit: i } }, true);
  await s.createSnapshot(20, { voters: ["n1"], learners: [] }, new Uint8Array([1]));
  await s.close();
  const { walDir } = storagePaths(t.dir);
  const segments = (await readdir(walDir))
    .filter((n) => n.endsWith(".wal"))
    .sort()
    .map((n) => join(walDir, n));
  return { dir: t.dir, segments };
}

async function run(dir: string): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await runCheckWal(dir, (l) => lines.push(l));
  return { code, out: lines.join("\n") };
}

test("a clean WAL reports its contents and exits 0", async () => {
  const { dir } = await dataDir();
  const { code, out } = await run(dir);
  assert.equal(code, 0, out);
  assert.match(out, /entries: \d+ \.\. 50/);
  assert.match(out, /hard state: term 2, vote n1, commit 46/);
  assert.match(out, /snapshot: index 20, term 2/);
  assert.match(out, /damage: none/);
});

test("a torn final record is reported with file and offset, exit 1", async () => {
  const { dir, segments } = await dataDir();
  const last = segments[segments.length - 1]!;
  const buf = await readFile(last);
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  await truncate(last, end - 3);
  const { code, out } = await run(dir);
  assert.equal(code, 1, out);
  assert.ok(out.includes(`torn final record in ${last} at offset`), out);
});

test("mid-log corruption is reported with file and offset, exit 1", async () => {
  const { dir, segments } = await dataDir();
  const victim = segments[0]!;
  const buf = await readFile(victim);
  buf[150] ^= 0xff;
  await writeFile(victim, buf);
  const { code, out } = await run(dir);
  assert.equal(code, 1, out);
  assert.match(out, new RegExp(`corrupt data in ${victim} at offset \\d+`));
});

test("a directory without a WAL exits 2", async () => {
  const t = await tempDir("kvorum-check-empty-");
  cleanups.push(t.remove);
  const { code, out } = await run(t.dir);
  assert.equal(code, 2);
  assert.match(out, /no WAL directory/);
});

test("kvorumctl check wal runs end to end", async () => {
  const { dir } = await dataDir();
  const here = fileURLToPath(import.meta.url);
  const cli = join(here, "..", here.endsWith(".ts") ? "kvorumctl.ts" : "kvorumctl.js");
  const execArgv = here.endsWith(".ts") ? ["--import", "tsx"] : [];
  const res = spawnSync(process.execPath, [...execArgv, cli, "check", "wal", "--data-dir", dir], {
    encoding: "utf8",
  });
  assert.equal(res.status, 0, res.stderr + res.stdout);
  assert.match(res.stdout, /damage: none/);
  const missing = spawnSync(
    process.execPath,
    [...execArgv, cli, "check", "wal", "--data-dir", join(dir, "nope")],
    {
      encoding: "utf8",
    },
  );
  assert.equal(missing.status, 2, missing.stderr + missing.stdout);
});
