// Read-only inspection of a data dir's WAL for `kvorumctl check wal`: what recovery would find
// (segments, records, index range, hard state, latest snapshot) and any damage, without repairing
// anything.

import { access } from "node:fs/promises";
import { StorageError, WalCorruptionError } from "./errors.js";
import { LogReplayer } from "./log-replay.js";
import { chooseSnapshot, rebuildLog } from "./recovery.js";
import { storagePaths } from "./raft-log-store.js";
import { listSegments, scanWal, type ScannedSegment } from "./wal-scan.js";
import type { LogPosition } from "./wal-record.js";
import type { HardState } from "../raft/types.js";

export type WalDamage =
  | { kind: "torn"; file: string; offset: number; reason: string }
  | { kind: "corrupt"; file: string; offset: number; reason: string }
  | { kind: "inconsistent"; reason: string };

export interface WalCheckReport {
  walDir: string;
  segments: ScannedSegment[];
  records: number;
  /** Range of the log recovery would rebuild (first > last when empty). */
  firstIndex: number;
  lastIndex: number;
  hardState: HardState;
  snapshot: LogPosition | null;
  damage: WalDamage | null;
}

/** Thrown when the directory holds no WAL at all. */
export class UnusableDataDirError extends StorageError {}

export async function checkWal(dataDir: string): Promise<WalCheckReport> {
  const { walDir, snapDir } = storagePaths(dataDir);
  try {
    await access(walDir);
  } catch {
    throw new UnusableDataDirError(`no WAL directory at ${walDir}`);
  }
  const { segments } = await listSegments(walDir);
  if (segments.length === 0) throw new UnusableDataDirError(`no WAL segments in ${walDir}`);
  const replay = new LogReplayer();
  const report: WalCheckReport = {
    walDir,
    segments: [],
    records: 0,
    firstIndex: 1,
    lastIndex: 0,
    hardState: replay.hardState,
    snapshot: null,
    damage: null,
  };
  try {
    const scan = await scanWal(segments, (rec, at) => replay.apply(rec, at));
    report.segments = scan.segments;
    if (scan.torn)
      report.damage = {
        kind: "torn",
        file: scan.torn.path,
        offset: scan.torn.offset,
        reason: scan.torn.reason,
      };
    const snap = await chooseSnapshot(snapDir, replay, { warn: () => undefined });
    const log = rebuildLog(scan.segments[0]!.header.bootstrap, snap, replay.entries, replay.sentinel);
    report.firstIndex = log.firstIndex();
    report.lastIndex = log.lastIndex();
    report.snapshot = snap ? { index: snap.metadata.index, term: snap.metadata.term } : null;
  } catch (err) {
    if (err instanceof WalCorruptionError) {
      report.damage = { kind: "corrupt", file: err.file, offset: err.offset, reason: err.reason };
    } else if (err instanceof StorageError) {
      report.damage = { kind: "inconsistent", reason: err.message };
    } else {
      throw err;
    }
  }
  report.records = replay.records;
  report.hardState = replay.hardState;
  return report;
}
