// Installing a leader's snapshot on a member that is too far behind for log entries: the backend
// copy arrives over the peer port (data, then its SHA-256 as the last 32 bytes, as the snapshot
// stream writes it), is checked and stored next to the backend, and replaces the backend when
// raft hands the snapshot out. The replacement is made crash-safe with a marker file:
//   1. the data is written to member/incoming-snapshot.db and fsynced;
//   2. member/snapshot-install.json records the snapshot's index, term and membership;
//   3. the backend is closed, the file renamed over db/data.mdb, the directory fsynced;
//   4. the raft log records the snapshot (WAL marker), then the marker file is removed.
// A restart between 2 and 4 finishes the steps (recoverSnapshotInstall) before anything opens.
import { observe, timed } from "../common/etcd-counts.js";
import { createHash } from "node:crypto";
import { existsSync, promises as fs, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ConfState, SnapshotMetadata } from "../raft/index.js";
import type { RaftLogStore } from "../storage/index.js";
import { dataDirLayout } from "./data-dir.js";

const CHECKSUM_BYTES = 32;

export class SnapshotDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotDataError";
  }
}

export interface ReceivedSnapshot {
  index: number;
  /** On disk (LMDB backend): the stored file. In memory: the bytes. */
  file?: string;
  bytes?: Uint8Array;
  size: number;
}

function paths(dataDir: string) {
  const layout = dataDirLayout(dataDir);
  return {
    incoming: join(layout.member, "incoming-snapshot.db"),
    marker: join(layout.member, "snapshot-install.json"),
    dataFile: join(layout.db, "data.mdb"),
    lockFile: join(layout.db, "lock.mdb"),
    dbDir: layout.db,
  };
}

/** Reads the data stream, checks its trailing SHA-256, and stores it (file or memory). */
export async function storeSnapshotData(
  index: number,
  data: AsyncIterable<Uint8Array>,
  dataDir: string | undefined,
): Promise<ReceivedSnapshot> {
  const started = performance.now();
  const hash = createHash("sha256");
  let tail: Buffer = Buffer.alloc(0);
  let size = 0;
  const kept: Buffer[] = [];
  const file = dataDir !== undefined ? paths(dataDir).incoming : undefined;
  const handle = file !== undefined ? await fs.open(file, "w", 0o600) : undefined;
  try {
    for await (const chunk of data) {
      // Hold back the last 32 bytes seen so far: they may be the checksum.
      const all = Buffer.concat([tail, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)]);
      const body = all.subarray(0, Math.max(0, all.length - CHECKSUM_BYTES));
      tail = Buffer.from(all.subarray(body.length));
      if (body.length === 0) continue;
      hash.update(body);
      size += body.length;
      if (handle !== undefined) await handle.write(body);
      else kept.push(Buffer.from(body));
    }
    if (tail.length !== CHECKSUM_BYTES)
      throw new SnapshotDataError("snapshot data ended before its checksum");
    if (!hash.digest().equals(tail))
      throw new SnapshotDataError("snapshot data does not match its SHA-256 checksum");
    if (handle !== undefined) await timed(observe.snapDbFsyncSeconds, () => handle.sync());
  } catch (err) {
    await handle?.close();
    if (file !== undefined) rmSync(file, { force: true });
    throw err;
  }
  await handle?.close();
  observe.snapDbSaveSeconds((performance.now() - started) / 1000);
  return file !== undefined ? { index, file, size } : { index, bytes: Buffer.concat(kept), size };
}

interface InstallMarker {
  index: number;
  term: number;
  confState: ConfState;
}

/** Step 2: the snapshot is about to replace the backend. */
export async function writeInstallMarker(dataDir: string, metadata: SnapshotMetadata): Promise<void> {
  const p = paths(dataDir);
  const marker: InstallMarker = { index: metadata.index, term: metadata.term, confState: metadata.confState };
  const handle = await fs.open(`${p.marker}.tmp`, "w", 0o600);
  try {
    await handle.writeFile(JSON.stringify(marker));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(`${p.marker}.tmp`, p.marker);
}

/** Step 3 (the backend must be closed): the received file becomes the backend's data file. */
export async function swapInBackendFile(dataDir: string): Promise<void> {
  const p = paths(dataDir);
  if (!existsSync(p.incoming)) return;
  rmSync(p.lockFile, { force: true });
  renameSync(p.incoming, p.dataFile);
  const dir = await fs.open(p.dbDir, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Step 4, last part. */
export function removeInstallMarker(dataDir: string): void {
  rmSync(paths(dataDir).marker, { force: true });
}

/** Before the backend opens: finish a swap a crash interrupted. Returns the marker, if any. */
export async function recoverBackendSwap(dataDir: string): Promise<InstallMarker | undefined> {
  const p = paths(dataDir);
  if (!existsSync(p.marker)) {
    rmSync(p.incoming, { force: true }); // received but never installed: useless now
    return undefined;
  }
  const marker = JSON.parse(readFileSync(p.marker, "utf8")) as InstallMarker;
  await swapInBackendFile(dataDir);
  return marker;
}

/** After the raft log opens: make it record the installed snapshot, then drop the marker. */
export async function recoverLogSnapshot(
  dataDir: string,
  marker: InstallMarker | undefined,
  logStore: RaftLogStore,
): Promise<void> {
  if (marker === undefined) return;
  if (logStore.snapshot().metadata.index < marker.index) {
    await logStore.save(
      {
        snapshot: {
          metadata: { index: marker.index, term: marker.term, confState: marker.confState },
          data: new Uint8Array(0),
        },
        entries: [],
      },
      true,
    );
  }
  removeInstallMarker(dataDir);
}
