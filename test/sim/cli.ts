// The simulator's command line: run many seeds (CI) or replay one seed with a readable trace.
//   node dist/test/sim/cli.js --seeds 300        seeds 1..300 (or --from N for N..N+299)
//   node dist/test/sim/cli.js --seed 42          replay seed 42, one line per event on stdout
// Ends with exactly one summary line on stdout; exit code 1 when any violation was found.

import { Command, InvalidArgumentError } from "commander";
import type { UnsafeRuleBreak } from "../../src/raft/api.js";
import { rawNodeBinding } from "./raft-binding.js";
import { runSeed, type SeedResult } from "./scenario.js";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function memberCount(value: string): number {
  const n = Number(value);
  if (n !== 3 && n !== 5 && n !== 7) throw new InvalidArgumentError("expected 3, 5 or 7");
  return n;
}

interface CliOptions {
  seeds?: number;
  from: number;
  seed?: number;
  members?: number;
  steps: number;
  unsafe?: UnsafeRuleBreak[];
  leaseReads?: boolean;
}

const RULE_BREAKS: UnsafeRuleBreak[] = [
  "commit-previous-term-by-counting",
  "grant-two-votes-per-term",
  "apply-before-commit",
  "read-index-without-quorum-check",
];

function ruleBreak(value: string, previous: UnsafeRuleBreak[] = []): UnsafeRuleBreak[] {
  const rule = RULE_BREAKS.find((r) => r === value);
  if (rule === undefined) throw new InvalidArgumentError(`expected one of ${RULE_BREAKS.join(", ")}`);
  return [...previous, rule];
}

const DEFAULT_STEPS = 15000;

const program = new Command()
  .name("sim")
  .description("Deterministic Raft cluster simulator with fault injection and safety checkers")
  .option("--seeds <n>", "run seeds from..from+n-1", positiveInt)
  .option("--from <n>", "first seed for --seeds", positiveInt, 1)
  .option("--seed <n>", "replay one seed with a line-per-event trace on stdout", positiveInt)
  .option("--members <n>", "cluster size 3|5|7 (default: the seed chooses)", memberCount)
  .option("--steps <n>", "events in the fault phase of each seed", positiveInt, DEFAULT_STEPS)
  .option(
    "--unsafe <rule>",
    "break a Raft rule on purpose (repeatable) to watch the checkers bite",
    ruleBreak,
  )
  .option("--lease-reads", "serve ReadIndex from the leader lease instead of a heartbeat round")
  .parse();

const opts = program.opts<CliOptions>();
const binding = rawNodeBinding;
const started = Date.now();
const results: SeedResult[] = [];

function replayCommand(seed: number): string {
  const extra = [
    opts.members !== undefined ? ` --members ${opts.members}` : "",
    opts.steps !== DEFAULT_STEPS ? ` --steps ${opts.steps}` : "",
    ...(opts.unsafe ?? []).map((r) => ` --unsafe ${r}`),
    opts.leaseReads === true ? " --lease-reads" : "",
  ].join("");
  return `npm run sim -- --seed ${seed}${extra}`;
}

function reportFailure(r: SeedResult): void {
  process.stderr.write(`seed ${r.seed} (${r.members} members): ${r.violationCount} violation(s)\n`);
  for (const v of r.violations) process.stderr.write(`  [${v.kind}] at ${v.time} ms: ${v.detail}\n`);
  process.stderr.write(`  replay: ${replayCommand(r.seed)}\n`);
}

if (opts.seed !== undefined) {
  const r = runSeed({
    seed: opts.seed,
    members: opts.members,
    steps: opts.steps,
    binding,
    unsafeRuleBreaks: opts.unsafe,
    leaseReads: opts.leaseReads,
    trace: (line) => process.stdout.write(`${line}\n`),
  });
  results.push(r);
  if (r.violationCount > 0) reportFailure(r);
} else {
  const n = opts.seeds ?? 20;
  for (let seed = opts.from; seed < opts.from + n; seed++) {
    const r = runSeed({
      seed,
      members: opts.members,
      steps: opts.steps,
      binding,
      unsafeRuleBreaks: opts.unsafe,
      leaseReads: opts.leaseReads,
    });
    results.push(r);
    if (r.violationCount > 0) reportFailure(r);
  }
}

const steps = results.reduce((s, r) => s + r.steps, 0);
const violations = results.reduce((s, r) => s + r.violationCount, 0);
const totals = new Map<string, number>();
for (const r of results) {
  for (const [k, v] of Object.entries(r.stats)) totals.set(k, (totals.get(k) ?? 0) + v);
}
process.stderr.write(
  `(${((Date.now() - started) / 1000).toFixed(1)} s wall; ${[...totals].map(([k, v]) => `${k} ${v}`).join(", ")})\n`,
);
process.stdout.write(`sim: ${results.length} seeds, ${steps} steps, ${violations} violations\n`);
process.exitCode = violations > 0 ? 1 : 0;
