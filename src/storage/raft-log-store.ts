// The persistence port of the raft log: what raft reads (LogReader, synchronous, served from
// memory) plus the asynchronous writes the member makes for each Ready. Two implementations share
// one contract: MemoryRaftLogStore (in-memory twin for tests and the simulator) and
// DurableLogStore (the WAL and snapshot files under <data-dir>/member, recovered at open).

import { join } from "node:path";
import { StorageFailedError } from "./errors.js";
import { fsyncDir } from "./fs-util.js";
import { MemoryLogStorage } from "./memory-log-storage.js";
import { recover, type StorageLogger } from "./recovery.js";
import { pruneSnapshots, writeSnapshotFile } from "./snapshot-files.js";
import { Wal, type WalFaults } from "./wal.js";
import { RecordType, type WalRecord } from "./wal-record.js";
import type { ConfState, Entry, HardState, LogReader, Snapshot } from "../raft/types.js";

/** What one Ready asks to persist. */
export interface LogUpdate {
  hardState?: HardState;
  entries: readonly Entry[];
  snapshot?: Snapshot;
}

export interface RaftLogStore extends LogReader {
  /**
   * Persist a Ready's snapshot (replacing the log), entries (an entry at an existing index replaces
   * the suffix from there) and hard state. The reads above reflect the update at once; the promise
   * resolves when it is durable. (The durable store always syncs; `sync` is advisory.)
   */
  save(update: LogUpdate, sync: boolean): Promise<void>;
  /**
   * Record the application's snapshot at `index` (applied, so in the log), then discard entries
   * older than `index - catchUpEntries` (a tail kept for slow followers).
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot>;
  /** Discard entries up to and including `index` (at most the latest snapshot's index on disk). */
  compact(index: number): Promise<void>;
  close(): Promise<void>;
}

export interface LogStoreOptions {
  /** Entries kept behind a new snapshot for slow followers (default 5000). */
  catchUpEntries?: number;
}

export const DEFAULT_CATCH_UP_ENTRIES = 5000;

/** Delegates the synchronous reads to a MemoryLogStorage. */
abstract class MemoryBackedStore implements LogReader {
  protected readonly catchUpEntries: number;
  constructor(
    readonly log: MemoryLogStorage,
    opts: LogStoreOptions,
  ) {
    this.catchUpEntries = opts.catchUpEntries ?? DEFAULT_CATCH_UP_ENTRIES;
  }
  initialState(): { hardState: HardState; confState: ConfState } {
    return this.log.initialState();
  }
  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.log.entries(lo, hi, maxBytes);
  }
  term(index: number): number {
    return this.log.term(index);
  }
  firstIndex(): number {
    return this.log.firstIndex();
  }
  lastIndex(): number {
    return this.log.lastIndex();
  }
  snapshot(): Snapshot {
    return this.log.snapshot();
  }
  protected applyToMemory(u: LogUpdate): void {
    if (u.snapshot) this.log.applySnapshot(u.snapshot);
    this.log.append(u.entries);
    if (u.hardState) this.log.setHardState(u.hardState);
  }
  /** Where compaction after a snapshot at `index` stops, or 0 for "nothing to compact". */
  protected catchUpPoint(index: number): number {
    const to = index - this.catchUpEntries;
    return to > this.log.firstIndex() - 1 ? to : 0;
  }
}

/** The in-memory twin: same contract, nothing durable. */
export class MemoryRaftLogStore extends MemoryBackedStore implements RaftLogStore {
  constructor(bootstrap: ConfState = { voters: [], learners: [] }, opts: LogStoreOptions = {}) {
    super(new MemoryLogStorage(bootstrap), opts);
  }
  async save(update: LogUpdate, _sync: boolean): Promise<void> {
    this.applyToMemory(update);
  }
  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    const snap = this.log.createSnapshot(index, confState, data);
    const to = this.catchUpPoint(index);
    if (to > 0) this.log.compact(to);
    return snap;
  }
  async compact(index: number): Promise<void> {
    this.log.compact(index);
  }
  async close(): Promise<void> {}
}

export interface DurableLogStoreOptions extends LogStoreOptions {
  /** Membership for a brand-new data dir (ignored when the WAL exists). */
  bootstrap?: ConfState;
  /** WAL segment size in bytes (default 64 MiB). */
  segmentSize?: number;
  /** Snapshot files kept (default 5). */
  snapshotsToKeep?: number;
  logger?: StorageLogger;
  /** Tests only: simulated disk failures. */
  faults?: WalFaults;
  /** Told how long each WAL fdatasync took, in seconds (etcd_disk_wal_fsync_duration_seconds). */
  onWalSync?: (seconds: number) => void;
}

export function storagePaths(dataDir: string): { walDir: string; snapDir: string } {
  return { walDir: join(dataDir, "member", "wal"), snapDir: join(dataDir, "member", "snap") };
}

const consoleLogger: StorageLogger = { warn: (m) => console.warn(m) };

/** The durable raft log: a MemoryLogStorage view for raft plus the WAL and snapshot files. */
export class DurableLogStore extends MemoryBackedStore implements RaftLogStore {
  /** Pending snapshot-file writes that later WAL records must wait behind (keeps WAL order). */
  private gate: Promise<void> | null = null;
  private failure: StorageFailedError | null = null;
  private durableSnapshotIndex: number;
  private pruneChain: Promise<void> = Promise.resolve();

  private constructor(
    log: MemoryLogStorage,
    private readonly wal: Wal,
    private readonly snapDir: string,
    private readonly opts: DurableLogStoreOptions,
  ) {
    super(log, opts);
    this.durableSnapshotIndex = log.snapshot().metadata.index;
  }

  /** Open (recovering from disk) or create the storage under `dataDir`/member. */
  static async open(dataDir: string, opts: DurableLogStoreOptions = {}): Promise<DurableLogStore> {
    const { walDir, snapDir } = storagePaths(dataDir);
    const bootstrap = opts.bootstrap ?? { voters: [], learners: [] };
    const rec = await recover(walDir, snapDir, bootstrap, opts.logger ?? consoleLogger);
    const walOpts = {
      segmentSize: opts.segmentSize,
      faults: opts.faults,
      onSync: opts.onWalSync,
      logger: opts.logger ?? consoleLogger,
    };
    let wal: Wal;
    if (rec.tail) {
      wal = await Wal.resume(walDir, rec.tail, walOpts);
    } else {
      wal = await Wal.create(walDir, bootstrap, walOpts);
      // Make the freshly created directories themselves durable.
      await fsyncDir(join(dataDir, "member"));
      await fsyncDir(dataDir);
    }
    return new DurableLogStore(rec.memory, wal, snapDir, opts);
  }

  /** The error that stopped this storage, if any: the member must stop. */
  get failed(): StorageFailedError | null {
    return this.failure ?? this.wal.failed;
  }

  /** Number of live WAL segment files (for tests and metrics). */
  walSegmentCount(): number {
    return this.wal.segmentFiles().length;
  }

  save(update: LogUpdate, sync: boolean): Promise<void> {
    const failed = this.failed;
    if (failed) return Promise.reject(failed);
    if (!update.snapshot && !update.hardState && update.entries.length === 0) return Promise.resolve();
    try {
      this.applyToMemory(update);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const records: WalRecord[] = [];
    const snap = update.snapshot;
    if (snap)
      records.push({
        type: RecordType.SnapshotMarker,
        marker: { index: snap.metadata.index, term: snap.metadata.term, resetsLog: true },
      });
    for (const entry of update.entries) records.push({ type: RecordType.Entry, entry });
    if (update.hardState) records.push({ type: RecordType.HardState, hardState: { ...update.hardState } });
    // Raft's MustSync is false only when nothing but the commit index changed: no fdatasync.
    if (!snap) return this.ordered(records, undefined, sync || update.entries.length > 0);
    return this.ordered(records, () => this.writeSnapshot(snap)).then(() => this.snapshotDurable(snap));
  }

  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    const failed = this.failed;
    if (failed) throw failed;
    const snap = this.log.createSnapshot(index, confState, data);
    const marker: WalRecord = {
      type: RecordType.SnapshotMarker,
      marker: { index, term: snap.metadata.term, resetsLog: false },
    };
    // The member's own snapshot does not reset the log, so its marker may land after entries
    // saved meanwhile: saves are not held up while a (possibly large) snapshot file is written.
    await this.writeSnapshot(snap);
    await this.ordered([marker]);
    await this.snapshotDurable(snap);
    const to = this.catchUpPoint(index);
    if (to > 0) await this.compact(to);
    return snap;
  }

  async compact(index: number): Promise<void> {
    this.log.compact(index);
    await this.wal.release(Math.min(index, this.durableSnapshotIndex));
  }

  async close(): Promise<void> {
    while (this.gate) await this.gate;
    await this.pruneChain;
    await this.wal.close();
  }

  private async writeSnapshot(snap: Snapshot): Promise<void> {
    try {
      await writeSnapshotFile(this.snapDir, snap);
    } catch (err) {
      this.failure ??= new StorageFailedError(`write of snapshot ${snap.metadata.index}`, err);
      throw this.failure;
    }
  }

  /** The snapshot's marker is durable: segments it covers may go, old snapshot files too. */
  private snapshotDurable(snap: Snapshot): Promise<void> {
    const index = snap.metadata.index;
    this.durableSnapshotIndex = Math.max(this.durableSnapshotIndex, index);
    const keep = Math.max(1, this.opts.snapshotsToKeep ?? 5);
    // Pruning is housekeeping: a failure is reported, not turned into a failed save.
    const run = this.pruneChain
      .then(() => pruneSnapshots(this.snapDir, keep, this.durableSnapshotIndex))
      .then(
        () => undefined,
        (err: unknown) =>
          (this.opts.logger ?? consoleLogger).warn(`snap: pruning old snapshots failed: ${String(err)}`),
      );
    this.pruneChain = run;
    return run;
  }

  /**
   * Append records to the WAL in call order. With `before` (a snapshot file write), the records
   * are queued only after it finishes, and so are the records of every later call.
   */
  private ordered(records: WalRecord[], before?: () => Promise<void>, sync = true): Promise<void> {
    if (!before && !this.gate) return this.wal.append(records, { sync });
    const gate = (this.gate ?? Promise.resolve()).then(() => before?.());
    const done = gate.then(() => {
      const failed = this.failed;
      return failed ? Promise.reject(failed) : this.wal.append(records, { sync });
    });
    const next = gate.then(
      () => undefined,
      () => undefined,
    );
    this.gate = next;
    void next.then(() => {
      if (this.gate === next) this.gate = null;
    });
    return done;
  }
}
