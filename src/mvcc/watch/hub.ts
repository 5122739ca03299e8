// The watch hub, one per store: subscribes once to the source, fans each committed revision out to
// synced watchers through an index, catches unsynced watchers up from the backend in bounded
// deferred passes, cancels watchers that fell behind compaction, and sends periodic progress.
import { EventType, type MvccEvent } from "../types.js";
import { EtcdError, Errors } from "../errors.js";
import { DEFAULT_MAX_RESPONSE_BYTES } from "./fragment.js";
import { keyString } from "./key-range.js";
import { compactedResponse, eventsResponse, progressResponse } from "./responses.js";
import { realScheduler, type WatchScheduler } from "./scheduler.js";
import type { ReadEventsResult, WatchSource } from "./source.js";
import { WatchStream } from "./stream.js";
import type { WatchSink } from "./types.js";
import type { Watcher } from "./watcher.js";
import { WatcherIndex } from "./watcher-index.js";
import { watchSources } from "../../common/etcd-counts.js";

export interface WatchHubOptions {
  scheduler?: WatchScheduler;
  /** Period of progress notifications for progressNotify watchers; default 10 min as etcd. 0 = off. */
  progressIntervalMs?: number;
  /** Fragmenting threshold; default 1.5 MiB (etcd's max request bytes). */
  maxResponseBytes?: number;
  /** Watchers served synchronously per revision; the rest catch up in deferred passes. */
  fanoutBudget?: number;
  /** Events read from the backend per catch-up pass (whole revisions, so possibly more). */
  catchUpMaxEvents?: number;
  /** Unsynced watchers handled per catch-up pass. */
  catchUpMaxWatchers?: number;
}

export const DEFAULT_PROGRESS_INTERVAL_MS = 10 * 60 * 1000;

export interface WatchHubStats {
  streams: number;
  synced: number;
  unsynced: number;
}

export class WatchHub {
  readonly maxResponseBytes: number;
  /** The newest revision the hub has been told of (set before its fan-out runs). */
  headRevision: number;
  /** Every synced watcher has been sent all its events up to this revision. */
  private processedRevision: number;
  /** The revision being fanned out right now, 0 when idle. */
  private fanoutRevision = 0;
  private readonly synced = new WatcherIndex<Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private readonly progressWatchers = new Set<Watcher>();
  private readonly streams = new Set<WatchStream>();
  private readonly scheduler: WatchScheduler;
  private readonly fanoutBudget: number;
  private readonly catchUpMaxEvents: number;
  private readonly catchUpMaxWatchers: number;
  private unsubscribe: () => void;
  private readonly stopProgressTimer: () => void;
  private catchUpScheduled = false;
  /** prev_kv-filled copies of the events of the current fan-out or catch-up pass, shared by watchers. */
  private readonly withPrevKvCache = new Map<MvccEvent, MvccEvent>();
  private closed = false;

  constructor(
    private readonly source: WatchSource,
    options: WatchHubOptions = {},
  ) {
    this.scheduler = options.scheduler ?? realScheduler;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.fanoutBudget = options.fanoutBudget ?? 10_000;
    this.catchUpMaxEvents = options.catchUpMaxEvents ?? 1000;
    this.catchUpMaxWatchers = options.catchUpMaxWatchers ?? 512;
    this.headRevision = this.processedRevision = source.currentRevision();
    this.unsubscribe = source.subscribe((revision, events) => this.onCommit(revision, events));
    const interval = options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
    this.stopProgressTimer =
      interval > 0 ? this.scheduler.every(interval, () => this.progressTick()) : () => {};
    watchSources.add(this);
  }

  /** Opens a client stream whose responses go to `sink`. */
  openStream(sink: WatchSink): WatchStream {
    if (this.closed) throw new Error("WatchHub is closed");
    const stream = new WatchStream(this, sink);
    this.streams.add(stream);
    return stream;
  }

  /** Stops the subscription and the timer and closes every stream. */
  close(): void {
    if (this.closed) return;
    for (const stream of [...this.streams]) stream.close();
    this.closed = true;
    watchSources.delete(this);
    this.unsubscribe();
    this.stopProgressTimer();
  }

  /**
   * The source's store was replaced (a leader's snapshot was installed): the hub subscribes to it
   * again and every watcher catches up from it, or is canceled as compacted if its next revision
   * is no longer there.
   */
  resync(): void {
    if (this.closed) return;
    this.unsubscribe();
    this.unsubscribe = this.source.subscribe((revision, events) => this.onCommit(revision, events));
    // Synced watchers need everything after the old head (unsync reads processedRevision), so
    // they leave the fan-out before the head moves to the new store's.
    for (const stream of this.streams) {
      for (const w of [...stream.watchers.values()]) if (w.synced) this.unsync(w);
    }
    this.headRevision = this.processedRevision = this.source.currentRevision();
    this.scheduleCatchUp();
  }

  stats(): WatchHubStats {
    return { streams: this.streams.size, synced: this.synced.size, unsynced: this.unsynced.size };
  }

  // ---- called by WatchStream ----

  /** Places a new watcher (its `created` response is already sent). */
  register(w: Watcher): void {
    if (w.options.progressNotify) this.progressWatchers.add(w);
    const compactRev = this.source.compactRevision();
    // etcd cancels a watcher only when its start is below the compaction revision: the revision
    // itself is served with what compaction kept of it.
    if (w.nextRev < compactRev) {
      this.cancelCompacted(w, compactRev);
      return;
    }
    if (w.nextRev > this.headRevision && !w.stream.blocked) this.markSynced(w);
    else {
      this.markUnsynced(w);
      this.scheduleCatchUp();
    }
  }

  unregister(w: Watcher): void {
    if (!w.active) return;
    w.active = false;
    if (w.synced) this.synced.remove(w);
    else if (this.unsynced.delete(w)) w.stream.unsyncedCount--;
    w.synced = false;
    this.progressWatchers.delete(w);
    w.stream.watchers.delete(w.id);
    this.flushProgress(w.stream);
  }

  /** The stream's sink is full: its synced watchers leave the live fan-out. */
  block(stream: WatchStream): void {
    if (stream.blocked || stream.closed) return;
    stream.blocked = true;
    for (const w of stream.watchers.values()) if (w.synced) this.unsync(w);
  }

  resumed(stream: WatchStream): void {
    if (stream.unsyncedCount > 0) this.scheduleCatchUp();
    this.flushProgress(stream);
  }

  /** Sends the stream's pending on-demand progress if all its watchers are synced. */
  flushProgress(stream: WatchStream): void {
    if (stream.progressPending && stream.watchers.size === 0) {
      // etcd answers through one of the stream's watchers: with none, the request is dropped.
      stream.progressPending = false;
      return;
    }
    if (stream.progressPending && stream.unsyncedCount === 0 && !stream.closed) {
      stream.sendProgress(this.processedRevision);
    }
  }

  streamClosed(stream: WatchStream): void {
    this.streams.delete(stream);
  }

  // ---- live fan-out ----

  private onCommit(revision: number, rawEvents: MvccEvent[]): void {
    if (this.closed) return;
    this.headRevision = revision;
    this.fanoutRevision = revision;
    this.withPrevKvCache.clear();
    try {
      // A source may fill prevKv on live events (MvccStore does): watchers that did not ask get
      // copies without it, and prev_kv watchers reuse it instead of a lookup.
      let events = rawEvents;
      if (rawEvents.some((ev) => ev.prevKv !== undefined)) {
        events = rawEvents.map((raw) => {
          if (raw.prevKv === undefined) return raw;
          const bare = { type: raw.type, kv: raw.kv };
          this.withPrevKvCache.set(bare, raw);
          return bare;
        });
      }
      if (events.length === 1) this.fanOutOne(revision, events[0]!);
      else this.fanOutMany(revision, events);
    } finally {
      this.fanoutRevision = 0;
      this.processedRevision = revision;
      this.withPrevKvCache.clear();
    }
  }

  /** The common case, one event: each watcher matches at most once, so no grouping is needed. */
  private fanOutOne(revision: number, ev: MvccEvent): void {
    const matched: Watcher[] = [];
    this.synced.forEachMatch(ev.kv.key, keyString(ev.kv.key), (w) => {
      if (revision >= w.minRev && w.passesFilters(ev)) matched.push(w);
    });
    const shared = [ev]; // read-only for every receiver
    this.deliverAll(revision, matched, () => shared);
  }

  /** A transaction: group its events per watcher, keeping op order. */
  private fanOutMany(revision: number, events: MvccEvent[]): void {
    const matched = new Map<Watcher, MvccEvent[]>();
    for (const ev of events) {
      this.synced.forEachMatch(ev.kv.key, keyString(ev.kv.key), (w) => {
        if (revision < w.minRev || !w.passesFilters(ev)) return;
        const list = matched.get(w);
        if (list) list.push(ev);
        else matched.set(w, [ev]);
      });
    }
    this.deliverAll(revision, [...matched.keys()], (w) => matched.get(w)!);
  }

  /** Delivers to at most fanoutBudget watchers now; the rest catch up from the backend later. */
  private deliverAll(revision: number, watchers: Watcher[], eventsOf: (w: Watcher) => MvccEvent[]): void {
    let budget = this.fanoutBudget;
    for (const w of watchers) {
      if (!w.active || !w.synced) continue;
      if (budget <= 0) {
        this.unsync(w);
        this.scheduleCatchUp();
        continue;
      }
      budget--;
      this.deliver(w, eventsOf(w), revision);
    }
  }

  private deliver(w: Watcher, evs: MvccEvent[], revision: number): void {
    const events = w.options.prevKv ? evs.map((ev) => this.withPrevKv(ev)) : evs;
    w.deliveredThrough = revision;
    w.sentSinceTick = true;
    if (!w.stream.sendEvents(w, eventsResponse(w.id, revision, events))) this.block(w.stream);
  }

  private withPrevKv(ev: MvccEvent): MvccEvent {
    let filled = this.withPrevKvCache.get(ev);
    if (!filled) {
      filled = this.lookUpPrevKv(ev);
      this.withPrevKvCache.set(ev, filled);
    }
    return filled;
  }

  private lookUpPrevKv(ev: MvccEvent): MvccEvent {
    const kv = ev.kv;
    // etcd does not look up a previous value for a create (the key did not exist before).
    if (ev.type === EventType.PUT && kv.createRevision === kv.modRevision) return { type: ev.type, kv };
    // Nor for an event at the compaction revision: its previous revision is compacted away, and
    // etcd's lookup there fails and is left out.
    if (kv.modRevision - 1 < this.source.compactRevision()) return { type: ev.type, kv };
    const prevKv = this.source.valueBefore(kv.key, kv.modRevision);
    return prevKv ? { type: ev.type, kv, prevKv } : { type: ev.type, kv };
  }

  // ---- sync state ----

  private markSynced(w: Watcher): void {
    if (this.unsynced.delete(w)) w.stream.unsyncedCount--;
    w.synced = true;
    this.synced.add(w);
    this.flushProgress(w.stream);
  }

  private markUnsynced(w: Watcher): void {
    w.synced = false;
    if (!this.unsynced.has(w)) {
      this.unsynced.add(w);
      w.stream.unsyncedCount++;
    }
  }

  /** Moves a synced watcher out of the live fan-out, remembering the next revision it needs. */
  private unsync(w: Watcher): void {
    this.synced.remove(w);
    const nextLive = this.fanoutRevision > 0 ? this.fanoutRevision : this.processedRevision + 1;
    w.nextRev = Math.max(w.minRev, w.deliveredThrough + 1, nextLive);
    this.markUnsynced(w);
  }

  private cancelCompacted(w: Watcher, compactRev: number): void {
    const stream = w.stream;
    this.unregister(w);
    // etcd's compaction cancel carries no header revision (observed on etcd 3.4's gateway).
    stream.sendControl(compactedResponse(w.id, 0, compactRev));
  }

  // ---- catch-up from the backend ----

  private scheduleCatchUp(): void {
    if (this.catchUpScheduled || this.closed) return;
    this.catchUpScheduled = true;
    this.scheduler.defer(() => this.catchUpPass());
  }

  /** One bounded pass: at most catchUpMaxWatchers watchers and one backend read. */
  private catchUpPass(): void {
    this.catchUpScheduled = false;
    if (this.closed) return;
    const head = this.processedRevision;
    const compactRev = this.source.compactRevision();
    const batch: Watcher[] = [];
    for (const w of this.unsynced) {
      if (w.stream.blocked || !w.active) continue;
      if (w.nextRev < compactRev) this.cancelCompacted(w, compactRev);
      else if (w.nextRev > head) this.markSynced(w);
      else batch.push(w);
      if (batch.length >= this.catchUpMaxWatchers) break;
    }
    if (batch.length > 0) this.catchUp(batch, head);
    if (this.hasRunnableUnsynced()) this.scheduleCatchUp();
  }

  private catchUp(batch: Watcher[], head: number): void {
    let fromRev = Infinity;
    for (const w of batch) fromRev = Math.min(fromRev, w.nextRev);
    let result: ReadEventsResult;
    try {
      result = this.source.readEvents(fromRev, head, this.catchUpMaxEvents);
    } catch (err) {
      // Compacted since we checked: the next pass cancels the watchers concerned.
      if (err instanceof EtcdError && err.message === Errors.compacted().message) return;
      throw err;
    }
    const through = result.lastRevision;
    this.withPrevKvCache.clear();
    // Route the events through a temporary index of the batch: O(events + matches), not
    // O(watchers x events).
    const index = new WatcherIndex<Watcher>();
    for (const w of batch) if (w.nextRev <= through) index.add(w);
    const matched = new Map<Watcher, MvccEvent[]>();
    for (const { revision, event } of result.events) {
      // Backend events carry no prev_kv for anyone; one bare copy per event keeps the cache shared.
      const bare = event.prevKv ? { type: event.type, kv: event.kv } : event;
      index.forEachMatch(bare.kv.key, keyString(bare.kv.key), (w) => {
        if (revision < w.nextRev || revision < w.minRev || !w.passesFilters(bare)) return;
        const list = matched.get(w);
        if (list) list.push(bare);
        else matched.set(w, [bare]);
      });
    }
    for (const w of batch) {
      if (!w.active || w.synced || w.stream.blocked || w.nextRev > through) continue;
      const evs = matched.get(w);
      w.nextRev = through + 1;
      if (evs) this.deliver(w, evs, through);
      if (w.active && !w.stream.blocked && w.nextRev > this.processedRevision) this.markSynced(w);
    }
    this.withPrevKvCache.clear();
  }

  private hasRunnableUnsynced(): boolean {
    for (const w of this.unsynced) if (!w.stream.blocked) return true;
    return false;
  }

  // ---- periodic progress ----

  private progressTick(): void {
    for (const w of this.progressWatchers) {
      if (w.synced && !w.sentSinceTick && !w.stream.blocked) {
        w.stream.sendControl(progressResponse(w.id, this.processedRevision));
      }
      w.sentSinceTick = false;
    }
  }
}
