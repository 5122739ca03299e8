// `kvorumctl check data --data-dir D`: verify a stopped member's backend (the LMDB store under
// member/db): it opens, its MVCC, lease and meta tables are consistent with each other
// (server/maintenance/data-check.ts), and its applied index is not beyond the WAL's last index.
// Exit code 0 clean, 1 damaged, 2 unusable (no data dir, no backend, or a running member holds it).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type { Command } from "commander";
import { openLmdbBackend } from "../mvcc/lmdb-backend.js";
import type { Backend } from "../mvcc/backend.js";
import { dataDirLayout } from "../server/data-dir.js";
import { checkBackendData } from "../server/maintenance/data-check.js";
import { checkWal } from "../storage/wal-check.js";
import { EXIT_CLEAN, EXIT_DAMAGED, EXIT_UNUSABLE } from "./check-wal.js";

function lockHolder(lockFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lockFile, "utf8"), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM" ? pid : undefined;
  }
}

/** Run the check and print the report line by line; returns the exit code. */
export async function runCheckData(dataDir: string, print: (line: string) => void): Promise<number> {
  const layout = dataDirLayout(dataDir);
  if (!existsSync(layout.db) || !statSync(layout.db).isDirectory() || readdirSync(layout.db).length === 0) {
    print(`error: no backend at ${layout.db}`);
    return EXIT_UNUSABLE;
  }
  const holder = lockHolder(layout.lockFile);
  if (holder !== undefined) {
    print(`error: data dir ${dataDir} is in use by process ${holder}; stop the member first`);
    return EXIT_UNUSABLE;
  }
  print(`backend: ${layout.db}`);
  let backend: Backend;
  try {
    backend = openLmdbBackend(layout.db);
  } catch (err) {
    print(`damage: the LMDB store does not open: ${(err as Error).message}`);
    return EXIT_DAMAGED;
  }
  let report;
  try {
    report = checkBackendData(backend);
  } catch (err) {
    print(`damage: reading the LMDB store failed: ${(err as Error).message}`);
    return EXIT_DAMAGED;
  } finally {
    await backend.close().catch(() => {});
  }
  const problems = [...report.problems];
  print(`revision: ${report.currentRevision} (compacted at ${report.compactRevision})`);
  const r = report.rows;
  print(
    `rows: revisions ${r.revisions}, history ${r.history}, latest ${r.latest}, leases ${r.leases}, keysByLease ${r.keysByLease}`,
  );
  let walLast: number | undefined;
  try {
    walLast = (await checkWal(dataDir)).lastIndex;
  } catch (err) {
    problems.push(`the WAL cannot be read (${(err as Error).message})`);
  }
  print(
    `applied index: ${report.appliedIndex}${walLast !== undefined ? ` (WAL last index ${walLast})` : ""}`,
  );
  if (walLast !== undefined && report.appliedIndex > walLast) {
    problems.push(`the applied index ${report.appliedIndex} is beyond the WAL's last index ${walLast}`);
  }
  if (problems.length === 0) {
    print("damage: none");
    return EXIT_CLEAN;
  }
  print(`damage: ${problems.length + report.more} problem(s)`);
  for (const p of problems) print(`  ${p}`);
  if (report.more > 0) print(`  ... and ${report.more} more`);
  return EXIT_DAMAGED;
}

/** Register `check data` on the program (creating the `check` group if nobody has yet). */
export function registerCheckData(program: Command): void {
  const check =
    program.commands.find((c) => c.name() === "check") ??
    program.command("check").description("check a member's data or the cluster");
  check
    .command("data")
    .description("verify a stopped member's backend tables and report inconsistencies")
    .requiredOption("--data-dir <dir>", "the member's data directory")
    .action(async (opts: { dataDir: string }) => {
      process.exitCode = await runCheckData(opts.dataDir, (line) => console.log(line));
    });
}
