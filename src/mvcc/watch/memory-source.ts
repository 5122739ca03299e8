// An in-memory WatchSource for tests, property tests and the benchmark: a tiny revisioned store
// (put, delete, txn, compact) that keeps every version of every key and notifies subscribers
// synchronously after each write, like the real MvccStore.
import { Errors } from "../errors.js";
import { EventType, NO_LEASE, type KeyValue, type MvccEvent } from "../types.js";
import { keyString } from "./key-range.js";
import type { ReadEventsResult, WatchSource } from "./source.js";

export type MemoryOp = { put: Uint8Array; value: Uint8Array } | { del: Uint8Array };

type Listener = (revision: number, events: MvccEvent[]) => void;

export interface MemoryWatchSourceOptions {
  /** Fill prevKv on live events when the key existed before, as MvccStore does. */
  livePrevKv?: boolean;
}

export class MemoryWatchSource implements WatchSource {
  /** Number of readEvents calls (lets tests see whether the backend was used). */
  readEventsCalls = 0;
  private revision = 1;
  private compacted = 0;
  /** log[i] holds the events of revision i + 2 (revision 1 is the empty store). */
  private readonly log: MvccEvent[][] = [];
  /** Every version of each key, oldest first; deletes are stored as version-0 tombstones. */
  private readonly versions = new Map<string, KeyValue[]>();
  private readonly listeners = new Set<Listener>();

  constructor(private readonly options: MemoryWatchSourceOptions = {}) {}

  currentRevision(): number {
    return this.revision;
  }

  compactRevision(): number {
    return this.compacted;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  readEvents(fromRev: number, toRev: number, maxEvents: number): ReadEventsResult {
    this.readEventsCalls++;
    if (fromRev < this.compacted) throw Errors.compacted();
    const events: ReadEventsResult["events"] = [];
    const last = Math.min(toRev, this.revision);
    for (let rev = Math.max(fromRev, 2); rev <= last; rev++) {
      let revEvents = this.log[rev - 2]!;
      if (rev === this.compacted) revEvents = keptByCompaction(revEvents);
      if (events.length > 0 && events.length + revEvents.length > maxEvents)
        return { events, lastRevision: rev - 1 };
      for (const event of revEvents) events.push({ revision: rev, event });
    }
    return { events, lastRevision: Math.max(last, fromRev - 1) };
  }

  valueBefore(key: Uint8Array, revision: number): KeyValue | undefined {
    const list = this.versions.get(keyString(key)) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const kv = list[i]!;
      if (kv.modRevision < revision) return kv.version === 0 ? undefined : kv;
    }
    return undefined;
  }

  /** The live KeyValue of a key, if any. */
  get(key: Uint8Array): KeyValue | undefined {
    return this.valueBefore(key, this.revision + 1);
  }

  put(key: Uint8Array, value: Uint8Array): number {
    return this.txn([{ put: key, value }]);
  }

  /** Deletes one key; returns the new revision, or the current one if the key did not exist. */
  delete(key: Uint8Array): number {
    return this.get(key) ? this.txn([{ del: key }]) : this.revision;
  }

  /** Applies ops atomically at one new revision (deletes of absent keys are skipped). */
  txn(ops: MemoryOp[]): number {
    const rev = this.revision + 1;
    const events: MvccEvent[] = [];
    for (const op of ops) {
      const key = "put" in op ? op.put : op.del;
      const k = keyString(key);
      const list = this.versions.get(k) ?? [];
      const prev = list.at(-1);
      const live = prev && prev.version > 0 ? prev : undefined;
      let kv: KeyValue;
      if ("put" in op) {
        kv = {
          key: Uint8Array.from(key),
          createRevision: live ? live.createRevision : rev,
          modRevision: rev,
          version: live ? live.version + 1 : 1,
          value: Uint8Array.from(op.value),
          lease: NO_LEASE,
        };
        events.push(this.event(EventType.PUT, kv, live));
      } else {
        if (!live) continue;
        kv = {
          key: Uint8Array.from(key),
          createRevision: 0,
          modRevision: rev,
          version: 0,
          value: new Uint8Array(),
          lease: NO_LEASE,
        };
        events.push(this.event(EventType.DELETE, kv, live));
      }
      if (prev && prev.modRevision === rev) list[list.length - 1] = kv;
      else list.push(kv);
      this.versions.set(k, list);
    }
    if (events.length === 0) return this.revision;
    this.revision = rev;
    this.log.push(events);
    for (const listener of [...this.listeners]) listener(rev, events);
    return rev;
  }

  private event(type: EventType, kv: KeyValue, prev: KeyValue | undefined): MvccEvent {
    return this.options.livePrevKv && prev ? { type, kv, prevKv: prev } : { type, kv };
  }

  /** Compacts history at `revision` (events below it can no longer be read; see keptByCompaction). */
  compact(revision: number): void {
    if (revision <= this.compacted) throw Errors.compacted();
    if (revision > this.revision) throw Errors.futureRevision();
    this.compacted = revision;
  }
}

/** What compaction at a revision keeps of its own events: each key's last change there, if a put. */
function keptByCompaction(events: MvccEvent[]): MvccEvent[] {
  const lastOf = new Map<string, MvccEvent>();
  for (const ev of events) lastOf.set(keyString(ev.kv.key), ev);
  return events.filter((ev) => ev.type === EventType.PUT && lastOf.get(keyString(ev.kv.key)) === ev);
}
