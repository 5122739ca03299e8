// `kvorumctl snapshot status FILE [-w simple|table|json|fields]`: what `etcdctl snapshot status`
// prints about an etcd (or Kvorum) snapshot file, computed by Kvorum's own bbolt reader.

import { readFile, stat } from "node:fs/promises";
import type { Command } from "commander";
import { formatSnapshotStatus, snapshotStatus } from "../bbolt/status.js";

/** etcdctl's exit codes for a failed command and for bad arguments. */
export const EXIT_ERROR = 1;
export const EXIT_BAD_ARGS = 128;

/** Runs `snapshot status`; prints to out/err and returns the exit code. */
export async function runSnapshotStatus(
  file: string,
  format: string,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  try {
    await stat(file);
    const status = snapshotStatus(await readFile(file));
    out(formatSnapshotStatus(status, format));
    return 0;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === "ENOENT" ? `stat ${file}: no such file or directory` : (e as Error).message;
    err(`Error: ${message}\n`);
    return EXIT_ERROR;
  }
}

export function registerSnapshot(program: Command): void {
  const snapshot =
    program.commands.find((c) => c.name() === "snapshot") ??
    program.command("snapshot").description("inspect and restore etcd-format snapshot files");
  snapshot
    .command("status")
    .description("print the hash, revision, total keys and size of a snapshot file, as etcdctl does")
    .argument("<file>", "snapshot file (bbolt, with or without the trailing SHA-256)")
    .option("-w, --write-out <format>", "output format: simple, table, json or fields", "simple")
    .action(async (file: string, opts: { writeOut: string }) => {
      process.exitCode = await runSnapshotStatus(
        file,
        opts.writeOut,
        (t) => process.stdout.write(t),
        (t) => process.stderr.write(t),
      );
    });
}
