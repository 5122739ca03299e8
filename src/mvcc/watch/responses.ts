// Constructors for every kind of WatchResponse the watch layer sends, so their shapes (which
// clients use to tell them apart) are defined in one place.
import type { MvccEvent } from "../types.js";
import { INVALID_WATCH_ID, type WatchResponse } from "./types.js";

function base(watchId: number, revision: number): WatchResponse {
  return {
    header: { revision },
    watchId,
    created: false,
    canceled: false,
    compactRevision: 0,
    cancelReason: "",
    fragment: false,
    events: [],
  };
}

export function createdResponse(watchId: number, revision: number): WatchResponse {
  return { ...base(watchId, revision), created: true };
}

/** A create request that failed: created and canceled at once, watch id -1. */
export function rejectedResponse(reason: string, revision: number): WatchResponse {
  return { ...base(INVALID_WATCH_ID, revision), created: true, canceled: true, cancelReason: reason };
}

export function canceledResponse(watchId: number, revision: number): WatchResponse {
  return { ...base(watchId, revision), canceled: true };
}

/** The watcher needs history older than the compaction point: it is canceled. */
export function compactedResponse(watchId: number, revision: number, compactRevision: number): WatchResponse {
  return { ...base(watchId, revision), canceled: true, compactRevision };
}

/** No events; promises that every later event of the watcher(s) has a revision > `revision`. */
export function progressResponse(watchId: number, revision: number): WatchResponse {
  return base(watchId, revision);
}

export function eventsResponse(watchId: number, revision: number, events: MvccEvent[]): WatchResponse {
  // Hot path: one object literal, no spread.
  return {
    header: { revision },
    watchId,
    created: false,
    canceled: false,
    compactRevision: 0,
    cancelReason: "",
    fragment: false,
    events,
  };
}

/** True for a progress notification as the Go client recognises it. */
export function isProgressNotify(resp: WatchResponse): boolean {
  return (
    resp.events.length === 0 &&
    !resp.created &&
    !resp.canceled &&
    resp.compactRevision === 0 &&
    resp.header.revision !== 0
  );
}
