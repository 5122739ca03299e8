// `kvorumctl check wal --data-dir D`: report a member's WAL (segments, records, index range, hard
// state, snapshot) and any damage with file and byte offset. Exit code 0 clean, 1 damaged,
// 2 unusable directory.

import type { Command } from "commander";
import { checkWal, UnusableDataDirError } from "../storage/wal-check.js";

export const EXIT_CLEAN = 0;
export const EXIT_DAMAGED = 1;
export const EXIT_UNUSABLE = 2;

/** Run the check and print the report line by line; returns the exit code. */
export async function runCheckWal(dataDir: string, print: (line: string) => void): Promise<number> {
  let report;
  try {
    report = await checkWal(dataDir);
  } catch (err) {
    if (err instanceof UnusableDataDirError || (err as NodeJS.ErrnoException).code !== undefined) {
      print(`error: ${(err as Error).message}`);
      return EXIT_UNUSABLE;
    }
    throw err;
  }
  print(`wal: ${report.walDir}`);
  print(`segments: ${report.segments.length}`);
  for (const s of report.segments) {
    print(`  ${s.file.name}  records ${s.records}  used ${s.dataEnd} of ${s.fileSize} bytes`);
  }
  print(`records: ${report.records}`);
  if (report.lastIndex >= report.firstIndex) print(`entries: ${report.firstIndex} .. ${report.lastIndex}`);
  else print(`entries: none (last index ${report.lastIndex})`);
  const hs = report.hardState;
  print(`hard state: term ${hs.term}, vote ${hs.vote === "" ? "none" : hs.vote}, commit ${hs.commit}`);
  print(
    `snapshot: ${report.snapshot ? `index ${report.snapshot.index}, term ${report.snapshot.term}` : "none"}`,
  );
  const d = report.damage;
  if (!d) {
    print("damage: none");
    return EXIT_CLEAN;
  }
  if (d.kind === "torn") {
    print(
      `damage: torn final record in ${d.file} at offset ${d.offset} (${d.reason}); the next start truncates it`,
    );
  } else if (d.kind === "corrupt") {
    print(`damage: corrupt data in ${d.file} at offset ${d.offset}: ${d.reason}`);
  } else {
    print(`damage: ${d.reason}`);
  }
  return EXIT_DAMAGED;
}

/** Register `check wal` on the program (creating the `check` group if nobody has yet). */
export function registerCheckWal(program: Command): void {
  const check =
    program.commands.find((c) => c.name() === "check") ??
    program.command("check").description("check a member's data or the cluster");
  check
    .command("wal")
    .description("verify a member's write-ahead log and report damage with file and offset")
    .requiredOption("--data-dir <dir>", "the member's data directory")
    .action(async (opts: { dataDir: string }) => {
      process.exitCode = await runCheckWal(opts.dataDir, (line) => console.log(line));
    });
}
