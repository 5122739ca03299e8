// --auto-compaction-mode / --auto-compaction-retention, with etcd 3.4's schedule:
// - revision: every 5 minutes, compact to (current revision - retention) unless that is <= 0 or
//   the same as last time;
// - periodic: sample the revision every min(retention, 1 h) / 10; the first compaction comes
//   `retention` after start, then one every min(retention, 1 h), each to the oldest sample kept
//   (the revision about `retention` ago).
// The owner calls check() every `intervalMs` (only while leader, as etcd pauses followers' compactors).
import type { AutoCompactionMode } from "../config/value-parsers.js";

const HOUR_MS = 3_600_000;
export const REVISION_MODE_INTERVAL_MS = 5 * 60_000;

export interface AutoCompactorOptions {
  mode: AutoCompactionMode;
  /** Periodic: ms. Revision: revisions to keep. */
  retention: number;
  currentRevision: () => number;
  /** Proposes a compaction; "compacted" errors count as success. */
  compact: (revision: number) => Promise<unknown>;
  now: () => number;
}

export class AutoCompactor {
  readonly intervalMs: number;
  private readonly samples: number[] = [];
  private readonly maxSamples: number;
  private lastSuccess: number;
  private waitMs: number;
  private prevRevision = 0;
  private busy = false;

  constructor(private readonly opts: AutoCompactorOptions) {
    if (opts.mode === "revision") {
      this.intervalMs = REVISION_MODE_INTERVAL_MS;
      this.maxSamples = 0;
    } else {
      this.intervalMs = Math.min(opts.retention, HOUR_MS) / 10;
      this.maxSamples = Math.floor(opts.retention / this.intervalMs) + 1;
    }
    this.lastSuccess = opts.now();
    this.waitMs = opts.retention;
    if (opts.mode === "periodic") this.samples.push(opts.currentRevision());
  }

  /** One timer step; resolves when any compaction it started has finished. */
  async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (this.opts.mode === "revision") await this.checkRevision();
      else await this.checkPeriodic();
    } finally {
      this.busy = false;
    }
  }

  private async checkRevision(): Promise<void> {
    const rev = this.opts.currentRevision() - this.opts.retention;
    if (rev <= 0 || rev === this.prevRevision) return;
    if (await this.tryCompact(rev)) this.prevRevision = rev;
  }

  private async checkPeriodic(): Promise<void> {
    const now = this.opts.now();
    const due = now - this.lastSuccess >= this.waitMs;
    if (due) {
      this.waitMs = Math.min(this.opts.retention, HOUR_MS);
      const rev = this.samples[0] as number;
      if (await this.tryCompact(rev)) this.lastSuccess = this.opts.now();
    }
    this.samples.push(this.opts.currentRevision());
    if (this.samples.length > this.maxSamples) this.samples.shift();
  }

  private async tryCompact(rev: number): Promise<boolean> {
    try {
      await this.opts.compact(rev);
      return true;
    } catch (err) {
      return err instanceof Error && err.message.includes("required revision has been compacted");
    }
  }
}
