// The write-ahead log writer: appends records to preallocated segment files with group commit.
// Appends that arrive while a write+fdatasync is in flight queue up and go out together in the
// next write, followed by one fdatasync (small writes are synchronous, so an append costs one
// threadpool round trip: the fdatasync); each append's promise resolves once its records are
// durable. Segments rotate when full; every segment starts with its header, the latest snapshot
// marker and the latest hard state, so older segments can be released once a snapshot covers them.
// Any failed write or sync puts the WAL in a failed state: every later append rejects.

import { counts } from "../common/etcd-counts.js";
import fs from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { StorageFailedError } from "./errors.js";
import type { StorageLogger } from "./recovery.js";
import { fsyncDir, writeFully, writeFullySync, zeroFill } from "./fs-util.js";
import { MAX_WRITE_BYTES, segmentFileName, type SegmentFile } from "./wal-scan.js";
import { encodeRecords, recordSize, RecordType, type SnapshotMarker, type WalRecord } from "./wal-record.js";
import type { ConfState, HardState } from "../raft/types.js";

export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;

/**
 * Chunks smaller than this are written with a synchronous pwrite on the event-loop thread, larger
 * ones with an asynchronous pwrite. Every async fs call is a libuv threadpool round trip (futex
 * wake, eventfd write, event-loop wake: 50-100 us on a 2-vCPU VM), and an append already pays one
 * for its fdatasync. A synchronous write into the page cache of a preallocated, zero-filled
 * segment allocates no blocks; on that VM (ext4) it blocked the loop for about 10 us at a few
 * hundred bytes and 26 us at 256 KiB (p50; p99 about 0.2 ms), but 100 us at 1 MiB
 * (MAX_WRITE_BYTES), as long as the hop it saves. Chunks that big only come from large batches
 * under load, where one hop is shared by thousands of entries, so they keep the async write and
 * the event loop is never blocked for long copying them.
 */
export const SYNC_WRITE_LIMIT = 256 * 1024;

/**
 * Chunks up to this size are also fdatasync'd on the event-loop thread. A small chunk means few
 * writes are waiting, so the loop has little else to do during the sync, while the threadpool
 * round trip around an asynchronous fdatasync (futex wake of a pool thread, eventfd write, loop
 * wake) added 150-300 us to the sync of a one-client put on a 2-vCPU VM (p50 0.47-0.54 ms
 * inline against 0.67-0.86 ms through the pool, same runs alternating). Larger chunks come from
 * batches under load, where the loop has requests to read and answers to send meanwhile.
 */
export const INLINE_SYNC_LIMIT = 16 * 1024;
/**
 * A stalling disk sends small chunks' fdatasyncs to the threadpool for INLINE_SYNC_BACKOFF_MS,
 * so a slow device cannot freeze heartbeats, reads and health checks behind it. The disk counts
 * as stalling after one inline sync of INLINE_SYNC_STALL_MS or more, or after
 * INLINE_SYNC_SLOW_COUNT inline syncs slower than INLINE_SYNC_SLOW_MS within
 * INLINE_SYNC_SLOW_WINDOW_MS. A single 10-20 ms sync is the ordinary tail of a healthy
 * virtual disk (a few per minute under load on the 2-vCPU VM of BENCHMARKS.md); pausing on each
 * of those cost every write the threadpool round trip for the following 10 s.
 */
export const INLINE_SYNC_SLOW_MS = 10;
export const INLINE_SYNC_SLOW_COUNT = 3;
export const INLINE_SYNC_SLOW_WINDOW_MS = 1000;
export const INLINE_SYNC_STALL_MS = 100;
export const INLINE_SYNC_BACKOFF_MS = 10_000;
/** An fdatasync at least this slow is logged as a warning (etcd warns after 1 s too). */
export const SLOW_SYNC_WARN_MS = 1000;

/** Test hooks: throw from these to simulate a full disk or a failing device. */
export interface WalFaults {
  beforeWrite?(path: string, bytes: number): void;
  beforeSync?(path: string): void;
  beforePreallocate?(path: string): void;
}

export interface WalOptions {
  segmentSize?: number;
  faults?: WalFaults;
  /** Told how long each fdatasync of appended records took, in seconds (for metrics). */
  onSync?: (seconds: number) => void;
  /** Told about a slow fdatasync, and when small chunks stop being synced inline because of one. */
  logger?: StorageLogger;
  /** An fdatasync at least this slow is logged (default SLOW_SYNC_WARN_MS). */
  slowSyncWarnMs?: number;
}

/** Where an existing WAL ends, as found by recovery. */
export interface WalTail {
  segments: SegmentFile[];
  /** Offset in the last segment where the next record goes. */
  offset: number;
  crc: number;
  lastIndex: number;
  /** Term of the entry at lastIndex. */
  lastTerm: number;
  hardState: HardState;
  marker: SnapshotMarker | null;
  bootstrap: ConfState;
}

interface Pending {
  records: readonly WalRecord[];
  /** False for records that wait for the next synced append (see append). */
  sync: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface OpenSegment {
  file: SegmentFile;
  fh: FileHandle;
  offset: number;
  /** Offset where this segment's own records start (after header, marker and hard state). */
  bodyStart: number;
}

const NEXT_TMP = "next.wal.tmp";

export class Wal {
  private segments: SegmentFile[];
  private cur!: OpenSegment;
  private crc: number;
  private lastIndex: number;
  private lastTerm: number;
  private hardState: HardState;
  private marker: SnapshotMarker | null;
  private readonly bootstrap: ConfState;
  private readonly segmentSize: number;
  private readonly faults: WalFaults;
  private readonly onSync: ((seconds: number) => void) | undefined;
  private readonly logger: StorageLogger | undefined;
  private readonly slowSyncWarnMs: number;
  /** performance.now() before which fdatasyncs go to the threadpool (after the disk stalled). */
  private inlineSyncPausedUntil = 0;
  /** When the recent inline syncs slower than INLINE_SYNC_SLOW_MS started (within the window). */
  private slowInlineSyncs: number[] = [];
  private queue: Pending[] = [];
  private loop: Promise<void> | null = null;
  private failure: StorageFailedError | null = null;
  private closed = false;
  private next: Promise<FileHandle> | null = null;
  private releaseChain: Promise<void> = Promise.resolve();
  private op = "write";

  private constructor(
    private readonly dir: string,
    tail: WalTail,
    opts: WalOptions,
  ) {
    this.segments = [...tail.segments];
    this.crc = tail.crc;
    this.lastIndex = tail.lastIndex;
    this.lastTerm = tail.lastTerm;
    this.hardState = { ...tail.hardState };
    this.marker = tail.marker;
    this.bootstrap = tail.bootstrap;
    this.segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.faults = opts.faults ?? {};
    this.onSync = opts.onSync;
    this.logger = opts.logger;
    this.slowSyncWarnMs = opts.slowSyncWarnMs ?? SLOW_SYNC_WARN_MS;
  }

  /** Start a new WAL in an empty directory. */
  static async create(dir: string, bootstrap: ConfState, opts: WalOptions = {}): Promise<Wal> {
    const tail: WalTail = {
      segments: [],
      offset: 0,
      crc: 0,
      lastIndex: 0,
      lastTerm: 0,
      hardState: { term: 0, vote: "", commit: 0 },
      marker: null,
      bootstrap,
    };
    const wal = new Wal(dir, tail, opts);
    wal.cur = await wal.startSegment(0);
    return wal;
  }

  /** Continue an existing WAL after recovery (the torn tail, if any, already wiped). */
  static async resume(dir: string, tail: WalTail, opts: WalOptions = {}): Promise<Wal> {
    const wal = new Wal(dir, tail, opts);
    const file = tail.segments[tail.segments.length - 1]!;
    const fh = await open(file.path, "r+");
    wal.cur = { file, fh, offset: tail.offset, bodyStart: tail.offset };
    return wal;
  }

  /** Whether small chunks are fdatasync'd through the threadpool for now (a slow inline sync). */
  get inlineSyncPaused(): boolean {
    return performance.now() < this.inlineSyncPausedUntil;
  }

  /** The error that stopped the WAL, if any. */
  get failed(): StorageFailedError | null {
    return this.failure;
  }

  /** Live segment files, oldest first (the last one is being written). */
  segmentFiles(): readonly SegmentFile[] {
    return this.segments;
  }

  /**
   * Append records; resolves once they are written and fdatasync'd. With `sync: false` (raft's
   * MustSync false: only the commit index moved) the records are queued and resolve at once; they
   * go out, in order, with the next synced append or at close, and a crash may lose them.
   */
  append(records: readonly WalRecord[], opts: { sync?: boolean } = {}): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error("wal: closed"));
    if (opts.sync === false) {
      this.queue.push({ records, sync: false, resolve: () => undefined, reject: () => undefined });
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, sync: true, resolve, reject });
      if (!this.loop) this.loop = this.flushLoop();
    });
  }

  /**
   * Delete segments (oldest first, never the one being written) whose live entries are all at or
   * below `index`. Returns the number of segments removed.
   */
  release(index: number): Promise<number> {
    const run = this.releaseChain.then(async () => {
      let removed = 0;
      while (this.segments.length > 1 && this.segments[1]!.firstIndex - 1 <= index) {
        const old = this.segments[0]!;
        await unlink(old.path);
        await fsyncDir(this.dir);
        this.segments.shift();
        removed++;
      }
      return removed;
    });
    this.releaseChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Wait for queued appends, then close the files. */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.loop && this.queue.length > 0 && !this.failure) this.loop = this.flushLoop();
    while (this.loop) await this.loop;
    await this.releaseChain;
    await this.cur.fh.close();
    if (this.next) {
      const fh = await this.next.catch(() => null);
      if (fh) await fh.close();
      await unlink(join(this.dir, NEXT_TMP)).catch(() => undefined);
      this.next = null;
    }
  }

  private async flushLoop(): Promise<void> {
    try {
      // Unsynced records alone do not start a write: they wait for a synced one (or close).
      while (!this.failure && (this.queue.some((p) => p.sync) || (this.closed && this.queue.length > 0))) {
        const batch = this.queue;
        this.queue = [];
        await this.writeBatch(batch);
      }
    } finally {
      this.loop = null;
    }
  }

  /** Write a batch in chunks of at most MAX_WRITE_BYTES, one write and one fdatasync per chunk. */
  private async writeBatch(batch: Pending[]): Promise<void> {
    let chunk: WalRecord[] = [];
    let chunkBytes = 0;
    let done: Pending[] = [];
    try {
      for (const item of batch) {
        for (const rec of item.records) {
          const size = recordSize(rec);
          if (chunkBytes > 0 && chunkBytes + size > MAX_WRITE_BYTES) {
            await this.writeChunk(chunk);
            chunk = [];
            chunkBytes = 0;
            for (const d of done) d.resolve();
            done = [];
          }
          const end = this.cur.offset + chunkBytes;
          if (end + size > this.segmentSize && end > this.cur.bodyStart) {
            await this.writeChunk(chunk);
            chunk = [];
            chunkBytes = 0;
            for (const d of done) d.resolve();
            done = [];
            await this.rotate();
          }
          chunk.push(rec);
          chunkBytes += size;
          this.track(rec);
        }
        done.push(item);
      }
      await this.writeChunk(chunk);
      for (const d of done) d.resolve();
    } catch (err) {
      this.failure = new StorageFailedError(this.op, err);
      // Items already resolved ignore the rejection.
      const rejected = [...batch, ...this.queue];
      this.queue = [];
      for (const p of rejected) p.reject(this.failure);
    }
  }

  private track(rec: WalRecord): void {
    if (rec.type === RecordType.Entry) {
      this.lastIndex = rec.entry.index;
      this.lastTerm = rec.entry.term;
    } else if (rec.type === RecordType.HardState) this.hardState = { ...rec.hardState };
    else if (rec.type === RecordType.SnapshotMarker && rec.marker.index >= (this.marker?.index ?? 0)) {
      // The newest snapshot is copied into each new segment (markers can arrive out of order).
      this.marker = { ...rec.marker };
    }
  }

  private async writeChunk(records: readonly WalRecord[]): Promise<void> {
    if (records.length === 0) return;
    const { bytes, crc } = encodeRecords(records, this.crc);
    const path = this.cur.file.path;
    this.op = `write to ${path}`;
    this.faults.beforeWrite?.(path, bytes.length);
    // Only the fdatasync needs the threadpool for small chunks (see SYNC_WRITE_LIMIT). A throw
    // from either write fails the batch with this.op still naming the write.
    if (bytes.length < SYNC_WRITE_LIMIT) writeFullySync(this.cur.fh.fd, bytes, this.cur.offset);
    else await writeFully(this.cur.fh, bytes, this.cur.offset);
    this.op = `fdatasync of ${path}`;
    // The fault hook counts as part of the sync: tests use it to play a slow device.
    const started = performance.now();
    this.faults.beforeSync?.(path);
    if (bytes.length <= INLINE_SYNC_LIMIT && started >= this.inlineSyncPausedUntil) {
      fs.fdatasyncSync(this.cur.fh.fd);
      const took = performance.now() - started;
      if (took > INLINE_SYNC_SLOW_MS) this.recordSlowInline(started, took, path);
    } else {
      await this.cur.fh.datasync();
    }
    const took = performance.now() - started;
    this.onSync?.(took / 1000);
    if (took >= this.slowSyncWarnMs) {
      this.logger?.warn(
        `wal: slow fdatasync of ${path}: took ${took.toFixed(0)} ms (expected under ${this.slowSyncWarnMs} ms); ` +
          "the disk is too slow for this load, and every write waits for it",
      );
    }
    this.cur.offset += bytes.length;
    counts.walWriteBytes += bytes.length;
    this.crc = crc;
    // Zero-fill the next segment in the background once this one is half full.
    if (!this.next && this.cur.offset > this.segmentSize / 2) this.prepareNext();
  }

  /** Counts a slow inline sync; pauses inline syncing if the disk looks stalled (see INLINE_SYNC_SLOW_MS). */
  private recordSlowInline(started: number, took: number, path: string): void {
    this.slowInlineSyncs = this.slowInlineSyncs.filter((t) => t > started - INLINE_SYNC_SLOW_WINDOW_MS);
    this.slowInlineSyncs.push(started);
    if (took < INLINE_SYNC_STALL_MS && this.slowInlineSyncs.length < INLINE_SYNC_SLOW_COUNT) return;
    this.slowInlineSyncs = [];
    this.inlineSyncPausedUntil = started + took + INLINE_SYNC_BACKOFF_MS;
    this.logger?.warn(
      `wal: fdatasync of ${path} blocked the event loop for ${took.toFixed(1)} ms; ` +
        `small WAL writes are synced through the threadpool for the next ${INLINE_SYNC_BACKOFF_MS / 1000} s`,
    );
  }

  /** Close the full segment (already synced) and continue in a fresh one. */
  private async rotate(): Promise<void> {
    const old = this.cur;
    this.cur = await this.startSegment(old.file.seq + 1);
    this.op = `close of ${old.file.path}`;
    await old.fh.close();
  }

  /** Begin zero-filling the next segment's file (`next.wal.tmp`) in the background. */
  private prepareNext(): void {
    const path = join(this.dir, NEXT_TMP);
    const p = (async () => {
      this.faults.beforePreallocate?.(path);
      const fh = await open(path, "w+");
      try {
        await zeroFill(fh, this.segmentSize);
      } catch (err) {
        await fh.close();
        throw err;
      }
      return fh;
    })();
    p.catch(() => undefined); // observed when awaited at rotation
    this.next = p;
  }

  /**
   * Turn the prepared file into segment `seq`: write its header, the latest snapshot marker and
   * hard state, sync, then rename it into place and sync the directory.
   */
  private async startSegment(seq: number): Promise<OpenSegment> {
    this.op = "preallocation of a new segment";
    if (!this.next) this.prepareNext();
    const fh = await this.next!;
    this.next = null;
    const firstIndex = this.lastIndex + 1;
    const start: WalRecord[] = [
      {
        type: RecordType.SegmentHeader,
        header: { seq, prevCrc: this.crc, firstIndex, prevTerm: this.lastTerm, bootstrap: this.bootstrap },
      },
    ];
    if (this.marker)
      start.push({ type: RecordType.SnapshotMarker, marker: { ...this.marker, resetsLog: false } });
    const hs = this.hardState;
    if (hs.term !== 0 || hs.vote !== "" || hs.commit !== 0)
      start.push({ type: RecordType.HardState, hardState: hs });
    const { bytes, crc } = encodeRecords(start, this.crc);
    const name = segmentFileName(seq, firstIndex);
    const path = join(this.dir, name);
    this.op = `creation of ${path}`;
    this.faults.beforeWrite?.(path, bytes.length);
    await writeFully(fh, bytes, 0);
    this.faults.beforeSync?.(path);
    await fh.datasync();
    await rename(join(this.dir, NEXT_TMP), path);
    await fsyncDir(this.dir);
    this.crc = crc;
    const file: SegmentFile = { seq, firstIndex, name, path };
    this.segments.push(file);
    return { file, fh, offset: bytes.length, bodyStart: bytes.length };
  }
}
