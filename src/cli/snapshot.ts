// `kvorumctl snapshot status FILE [-w simple|table|json|fields]`: what `etcdctl snapshot status`
// prints about an etcd (or Kvorum) snapshot file, computed by Kvorum's own bbolt reader.
// `kvorumctl snapshot restore FILE --name --data-dir --initial-cluster ...`: such a file turned
// into a Kvorum data dir (src/server/snapshot-restore.ts), with etcdctl's flags and defaults.

import { readFile, stat } from "node:fs/promises";
import type { Command } from "commander";
import { formatSnapshotStatus, snapshotStatus } from "../bbolt/status.js";
import { restoreSnapshot, type RestoreOptions } from "../server/snapshot-restore.js";

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
  snapshot
    .command("restore")
    .description("restore an etcd or Kvorum snapshot file into a new Kvorum data dir")
    .argument("<file>", "snapshot file (bbolt, normally with the trailing SHA-256)")
    .option("--name <name>", "human-readable name for this member", "default")
    .option(
      "--data-dir <dir>",
      "path to the data directory (default: <name>.kvorum, where kvorum looks by default)",
    )
    .option("--initial-cluster <list>", "initial cluster configuration for restore bootstrap")
    .option("--initial-cluster-token <token>", "initial cluster token", "etcd-cluster")
    .option(
      "--initial-advertise-peer-urls <urls>",
      "list of this member's peer URLs to advertise to the rest of the cluster",
      "http://localhost:2380",
    )
    .option(
      "--skip-hash-check",
      "ignore snapshot integrity hash value (required if copied from data directory)",
      false,
    )
    .action(async (file: string, o: Record<string, string | boolean | undefined>) => {
      const name = o.name as string;
      const opts: RestoreOptions = {
        snapshotPath: file,
        name,
        initialCluster: (o.initialCluster as string | undefined) ?? `${name}=http://localhost:2380`,
        initialClusterToken: o.initialClusterToken as string,
        initialAdvertisePeerUrls: o.initialAdvertisePeerUrls as string,
        skipHashCheck: o.skipHashCheck === true,
        ...(typeof o.dataDir === "string" ? { dataDir: o.dataDir } : {}),
      };
      try {
        const r = await restoreSnapshot(opts);
        process.stdout.write(
          `restored snapshot ${file} into ${r.dataDir}: member ${r.memberId.toString(16)} of cluster ` +
            `${r.clusterId.toString(16)}, revision ${r.revision} (compacted at ${r.compactRevision}), ` +
            `${r.keys} keys, ${r.leases} leases\n` +
            "start it with the same --name, --initial-cluster, --initial-cluster-token and " +
            "--initial-advertise-peer-urls\n",
        );
      } catch (e) {
        process.stderr.write(`Error: ${(e as Error).message}\n`);
        process.exitCode = EXIT_ERROR;
      }
    });
}
