// Crash test: a child process appends to the durable store and reports each acknowledged index;
// the parent kills it with SIGKILL at random moments, reopens the data dir and checks that every
// acknowledged entry is present and intact. Usage: npm run crash -- --cycles N [--seed S]
// Ends with exactly one line: "crash: <cycles> cycles, <acknowledged> acknowledged, <lost> lost".

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { DurableLogStore } from "../../src/storage/raft-log-store.js";
import { CRASH_SEGMENT_SIZE, entryPayload, prng, sameBytes, snapshotPayload } from "./workload.js";

const opts = new Command()
  .name("crash")
  .option("--cycles <n>", "kill/restart cycles", Number, 20)
  .option("--seed <n>", "random seed (default: time based)", Number)
  .option("--min-ms <n>", "shortest run before the kill", Number, 80)
  .option("--max-ms <n>", "longest run before the kill", Number, 500)
  .option("--data-dir <dir>", "data dir to use (default: a temp dir, removed afterwards)")
  .parse(process.argv)
  .opts<{ cycles: number; seed?: number; minMs: number; maxMs: number; dataDir?: string }>();

const seed = opts.seed ?? Date.now() % 2 ** 31;
console.log(`crash: seed ${seed} (replay with --seed ${seed})`);
const random = prng(seed);
const here = fileURLToPath(import.meta.url);
const childScript = join(dirname(here), here.endsWith(".ts") ? "child.ts" : "child.js");
const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "kvorum-crash-")));

/** Term each acknowledged index was written with (the latest acknowledgement wins). */
const ackedTerm = new Map<number, number>();
let acknowledged = 0;
/** Acknowledged writes ("index@term") found missing or damaged by any verification. */
const lostWrites = new Set<string>();
let repairs = 0;

interface ChildRun {
  acks: number;
  exitedEarly: string | null;
}

async function runChild(cycle: number): Promise<ChildRun> {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      childScript,
      "--data-dir",
      dataDir,
      "--term",
      String(cycle + 1),
      "--seed",
      String(Math.floor(random() * 2 ** 31)),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let acks = 0;
  let prevAck = 0;
  let killed = false;
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const lines = createInterface({ input: child.stdout });
  const closed = new Promise<void>((resolve) => lines.once("close", () => resolve()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  const killAfter = opts.minMs + random() * (opts.maxMs - opts.minMs);
  // A child that never gets ready (hung recovery) is killed too, and counts as a failure.
  const hung = setTimeout(() => child.kill("SIGKILL"), 30_000);
  lines.on("line", (line) => {
    const [kind, a, b] = line.split(" ");
    if (kind === "ready") {
      clearTimeout(hung);
      prevAck = Number(a);
      setTimeout(() => {
        killed = true;
        child.kill("SIGKILL");
      }, killAfter);
    } else if (kind === "ack") {
      const last = Number(a);
      const term = Number(b);
      // Saves are acknowledged in order, so this ack covers everything since the previous one.
      for (let i = prevAck + 1; i <= last; i++) {
        ackedTerm.set(i, term);
        acknowledged++;
        acks++;
      }
      prevAck = Math.max(prevAck, last);
    }
  });
  const code = await exited;
  clearTimeout(hung);
  await closed;
  if (stderr.includes("truncating torn")) repairs++;
  return { acks, exitedEarly: killed ? null : `child exited with ${code}: ${stderr.trim()}` };
}

/** Reopen the data dir and record acknowledged entries that are missing or different. */
async function verify(): Promise<number> {
  const before = lostWrites.size;
  const lose = (index: number, term: number): void => void lostWrites.add(`${index}@${term}`);
  let store: DurableLogStore;
  try {
    store = await DurableLogStore.open(dataDir, {
      segmentSize: CRASH_SEGMENT_SIZE,
      logger: { warn: () => undefined },
    });
  } catch (err) {
    console.error(`crash: recovery failed: ${String(err)}`);
    for (const [index, term] of ackedTerm) lose(index, term);
    return lostWrites.size - before;
  }
  const snap = store.snapshot();
  if (
    snap.metadata.index > 0 &&
    !sameBytes(snap.data, snapshotPayload(snap.metadata.index, snap.metadata.term))
  ) {
    console.error(`crash: snapshot at ${snap.metadata.index} has wrong content`);
    lose(snap.metadata.index, snap.metadata.term);
  }
  const first = store.firstIndex();
  const last = store.lastIndex();
  for (const [index, term] of ackedTerm) {
    if (index < first) {
      if (index > snap.metadata.index) lose(index, term);
      continue;
    }
    if (index > last) {
      lose(index, term);
      continue;
    }
    const e = store.entries(index, index + 1)[0]!;
    if (e.term !== term || !sameBytes(e.data, entryPayload(index, term))) lose(index, term);
  }
  await store.close();
  return lostWrites.size - before;
}

let failure: string | null = null;
try {
  for (let cycle = 0; cycle < opts.cycles && !failure; cycle++) {
    const run = await runChild(cycle);
    if (run.exitedEarly) failure = run.exitedEarly;
    let bad: number;
    try {
      bad = await verify();
    } catch (err) {
      failure = `verification failed: ${String(err)}`;
      break;
    }
    console.error(`crash: cycle ${cycle + 1}: ${run.acks} acknowledged, ${bad} newly lost or damaged`);
  }
} finally {
  if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
}
if (failure) console.error(`crash: ${failure}`);
if (repairs > 0) console.error(`crash: ${repairs} restarts repaired a torn final record`);
const lost = lostWrites.size;
console.log(`crash: ${opts.cycles} cycles, ${acknowledged} acknowledged, ${lost} lost`);
process.exitCode = lost > 0 || failure ? 1 : 0;
