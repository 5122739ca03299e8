// The narrow view of the MVCC store that the watch layer needs. The watch code depends only on
// this type, so it can run against the real MvccStore or an in-memory fake in tests.
import type { KeyValue, MvccEvent } from "../types.js";

/** One event with the revision it belongs to, as read back from the backend. */
export interface RevisionedEvent {
  revision: number;
  event: MvccEvent;
}

export interface ReadEventsResult {
  /** Whole revisions only, in revision order then op order. */
  events: RevisionedEvent[];
  /** The last revision fully included (may exceed the last event's revision). */
  lastRevision: number;
}

export type WatchSource = {
  /** The store's latest committed revision. */
  currentRevision(): number;
  /** The revision history was compacted at; 0 = never compacted. */
  compactRevision(): number;
  /**
   * Called synchronously after each committed write revision with its events in op order.
   * Returns the unsubscribe function.
   */
  subscribe(listener: (revision: number, events: MvccEvent[]) => void): () => void;
  /**
   * Events of revisions fromRev..toRev from the backend, whole revisions only (at least one
   * revision even if it holds more than maxEvents). Throws Errors.compacted() if
   * fromRev < compactRevision(); the compaction revision itself yields only what compaction kept
   * of it: each key's put that is the key's last change there (deletes are gone).
   */
  readEvents(fromRev: number, toRev: number, maxEvents: number): ReadEventsResult;
  /**
   * The key's KeyValue just before `revision` (for prev_kv), undefined if it did not exist. The
   * hub does not ask for a revision below compactRevision() (etcd reports no prev_kv there).
   */
  valueBefore(key: Uint8Array, revision: number): KeyValue | undefined;
};
