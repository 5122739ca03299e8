#!/usr/bin/env node
// npm run chaos -- --members 3 --duration 60 --seed 7 --faults kill,pause,partition,leader-isolate,restart,membership
// Starts a cluster of kvorum processes, runs clients and faults, heals, checks, and reports. The
// last line is exactly: chaos: <ops> ops, <faults> faults, linearizable=<yes|no>, watch=<ok|violations>, lost=<n>
// Exit code 0 when every check passes, 1 otherwise.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { FAULT_KINDS, runChaos, type FaultKind } from "./run.js";
import { renderTimeline } from "./timeline.js";

function int(name: string, min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

function faultList(text: string): FaultKind[] {
  if (text === "none") return [];
  const list = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const f of list) {
    if (!(FAULT_KINDS as readonly string[]).includes(f)) {
      throw new InvalidArgumentError(`unknown fault "${f}" (choose from ${FAULT_KINDS.join(", ")}, or none)`);
    }
  }
  return list as FaultKind[];
}

const program = new Command()
  .name("chaos")
  .description(
    "Run a real Kvorum cluster under faults with concurrent clients, then check linearizability and watches.",
  )
  .option("--members <n>", "cluster size (3 or 5)", int("--members", 1, 9), 3)
  .option("--duration <seconds>", "how long clients and faults run", int("--duration", 1, 86_400), 60)
  .option(
    "--seed <n>",
    "seed for every random choice (printed; replays the same choices)",
    int("--seed", 0, 2 ** 31),
    Math.floor(Math.random() * 1_000_000),
  )
  .option("--faults <list>", `comma-separated: ${FAULT_KINDS.join(",")} (or none)`, faultList, [
    ...FAULT_KINDS,
  ])
  .option("--out <file>", "where to write the HTML timeline", "")
  .option("--keep-data", "keep the members' data dirs", false)
  .showHelpAfterError();

program.parse(process.argv);
const o = program.opts<{
  members: number;
  duration: number;
  seed: number;
  faults: FaultKind[];
  out: string;
  keepData: boolean;
}>();

const started = Date.now();
const bar = setInterval(() => {
  const elapsed = Math.round((Date.now() - started) / 1000);
  const done = Math.min(1, elapsed / o.duration);
  const filled = Math.round(done * 30);
  process.stderr.write(
    `\r[${"#".repeat(filled)}${".".repeat(30 - filled)}] ${Math.min(elapsed, o.duration)}/${o.duration} s of faults and clients`,
  );
}, 1000);
bar.unref();

const result = await runChaos({
  members: o.members,
  durationSec: o.duration,
  seed: o.seed,
  faults: o.faults,
  keepData: o.keepData,
  log: (line) => process.stderr.write(`\n${line}\n`),
});
clearInterval(bar);
process.stderr.write("\n");

const lines: string[] = [];
lines.push(
  `seed ${o.seed} (replay: npm run chaos -- --members ${o.members} --duration ${o.duration} --seed ${o.seed} --faults ${o.faults.join(",") || "none"})`,
);
lines.push(
  `run ${(result.durationMs / 1000).toFixed(1)} s, ${result.ops} operations, ${result.watchEvents} watch events`,
);
for (const f of result.faults)
  lines.push(
    `fault at ${(f.start / 1000).toFixed(1)}-${(f.end / 1000).toFixed(1)} s: ${f.kind} ${f.target}: ${f.detail}`,
  );
if (result.undecidedKeys > 0)
  lines.push(`linearizability: ${result.undecidedKeys} key(s) undecided within the search budget`);
lines.push(
  `checks: register model per key ${result.undecidedKeys > 0 ? `(${result.undecidedKeys} key(s) undecided)` : "done"}; whole store with revisions: ${result.storeModel} (${Math.round(result.storeModelMs)} ms)`,
);
lines.push(...result.violationText);
for (const v of result.watchViolations.slice(0, 50)) lines.push(`watch: ${v}`);
if (result.watchViolations.length > 50) lines.push(`watch: ... ${result.watchViolations.length - 50} more`);
for (const l of result.lost.slice(0, 50))
  lines.push(`lost: ${l.key} = ${String(l.value)} acknowledged at revision ${l.revision}`);
const out = resolve(o.out !== "" ? o.out : `chaos-${o.seed}.html`);
const linearizable = result.linearizable && result.undecidedKeys === 0;
const last = `chaos: ${result.ops} ops, ${result.faults.length} faults, linearizable=${linearizable ? "yes" : "no"}, watch=${result.watchViolations.length === 0 ? "ok" : "violations"}, lost=${result.lost.length}`;
writeFileSync(out, renderTimeline(result, `Kvorum chaos run, seed ${o.seed}`, [...lines, last]));
lines.push(`timeline: ${out}`);
for (const l of lines) console.log(l);
console.log(last);
process.exit(linearizable && result.watchViolations.length === 0 && result.lost.length === 0 ? 0 : 1);
