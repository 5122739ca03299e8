// Recovery at start: scan the WAL (repairing a torn final write), pick the newest valid snapshot
// file that the WAL has a marker for, and rebuild the in-memory raft log from the snapshot plus the
// WAL entries after it. Anything that does not add up stops the start with a precise error.

import { mkdir, open, unlink } from "node:fs/promises";
import { SnapshotCorruptionError, StorageInconsistentError } from "./errors.js";
import { fsyncDir, zeroRange } from "./fs-util.js";
import { LogReplayer } from "./log-replay.js";
import { MemoryLogStorage } from "./memory-log-storage.js";
import { listSnapshots, readSnapshotFile, removeSnapshotTemporaries } from "./snapshot-files.js";
import { listSegments, scanWal, type TornTail } from "./wal-scan.js";
import type { WalTail } from "./wal.js";
import type { ConfState, Entry, Snapshot } from "../raft/types.js";
import type { LogPosition, SnapshotMarker } from "./wal-record.js";

export interface StorageLogger {
  warn(msg: string): void;
}

export interface Recovered {
  memory: MemoryLogStorage;
  /** Where to continue writing; null for a fresh (empty) WAL directory. */
  tail: WalTail | null;
  /** The torn write that was wiped, if any. */
  repaired?: TornTail;
}

export async function recover(
  walDir: string,
  snapDir: string,
  bootstrap: ConfState,
  logger: StorageLogger,
): Promise<Recovered> {
  await mkdir(walDir, { recursive: true });
  await mkdir(snapDir, { recursive: true });
  const { segments, temporaries } = await listSegments(walDir);
  for (const t of temporaries) await unlink(t);
  await removeSnapshotTemporaries(snapDir);
  const snapFiles = await listSnapshots(snapDir);
  if (segments.length === 0) {
    if (snapFiles.length > 0) {
      throw new StorageInconsistentError(
        `storage: ${walDir} has no WAL segments but ${snapDir} has snapshots`,
      );
    }
    return { memory: new MemoryLogStorage(bootstrap), tail: null };
  }

  const replay = new LogReplayer();
  const scan = await scanWal(segments, (rec, at) => replay.apply(rec, at));
  const last = scan.segments[scan.segments.length - 1]!;
  if (scan.torn) {
    const t = scan.torn;
    logger.warn(
      `wal: truncating torn final record in ${t.path} at offset ${t.offset} (${t.reason}); ` +
        `wiping ${t.garbageEnd - t.offset} bytes of an unfinished write`,
    );
    const fh = await open(t.path, "r+");
    try {
      await zeroRange(fh, t.offset, t.garbageEnd);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  const recoveredBootstrap = scan.segments[0]!.header.bootstrap;
  const snap = await chooseSnapshot(snapDir, replay, logger);
  const memory = rebuildLog(recoveredBootstrap, snap, replay.entries, replay.sentinel);
  memory.setHardState(replay.hardState);
  const newestMarker = replay.markers.reduce<SnapshotMarker | null>(
    (best, m) => (best && best.index > m.index ? best : m),
    null,
  );
  const tail: WalTail = {
    segments: scan.segments.map((s) => s.file),
    offset: last.dataEnd,
    crc: last.lastCrc,
    lastIndex: replay.lastEntry.index,
    lastTerm: replay.lastEntry.term,
    hardState: replay.hardState,
    marker: newestMarker,
    bootstrap: recoveredBootstrap,
  };
  await fsyncDir(walDir);
  return scan.torn ? { memory, tail, repaired: scan.torn } : { memory, tail };
}

/** The newest readable snapshot file that the WAL has a marker for. */
export async function chooseSnapshot(
  snapDir: string,
  replay: LogReplayer,
  logger: StorageLogger,
): Promise<Snapshot | null> {
  if (replay.markers.length === 0) return null;
  const known = new Set(replay.markers.map((m) => `${m.index}:${m.term}`));
  for (const f of await listSnapshots(snapDir)) {
    if (!known.has(`${f.index}:${f.term}`)) continue;
    try {
      return await readSnapshotFile(f);
    } catch (err) {
      if (!(err instanceof SnapshotCorruptionError)) throw err;
      logger.warn(`${err.message}; trying an older snapshot`);
    }
  }
  const newest = replay.markers[replay.markers.length - 1]!;
  throw new StorageInconsistentError(
    `storage: no valid snapshot file in ${snapDir} matches the WAL's snapshot markers ` +
      `(newest: index ${newest.index}, term ${newest.term})`,
  );
}

/**
 * Build the in-memory log from the chosen snapshot and the replayed (contiguous) entries. `base`
 * is the position right before the first entry, when the WAL tells it.
 */
export function rebuildLog(
  bootstrap: ConfState,
  snap: Snapshot | null,
  ents: readonly Entry[],
  base: LogPosition | null,
): MemoryLogStorage {
  const memory = new MemoryLogStorage(bootstrap);
  const first = ents[0]?.index ?? 0;
  const last = first + ents.length - 1;
  if (!snap) {
    if (ents.length > 0 && first !== 1) {
      throw new StorageInconsistentError(
        `storage: the WAL starts at entry ${first} but there is no snapshot`,
      );
    }
    memory.append(ents);
    return memory;
  }
  const { index, term, confState } = snap.metadata;
  if (ents.length > 0 && first <= index && index <= last) {
    const at = ents[index - first]!;
    if (at.term !== term) {
      throw new StorageInconsistentError(
        `storage: WAL entry ${index} has term ${at.term} but snapshot ${index} has term ${term}`,
      );
    }
    // Keep the entries before the snapshot that the WAL still holds (a tail for slow followers),
    // starting after the known base position, or after the first entry when the base is unknown.
    const start = base && base.index === first - 1 ? base : { index: first, term: ents[0]!.term };
    const rest = ents.slice(start.index + 1 - first);
    if (start.index === index) {
      memory.applySnapshot(snap);
      memory.append(rest);
      return memory;
    }
    memory.applySnapshot({
      metadata: { index: start.index, term: start.term, confState },
      data: new Uint8Array(),
    });
    memory.append(rest);
    memory.createSnapshot(index, confState, snap.data);
    return memory;
  }
  memory.applySnapshot(snap);
  const after = ents.length > 0 && last > index ? ents.slice(Math.max(0, index + 1 - first)) : [];
  if (after.length > 0 && after[0]!.index !== index + 1) {
    throw new StorageInconsistentError(
      `storage: the WAL is missing entries ${index + 1}..${after[0]!.index - 1} after snapshot ${index}`,
    );
  }
  memory.append(after);
  return memory;
}
