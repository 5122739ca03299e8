// Behaviour of WatchStream + WatchHub against the in-memory source: creation and ids, ranges,
// start revisions, history then live, prev_kv, filters, cancel, compaction, slow sinks, progress,
// fragmenting, fan-out budget and close.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isProgressNotify } from "./responses.js";
import { CancelReasons, INVALID_WATCH_ID } from "./types.js";
import { RecordingSink, dec, enc, rig } from "./test-support.js";

describe("watch creation", () => {
  test("answers created first, with stream-chosen ids from 0 and the current revision", () => {
    const { source, sink, stream } = rig();
    source.put(enc("a"), enc("1"));
    assert.equal(stream.createWatch({ key: enc("a") }), 0);
    assert.equal(stream.createWatch({ key: enc("b") }), 1);
    const [r0, r1] = sink.take();
    assert.deepEqual([r0!.created, r0!.canceled, r0!.watchId, r0!.header.revision], [true, false, 0, 2]);
    assert.deepEqual([r1!.created, r1!.watchId], [true, 1]);
  });

  test("accepts client-chosen ids, skips them when choosing, rejects reuse like etcd", () => {
    const { sink, stream } = rig();
    assert.equal(stream.createWatch({ key: enc("a"), watchId: 1 }), 1);
    assert.equal(stream.createWatch({ key: enc("a") }), 0);
    assert.equal(stream.createWatch({ key: enc("a") }), 2);
    assert.equal(stream.createWatch({ key: enc("a"), watchId: 2 }), INVALID_WATCH_ID);
    const rejected = sink.responses.at(-1)!;
    assert.deepEqual(
      [rejected.created, rejected.canceled, rejected.watchId, rejected.cancelReason],
      [true, true, -1, CancelReasons.duplicateId],
    );
    assert.equal(rejected.cancelReason, "mvcc: duplicate watch ID provided on the WatchStream");
  });

  test("rejects an empty range (range end <= key)", () => {
    const { sink, stream } = rig();
    assert.equal(stream.createWatch({ key: enc("b"), rangeEnd: enc("a") }), -1);
    assert.equal(sink.responses[0]!.cancelReason, "mvcc: watcher range is empty");
    assert.equal(sink.responses[0]!.created && sink.responses[0]!.canceled, true);
  });
});

describe("what a watcher sees", () => {
  test("single key, prefix, range, from-key and everything", () => {
    const { source, sink, stream } = rig();
    const single = stream.createWatch({ key: enc("foo") });
    const prefix = stream.createWatch({ key: enc("foo"), rangeEnd: enc("fop") });
    const range = stream.createWatch({ key: enc("b"), rangeEnd: enc("foo0") });
    const fromKey = stream.createWatch({ key: enc("fooz"), rangeEnd: new Uint8Array([0]) });
    const all = stream.createWatch({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) });
    for (const k of ["a", "foo", "foo1", "fop", "zz"]) source.put(enc(k), enc("v"));
    assert.deepEqual(sink.eventLines(single), ["PUT foo=v@3"]);
    assert.deepEqual(sink.eventLines(prefix), ["PUT foo=v@3", "PUT foo1=v@4"]);
    assert.deepEqual(sink.eventLines(range), ["PUT foo=v@3"]);
    assert.deepEqual(sink.eventLines(fromKey), ["PUT fop=v@5", "PUT zz=v@6"]);
    assert.equal(sink.eventLines(all).length, 5);
  });

  test("start revision 0 sees only later writes; each response's header is its revision", () => {
    const { source, sink, stream } = rig();
    source.put(enc("k"), enc("old"));
    const id = stream.createWatch({ key: enc("k") });
    source.put(enc("k"), enc("new"));
    assert.deepEqual(sink.eventLines(id), ["PUT k=new@3"]);
    assert.equal(sink.responses.at(-1)!.header.revision, 3);
  });

  test("a retained start revision replays history from the backend, then goes live", () => {
    const { source, scheduler, sink, stream } = rig();
    for (let i = 1; i <= 5; i++) source.put(enc("k"), enc(`v${i}`));
    const id = stream.createWatch({ key: enc("k"), startRevision: 3 });
    source.put(enc("k"), enc("v6")); // arrives while the watcher is still unsynced
    assert.deepEqual(sink.eventLines(id), []);
    scheduler.runAll();
    assert.ok(source.readEventsCalls > 0);
    source.put(enc("k"), enc("v7"));
    assert.deepEqual(sink.eventLines(id), [
      "PUT k=v2@3",
      "PUT k=v3@4",
      "PUT k=v4@5",
      "PUT k=v5@6",
      "PUT k=v6@7",
      "PUT k=v7@8",
    ]);
  });

  test("a future start revision waits for it", () => {
    const { source, sink, stream } = rig();
    const id = stream.createWatch({ key: enc("k"), startRevision: 4 });
    source.put(enc("k"), enc("a"));
    source.put(enc("k"), enc("b"));
    source.put(enc("k"), enc("c"));
    assert.deepEqual(sink.eventLines(id), ["PUT k=b@3", "PUT k=c@4"].slice(1));
  });

  test("one transaction's events arrive together, in op order", () => {
    const { source, sink, stream } = rig();
    stream.createWatch({ key: enc("a"), rangeEnd: enc("z") });
    source.put(enc("b"), enc("0"));
    source.txn([{ put: enc("c"), value: enc("1") }, { del: enc("b") }, { put: enc("a"), value: enc("2") }]);
    const last = sink.responses.at(-1)!;
    assert.deepEqual(
      last.events.map((e) => `${e.type}:${dec(e.kv.key)}`),
      ["0:c", "1:b", "0:a"],
    );
  });

  test("prev_kv: previous value on overwrite and delete, none on create or when not asked", () => {
    const { source, scheduler, sink, stream } = rig();
    const withPrev = stream.createWatch({ key: enc("k"), prevKv: true });
    const without = stream.createWatch({ key: enc("k") });
    source.put(enc("k"), enc("1"));
    source.put(enc("k"), enc("2"));
    source.delete(enc("k"));
    const prevs = sink.responses
      .filter((r) => r.watchId === withPrev)
      .flatMap((r) => r.events.map((e) => e.prevKv));
    assert.deepEqual(
      prevs.map((p) => (p ? dec(p.value) : null)),
      [null, "1", "2"],
    );
    const plain = sink.responses.filter((r) => r.watchId === without).flatMap((r) => r.events);
    assert.ok(plain.every((e) => e.prevKv === undefined));
    // the same from history
    const hist = stream.createWatch({ key: enc("k"), prevKv: true, startRevision: 2 });
    scheduler.runAll();
    const histPrevs = sink.responses
      .filter((r) => r.watchId === hist)
      .flatMap((r) => r.events.map((e) => e.prevKv));
    assert.deepEqual(
      histPrevs.map((p) => (p ? dec(p.value) : null)),
      [null, "1", "2"],
    );
  });

  test("NOPUT and NODELETE filters; a fully filtered revision sends nothing", () => {
    const { source, sink, stream } = rig();
    const noPut = stream.createWatch({ key: enc("k"), filters: ["NOPUT"] });
    const noDel = stream.createWatch({ key: enc("k"), filters: ["NODELETE"] });
    source.put(enc("k"), enc("1"));
    source.delete(enc("k"));
    assert.deepEqual(sink.eventLines(noPut), ["DEL k=@3"]);
    assert.deepEqual(sink.eventLines(noDel), ["PUT k=1@2"]);
    assert.equal(sink.responses.filter((r) => r.watchId === noPut).length, 2); // created + the delete
  });
});

describe("cancel, compaction, close", () => {
  test("cancelWatch answers canceled and stops events; unknown ids are ignored", () => {
    const { source, sink, stream } = rig();
    const id = stream.createWatch({ key: enc("k") });
    assert.equal(stream.cancelWatch(id), true);
    assert.deepEqual([sink.responses.at(-1)!.canceled, sink.responses.at(-1)!.watchId], [true, id]);
    source.put(enc("k"), enc("1"));
    assert.deepEqual(sink.eventLines(), []);
    assert.equal(stream.cancelWatch(42), false);
  });

  test("a start revision below the compaction point gets created, then a compacted cancel", () => {
    const { source, sink, stream, hub } = rig();
    for (let i = 0; i < 4; i++) source.put(enc("k"), enc(`${i}`));
    source.compact(3);
    const id = stream.createWatch({ key: enc("k"), startRevision: 2 });
    const [created, cancel] = sink.take();
    assert.equal(created!.created, true);
    assert.deepEqual(
      [cancel!.watchId, cancel!.canceled, cancel!.compactRevision, cancel!.events.length],
      [id, true, 3, 0],
    );
    assert.equal(hub.stats().unsynced + hub.stats().synced, 0);
  });

  test("a start exactly at the compaction revision is served with what compaction kept of it", () => {
    // etcd 3.4 cancels only a start below the compaction revision. The revision itself keeps each
    // key's put there (without prev_kv: the revision before is gone); its deletes are gone.
    const { source, scheduler, sink, stream } = rig();
    source.put(enc("a"), enc("1")); // 2
    source.put(enc("b"), enc("1")); // 3
    source.put(enc("a"), enc("2")); // 4
    source.put(enc("c"), enc("1")); // 5
    source.delete(enc("c")); // 6
    source.put(enc("a"), enc("3")); // 7
    source.compact(4);
    const atR = stream.createWatch({ key: enc("\0"), rangeEnd: enc("\0"), startRevision: 4, prevKv: true });
    const below = stream.createWatch({ key: enc("\0"), rangeEnd: enc("\0"), startRevision: 3 });
    const above = stream.createWatch({ key: enc("\0"), rangeEnd: enc("\0"), startRevision: 5 });
    scheduler.runAll();
    const withPrev = sink.responses
      .filter((r) => r.watchId === atR)
      .flatMap((r) =>
        r.events.map((e) => `${dec(e.kv.key)}@${e.kv.modRevision}<${e.prevKv ? dec(e.prevKv.value) : "-"}`),
      );
    assert.deepEqual(withPrev, ["a@4<-", "c@5<-", "c@6<1", "a@7<2"]);
    const cancel = sink.responses.find((r) => r.watchId === below && r.canceled)!;
    assert.deepEqual([cancel.compactRevision, cancel.events.length], [4, 0]);
    assert.deepEqual(sink.eventLines(above), ["PUT c=1@5", "DEL c=@6", "PUT a=3@7"]);

    source.compact(6); // a delete at the compaction revision is not replayed
    const atDelete = stream.createWatch({ key: enc("\0"), rangeEnd: enc("\0"), startRevision: 6 });
    scheduler.runAll();
    assert.deepEqual(sink.eventLines(atDelete), ["PUT a=3@7"]);
    source.put(enc("a"), enc("4")); // 8, live
    assert.deepEqual(sink.eventLines(atDelete), ["PUT a=3@7", "PUT a=4@8"]);
  });

  test("close drops every watcher silently", () => {
    const { source, sink, stream, hub } = rig();
    stream.createWatch({ key: enc("k") });
    stream.createWatch({ key: enc("j"), startRevision: 1 });
    stream.close();
    source.put(enc("k"), enc("1"));
    assert.deepEqual(sink.eventLines(), []);
    assert.deepEqual(hub.stats(), { streams: 0, synced: 0, unsynced: 0 });
  });
});

describe("slow sinks", () => {
  test("a full sink stops live delivery; resume catches up from the backend without loss or duplicates", () => {
    const { source, scheduler, sink, stream, hub } = rig();
    const id = stream.createWatch({ key: enc("k") });
    sink.full = true;
    source.put(enc("k"), enc("1")); // accepted, but the buffer is now full
    source.put(enc("k"), enc("2"));
    source.txn([
      { put: enc("k"), value: enc("3") },
      { put: enc("x"), value: enc("x") },
    ]);
    assert.deepEqual(sink.eventLines(id), ["PUT k=1@2"]);
    assert.equal(hub.stats().unsynced, 1);
    scheduler.runAll(); // blocked streams are not caught up
    assert.deepEqual(sink.eventLines(id), ["PUT k=1@2"]);
    sink.full = false;
    const readsBefore = source.readEventsCalls;
    stream.resume();
    scheduler.runAll();
    assert.ok(source.readEventsCalls > readsBefore);
    source.put(enc("k"), enc("4"));
    assert.deepEqual(sink.eventLines(id), ["PUT k=1@2", "PUT k=2@3", "PUT k=3@4", "PUT k=4@5"]);
    assert.deepEqual(hub.stats().synced, 1);
  });

  test("a blocked client costs writers no deferred work per write", () => {
    const { source, scheduler, sink, stream } = rig();
    stream.createWatch({ key: enc("k") });
    sink.full = true;
    for (let i = 0; i < 10; i++) source.put(enc("k"), enc(`${i}`));
    assert.equal(scheduler.pending, 0);
  });

  test("a sink that throws closes only its own stream; writers and other streams carry on", () => {
    const { source, hub, sink, stream } = rig();
    const boom = new Error("client gone");
    const broken = hub.openStream({
      send: (r) => {
        if (r.events.length > 0) throw boom;
        return true;
      },
    });
    broken.createWatch({ key: enc("k") });
    broken.createWatch({ key: enc("k") });
    stream.createWatch({ key: enc("k") });
    assert.doesNotThrow(() => source.put(enc("k"), enc("1")));
    source.put(enc("k"), enc("2"));
    assert.deepEqual(sink.eventLines(), ["PUT k=1@2", "PUT k=2@3"]);
    assert.equal(broken.closed, true);
    assert.equal(broken.failure, boom);
    assert.deepEqual(hub.stats(), { streams: 1, synced: 1, unsynced: 0 });
  });

  test("one slow stream does not hold back another", () => {
    const { source, hub } = rig();
    const slow = new RecordingSink();
    const fast = new RecordingSink();
    const s1 = hub.openStream(slow);
    const s2 = hub.openStream(fast);
    s1.createWatch({ key: enc("k") });
    s2.createWatch({ key: enc("k") });
    slow.full = true;
    for (let i = 0; i < 5; i++) source.put(enc("k"), enc(`${i}`));
    assert.equal(slow.eventLines().length, 1);
    assert.equal(fast.eventLines().length, 5);
  });

  test("streams blocked at different revisions catch up together without duplicates", () => {
    const { source, scheduler, hub } = rig();
    const [s1, s2] = [new RecordingSink(), new RecordingSink()];
    const [a, b] = [hub.openStream(s1), hub.openStream(s2)];
    a.createWatch({ key: enc("k") });
    b.createWatch({ key: enc("k") });
    s1.full = true;
    source.put(enc("k"), enc("1"));
    source.put(enc("k"), enc("2"));
    s2.full = true;
    source.put(enc("k"), enc("3"));
    source.put(enc("k"), enc("4"));
    s1.full = s2.full = false;
    a.resume();
    b.resume();
    scheduler.runAll();
    const all = ["PUT k=1@2", "PUT k=2@3", "PUT k=3@4", "PUT k=4@5"];
    assert.deepEqual(s1.eventLines(), all);
    assert.deepEqual(s2.eventLines(), all);
  });

  test("a blocked watcher that falls behind compaction is canceled with compact_revision", () => {
    const { source, scheduler, sink, stream } = rig();
    const id = stream.createWatch({ key: enc("k") });
    sink.full = true;
    source.put(enc("k"), enc("1"));
    source.put(enc("k"), enc("2"));
    source.put(enc("k"), enc("3"));
    source.compact(4);
    sink.full = false;
    stream.resume();
    scheduler.runAll();
    const last = sink.responses.at(-1)!;
    assert.deepEqual([last.watchId, last.canceled, last.compactRevision], [id, true, 4]);
    assert.deepEqual(sink.eventLines(id), ["PUT k=1@2"]);
  });

  test("catch-up runs in bounded passes and never splits a revision", () => {
    const { source, scheduler, sink, stream } = rig({ catchUpMaxEvents: 3 });
    for (let i = 0; i < 5; i++) {
      source.txn([
        { put: enc("a"), value: enc(`${i}`) },
        { put: enc("b"), value: enc(`${i}`) },
      ]);
    }
    const id = stream.createWatch({ key: enc("a"), rangeEnd: enc("c"), startRevision: 2 });
    assert.equal(scheduler.runOnce(), 1);
    const first = sink.responses.filter((r) => r.events.length > 0);
    assert.equal(first.length, 1);
    assert.equal(first[0]!.events.length, 2); // one whole revision (3 events would split one)
    scheduler.runAll();
    const responses = sink.responses.filter((r) => r.watchId === id && r.events.length > 0);
    for (const r of responses) assert.equal(r.events.length % 2, 0);
    assert.equal(sink.eventLines(id).length, 10);
  });

  test("the fan-out budget defers extra watchers to catch-up instead of working unboundedly", () => {
    const { source, scheduler, hub } = rig({ fanoutBudget: 2 });
    const sinks = Array.from({ length: 5 }, () => new RecordingSink());
    for (const s of sinks) hub.openStream(s).createWatch({ key: enc("k") });
    source.put(enc("k"), enc("1"));
    assert.equal(sinks.filter((s) => s.eventLines().length === 1).length, 2);
    scheduler.runAll();
    source.put(enc("k"), enc("2"));
    scheduler.runAll();
    for (const s of sinks) assert.deepEqual(s.eventLines(), ["PUT k=1@2", "PUT k=2@3"]);
  });
});

describe("progress", () => {
  test("on-demand progress is immediate with watch id -1 when all watchers are synced", () => {
    const { source, sink, stream } = rig();
    stream.createWatch({ key: enc("k") });
    source.put(enc("x"), enc("1"));
    sink.take();
    stream.requestProgress();
    const [p] = sink.take();
    assert.ok(isProgressNotify(p!));
    assert.deepEqual([p!.watchId, p!.header.revision], [INVALID_WATCH_ID, 2]);
  });

  test("on-demand progress waits until every watcher is synced", () => {
    const { source, scheduler, sink, stream } = rig();
    for (let i = 0; i < 3; i++) source.put(enc("k"), enc(`${i}`));
    stream.createWatch({ key: enc("k"), startRevision: 2 });
    stream.requestProgress();
    assert.equal(sink.responses.filter(isProgressNotify).length, 0);
    scheduler.runAll();
    const idx = sink.responses.findIndex(isProgressNotify);
    assert.ok(idx > 0);
    assert.equal(sink.responses[idx]!.header.revision, 4);
    assert.equal(sink.eventLines().length, 3); // all events came before it
    assert.ok(sink.responses.slice(idx + 1).every((r) => r.events.length === 0));
  });

  test("periodic progress goes to idle synced progress_notify watchers only", () => {
    const { source, scheduler, sink, stream } = rig({ progressIntervalMs: 1000 });
    const notify = stream.createWatch({ key: enc("k"), progressNotify: true });
    const busy = stream.createWatch({ key: enc("j"), progressNotify: true });
    stream.createWatch({ key: enc("k") });
    source.put(enc("j"), enc("1"));
    sink.take();
    scheduler.advance(1000);
    const first = sink.take().filter(isProgressNotify);
    assert.deepEqual(
      first.map((r) => [r.watchId, r.header.revision]),
      [[notify, 2]],
    );
    scheduler.advance(1000);
    const second = sink.take().filter(isProgressNotify);
    assert.deepEqual(second.map((r) => r.watchId).sort(), [notify, busy].sort());
  });
});

describe("fragmenting", () => {
  test("splits a large response only for fragment watchers, all but the last marked", () => {
    const { source, sink, stream } = rig({ maxResponseBytes: 1000 });
    const frag = stream.createWatch({ key: enc("a"), rangeEnd: enc("z"), fragment: true });
    const whole = stream.createWatch({ key: enc("a"), rangeEnd: enc("z") });
    const big = new Uint8Array(300);
    source.txn(["a", "b", "c", "d", "e", "f"].map((k) => ({ put: enc(k), value: big })));
    const parts = sink.responses.filter((r) => r.watchId === frag && r.events.length > 0);
    assert.ok(parts.length >= 2);
    assert.deepEqual(
      parts.map((p) => p.fragment),
      [...parts.slice(1).map(() => true), false],
    );
    assert.deepEqual(
      parts.flatMap((p) => p.events.map((e) => dec(e.kv.key))),
      ["a", "b", "c", "d", "e", "f"],
    );
    const wholes = sink.responses.filter((r) => r.watchId === whole && r.events.length > 0);
    assert.deepEqual([wholes.length, wholes[0]!.events.length, wholes[0]!.fragment], [1, 6, false]);
  });
});
