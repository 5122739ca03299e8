// What etcd 3.4.31 promises for RequestProgress (a WatchProgressRequest on a watch stream), which
// Kubernetes relies on for consistent reads from its watch cache (docs/adr/0014):
//  - the answer is one header-only response with watch id -1 and the current revision, sent
//    through the stream after every event it covers (etcd 3.4.24, etcd-io/etcd#15237);
//  - it is sent only once every watcher of the stream is synced, and a deferred answer is sent
//    when they become synced even if no event reached them (3.4.31, etcd-io/etcd#17567);
//  - a stream without watchers gets no answer (etcd's progressAll sends through a watcher);
//  - so its revision is never ahead of an event still to be delivered on that stream.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WatchHub } from "./hub.js";
import { ManualScheduler } from "./manual-scheduler.js";
import { MemoryWatchSource } from "./memory-source.js";
import { isProgressNotify } from "./responses.js";
import type { WatchSource } from "./source.js";
import { RecordingSink, enc, rig } from "./test-support.js";
import { INVALID_WATCH_ID, type WatchResponse } from "./types.js";

const progressOf = (responses: WatchResponse[]): WatchResponse[] =>
  responses.filter((r) => isProgressNotify(r) && r.watchId === INVALID_WATCH_ID);

/** Every event after a progress response of revision R has a revision > R. */
function assertPromisesKept(responses: WatchResponse[]): void {
  let floor = 0;
  for (const r of responses) {
    for (const ev of r.events)
      assert.ok(ev.kv.modRevision > floor, `event @${ev.kv.modRevision} after progress ${floor}`);
    if (isProgressNotify(r) && r.watchId === INVALID_WATCH_ID) floor = Math.max(floor, r.header.revision);
  }
}

describe("RequestProgress on a synced stream", () => {
  test("one header-only answer, watch id -1, the current revision, after the events", () => {
    const { source, sink, stream } = rig();
    stream.createWatch({ key: enc("a") });
    stream.createWatch({ key: enc("b") });
    source.put(enc("a"), enc("1"));
    source.put(enc("zzz"), enc("1"));
    stream.requestProgress();
    const progress = progressOf(sink.responses);
    assert.equal(progress.length, 1);
    assert.deepEqual(
      [progress[0]!.watchId, progress[0]!.header.revision, progress[0]!.events.length, progress[0]!.created],
      [-1, 3, 0, false],
    );
    assert.equal(sink.responses.at(-1), progress[0]);
    assertPromisesKept(sink.responses);
  });

  test("a stream without watchers gets no answer, as etcd since 3.4.24", () => {
    const { source, sink, stream } = rig();
    source.put(enc("a"), enc("1"));
    stream.requestProgress();
    assert.deepEqual(sink.take(), []);
    // Nor later, when a watcher arrives: the request is not kept.
    stream.createWatch({ key: enc("a") });
    source.put(enc("a"), enc("2"));
    assert.equal(progressOf(sink.responses).length, 0);
  });
});

describe("RequestProgress while a watcher is unsynced", () => {
  test("waits, and is answered when a catch-up that delivered no event syncs the watcher (etcd 3.4.31)", () => {
    const { source, scheduler, sink, stream } = rig();
    for (let i = 0; i < 5; i++) source.put(enc("other"), enc(`${i}`));
    stream.createWatch({ key: enc("quiet"), startRevision: 2 });
    stream.requestProgress();
    assert.equal(progressOf(sink.responses).length, 0, "no answer while the watcher is behind");
    scheduler.runAll();
    const progress = progressOf(sink.responses);
    assert.deepEqual(
      progress.map((p) => p.header.revision),
      [6],
    );
    assert.equal(sink.eventLines().length, 0);
  });

  test("waits for a stream whose sink was full, and comes after the events it covers", () => {
    const { source, scheduler, sink, stream } = rig();
    stream.createWatch({ key: enc("k") });
    sink.full = true;
    source.put(enc("k"), enc("1")); // the sink reports full: the stream is blocked
    source.put(enc("k"), enc("2"));
    source.put(enc("k"), enc("3"));
    stream.requestProgress();
    assert.equal(progressOf(sink.responses).length, 0);
    sink.full = false;
    stream.resume();
    scheduler.runAll();
    const progress = progressOf(sink.responses);
    assert.deepEqual(
      progress.map((p) => p.header.revision),
      [4],
    );
    assert.deepEqual(sink.eventLines(), ["PUT k=1@2", "PUT k=2@3", "PUT k=3@4"]);
    assertPromisesKept(sink.responses);
  });
});

/** A source whose store can be replaced, as a follower's is when it installs a leader's snapshot. */
class SwappableSource implements WatchSource {
  constructor(public inner: MemoryWatchSource) {}
  currentRevision(): number {
    return this.inner.currentRevision();
  }
  compactRevision(): number {
    return this.inner.compactRevision();
  }
  subscribe(listener: (revision: number, events: import("../types.js").MvccEvent[]) => void): () => void {
    return this.inner.subscribe(listener);
  }
  readEvents(fromRev: number, toRev: number, maxEvents: number): ReturnType<WatchSource["readEvents"]> {
    return this.inner.readEvents(fromRev, toRev, maxEvents);
  }
  valueBefore(key: Uint8Array, revision: number): ReturnType<WatchSource["valueBefore"]> {
    return this.inner.valueBefore(key, revision);
  }
}

describe("after the store is replaced by a snapshot", () => {
  test("synced watchers get the events between the old and the new head before any progress", () => {
    const old = new MemoryWatchSource();
    old.put(enc("k"), enc("1")); // rev 2
    const source = new SwappableSource(old);
    const scheduler = new ManualScheduler();
    const hub = new WatchHub(source, { scheduler });
    const sink = new RecordingSink();
    const stream = hub.openStream(sink);
    stream.createWatch({ key: enc("k") });
    // The leader's store: the same history and three more revisions, two of them on "k".
    const newer = new MemoryWatchSource();
    newer.put(enc("k"), enc("1"));
    newer.put(enc("k"), enc("2"));
    newer.put(enc("x"), enc("1"));
    newer.put(enc("k"), enc("3"));
    source.inner = newer;
    hub.resync();
    stream.requestProgress();
    scheduler.runAll();
    newer.put(enc("k"), enc("4"));
    assert.deepEqual(sink.eventLines(), ["PUT k=2@3", "PUT k=3@5", "PUT k=4@6"]);
    assert.deepEqual(
      progressOf(sink.responses).map((p) => p.header.revision),
      [5],
    );
    assertPromisesKept(sink.responses);
  });
});
