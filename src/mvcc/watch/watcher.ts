// The state of one watcher: what it watches, its options, and where it is in the revision history.
import { EventType, type MvccEvent } from "../types.js";
import type { KeyRange } from "./key-range.js";
import type { WatchStream } from "./stream.js";
import type { WatchFilter } from "./types.js";

export interface WatcherOptions {
  prevKv: boolean;
  progressNotify: boolean;
  fragment: boolean;
  filters: readonly WatchFilter[];
}

export class Watcher {
  /** False once canceled, compacted away or its stream closed. */
  active = true;
  /** Synced: receives events live from the fan-out. Unsynced: waits to catch up from the backend. */
  synced = false;
  /** For an unsynced watcher, the next revision it needs. */
  nextRev: number;
  /** Revisions below this are never delivered (a future start revision). */
  readonly minRev: number;
  /** The last revision a response to this watcher covered. */
  deliveredThrough = 0;
  /** Events were sent since the last progress tick (periodic progress is then skipped). */
  sentSinceTick = false;
  private readonly noPut: boolean;
  private readonly noDelete: boolean;

  constructor(
    readonly id: number,
    readonly stream: WatchStream,
    readonly range: KeyRange,
    readonly options: WatcherOptions,
    startRev: number,
  ) {
    this.minRev = startRev;
    this.nextRev = startRev;
    this.noPut = options.filters.includes("NOPUT");
    this.noDelete = options.filters.includes("NODELETE");
  }

  /** NOPUT/NODELETE (range and revision are checked by the caller). */
  passesFilters(ev: MvccEvent): boolean {
    return !(ev.type === EventType.PUT ? this.noPut : this.noDelete);
  }
}
