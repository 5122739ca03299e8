// The watch layer's public surface for the server and API layers.
export { WatchHub, DEFAULT_PROGRESS_INTERVAL_MS, type WatchHubOptions, type WatchHubStats } from "./hub.js";
export { WatchStream } from "./stream.js";
export type { WatchSource, ReadEventsResult, RevisionedEvent } from "./source.js";
export {
  AUTO_WATCH_ID,
  CancelReasons,
  INVALID_WATCH_ID,
  type WatchCreateRequest,
  type WatchFilter,
  type WatchResponse,
  type WatchSink,
} from "./types.js";
export { isProgressNotify } from "./responses.js";
export { DEFAULT_MAX_RESPONSE_BYTES, encodedSize } from "./fragment.js";
export { realScheduler, type WatchScheduler } from "./scheduler.js";
export { ManualScheduler } from "./manual-scheduler.js";
