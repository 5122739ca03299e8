// Public data types of the watch layer: requests, responses (mirroring etcd's WatchResponse) and
// the sink through which the API layer receives responses.
import type { MvccEvent, ResponseHeader } from "../types.js";

export type WatchFilter = "NOPUT" | "NODELETE";

/** etcd's WatchCreateRequest (camelCase). */
export interface WatchCreateRequest {
  key: Uint8Array;
  /** Empty/absent: the single key. [0]: every key >= key. Otherwise [key, rangeEnd). */
  rangeEnd?: Uint8Array;
  /** 0/absent: from the next revision. */
  startRevision?: number;
  prevKv?: boolean;
  filters?: WatchFilter[];
  progressNotify?: boolean;
  fragment?: boolean;
  /** 0/absent: the stream picks the lowest free id starting at 0. */
  watchId?: number;
}

/** etcd's WatchResponse (camelCase). Event objects may be shared between watchers: never mutate. */
export interface WatchResponse {
  header: ResponseHeader;
  watchId: number;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  fragment: boolean;
  events: MvccEvent[];
}

/**
 * Where a stream's responses go (the API layer's gRPC/HTTP stream). `send` must always accept the
 * response; returning false means "my buffer is now full": the stream then stops delivering events
 * to this sink (its watchers catch up from the backend later) until `WatchStream.resume()` is
 * called. Control responses (created, canceled, progress) are still sent while blocked.
 */
export interface WatchSink {
  send(resp: WatchResponse): boolean;
}

/** The watch id of responses not tied to one watcher (etcd's clientv3.InvalidWatchID). */
export const INVALID_WATCH_ID = -1;
/** A create request with this id lets the stream choose (etcd's clientv3.AutoWatchID). */
export const AUTO_WATCH_ID = 0;

/** Cancel reasons with etcd 3.4's exact text. */
export const CancelReasons = {
  duplicateId: "mvcc: duplicate watch ID provided on the WatchStream",
  emptyRange: "mvcc: watcher range is empty",
} as const;
