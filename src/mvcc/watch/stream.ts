// One client watch stream (etcd semantics: many watchers share it). Handles create/cancel/progress
// requests and owns the sink; event delivery, sync state and catch-up are the hub's job.
import { counts } from "../../common/etcd-counts.js";
import { KeyRange } from "./key-range.js";
import { fragmentResponse } from "./fragment.js";
import type { WatchHub } from "./hub.js";
import { canceledResponse, createdResponse, progressResponse, rejectedResponse } from "./responses.js";
import {
  AUTO_WATCH_ID,
  CancelReasons,
  INVALID_WATCH_ID,
  type WatchCreateRequest,
  type WatchResponse,
  type WatchSink,
} from "./types.js";
import { Watcher } from "./watcher.js";

export class WatchStream {
  /** The stream's live watchers by id. */
  readonly watchers = new Map<number, Watcher>();
  /** The sink reported a full buffer: no live events until resume(). */
  blocked = false;
  closed = false;
  /** How many of this stream's watchers are unsynced (the hub keeps this up to date). */
  unsyncedCount = 0;
  /** An on-demand progress request waits for every watcher to be synced. */
  progressPending = false;
  /** What the sink threw, if it did (the stream was then closed). */
  failure: unknown = undefined;
  private nextAutoId = 0;

  constructor(
    private readonly hub: WatchHub,
    private readonly sink: WatchSink,
  ) {}

  /**
   * Creates a watcher. Always answers with a `created` response first (created+canceled with watch
   * id -1 and etcd's reason if the request is invalid). Returns the watch id, or -1 if rejected.
   */
  createWatch(req: WatchCreateRequest): number {
    if (this.closed) return INVALID_WATCH_ID;
    const headRev = this.hub.headRevision;
    const range = KeyRange.of(req.key, req.rangeEnd);
    if (!range) {
      this.sendControl(rejectedResponse(CancelReasons.emptyRange, headRev));
      return INVALID_WATCH_ID;
    }
    let id = req.watchId ?? AUTO_WATCH_ID;
    if (id === AUTO_WATCH_ID) {
      while (this.watchers.has(this.nextAutoId)) this.nextAutoId++;
      id = this.nextAutoId++;
    } else if (this.watchers.has(id)) {
      this.sendControl(rejectedResponse(CancelReasons.duplicateId, headRev));
      return INVALID_WATCH_ID;
    }
    const start = req.startRevision !== undefined && req.startRevision > 0 ? req.startRevision : headRev + 1;
    const watcher = new Watcher(
      id,
      this,
      range,
      {
        prevKv: req.prevKv ?? false,
        progressNotify: req.progressNotify ?? false,
        fragment: req.fragment ?? false,
        filters: req.filters ?? [],
      },
      start,
    );
    this.watchers.set(id, watcher);
    this.sendControl(createdResponse(id, headRev));
    if (!this.closed) this.hub.register(watcher);
    return id;
  }

  /** Cancels a watcher (answered with a canceled response); false if the id is unknown. */
  cancelWatch(id: number): boolean {
    const watcher = this.watchers.get(id);
    if (!watcher) return false;
    this.hub.unregister(watcher);
    this.sendControl(canceledResponse(id, this.hub.headRevision));
    return true;
  }

  /**
   * Asks for a progress notification (watch id -1). It is sent once every watcher of the stream
   * is synced, so its revision promises that all of their later events are newer.
   */
  requestProgress(): void {
    if (this.closed) return;
    this.progressPending = true;
    this.hub.flushProgress(this);
  }

  /** The sink has room again: watchers catch up from the backend, then go live. */
  resume(): void {
    if (this.closed || !this.blocked) return;
    this.blocked = false;
    this.hub.resumed(this);
  }

  /** Drops every watcher silently (the client stream is gone). */
  close(): void {
    if (this.closed) return;
    for (const watcher of [...this.watchers.values()]) this.hub.unregister(watcher);
    this.closed = true;
    this.progressPending = false;
    this.hub.streamClosed(this);
  }

  /** Sends a control response; a full sink blocks event delivery. */
  sendControl(resp: WatchResponse): void {
    if (!this.send(resp)) this.hub.block(this);
  }

  /** Sends an events response for `watcher`, fragmented if it asked; false if the sink is full. */
  sendEvents(watcher: Watcher, resp: WatchResponse): boolean {
    counts.watchEventsSent += resp.events.length;
    if (!watcher.options.fragment) return this.send(resp);
    let ok = true;
    for (const part of fragmentResponse(resp, this.hub.maxResponseBytes)) ok = this.send(part) && ok;
    return ok;
  }

  /**
   * One sink call. A sink that throws has lost its client: the stream closes (recording the
   * error in `failure`) so the exception never reaches the store's write path or other streams.
   */
  private send(resp: WatchResponse): boolean {
    if (this.closed) return true;
    try {
      return this.sink.send(resp);
    } catch (err) {
      this.failure = err;
      this.close();
      return true;
    }
  }

  /** @internal for the hub: sends the pending on-demand progress notification. */
  sendProgress(revision: number): void {
    this.progressPending = false;
    this.sendControl(progressResponse(INVALID_WATCH_ID, revision));
  }
}
