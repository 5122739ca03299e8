// The watch layer on the real MvccStore (MemoryBackend): the store satisfies WatchSource, and live,
// historical (catch-up through readEvents) and slow-sink watchers all see the same events with
// the same prev_kv; compaction cancels as specified. Replay with KVORUM_SEED=<seed printed below>.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBackend } from "../memory-backend.js";
import { openLmdbBackend } from "../lmdb-backend.js";
import { MvccStore } from "../store.js";
import { EventType, type MvccEvent, type RequestOp } from "../types.js";
import { WatchHub } from "./hub.js";
import { ManualScheduler } from "./manual-scheduler.js";
import type { WatchSource } from "./source.js";
import { RecordingSink, dec, enc } from "./test-support.js";

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() % 2 ** 31;

function setup() {
  const store = MvccStore.open(new MemoryBackend());
  const source: WatchSource = store; // compile-time check: MvccStore structurally satisfies WatchSource
  const scheduler = new ManualScheduler();
  const hub = new WatchHub(source, { scheduler, catchUpMaxEvents: 3 });
  return { store, scheduler, hub };
}

const line = (e: MvccEvent): string =>
  `${e.type === EventType.PUT ? "PUT" : "DEL"} ${dec(e.kv.key)}=${dec(e.kv.value)}@${e.kv.modRevision}` +
  (e.prevKv ? ` prev=${dec(e.prevKv.value)}@${e.prevKv.modRevision}` : "");

function lines(sink: RecordingSink): string[] {
  return sink.responses.flatMap((r) => r.events.map(line));
}

test("live watchers on the real store: puts, deletes and txns with prev_kv", () => {
  const { store, hub } = setup();
  const sink = new RecordingSink();
  hub.openStream(sink).createWatch({ key: enc("a/"), rangeEnd: enc("a0"), prevKv: true });
  store.put({ key: enc("a/1"), value: enc("x") });
  store.put({ key: enc("a/1"), value: enc("y") });
  store.put({ key: enc("b"), value: enc("z") });
  store.txn({
    compare: [],
    success: [
      { requestPut: { key: enc("a/2"), value: enc("w") } },
      { requestDeleteRange: { key: enc("a/1") } },
    ],
    failure: [],
  });
  assert.deepEqual(lines(sink), [
    "PUT a/1=x@2",
    "PUT a/1=y@3 prev=x@2",
    "PUT a/2=w@5",
    "DEL a/1=@5 prev=y@3",
  ]);
  assert.equal(sink.responses.at(-1)!.events.length, 2); // the txn's revision in one response
});

test("compaction on the real store cancels an old start and a blocked watcher", () => {
  const { store, scheduler, hub } = setup();
  const slow = new RecordingSink();
  const slowStream = hub.openStream(slow);
  const slowId = slowStream.createWatch({ key: enc("k") });
  slow.full = true;
  for (let i = 0; i < 4; i++) store.put({ key: enc("k"), value: enc(`${i}`) });
  store.compact(4);
  const late = new RecordingSink();
  hub.openStream(late).createWatch({ key: enc("k"), startRevision: 3 });
  assert.deepEqual(
    late.responses.map((r) => [r.created, r.canceled, r.compactRevision]),
    [
      [true, false, 0],
      [false, true, 4],
    ],
  );
  slow.full = false;
  slowStream.resume();
  scheduler.runAll();
  const last = slow.responses.at(-1)!;
  assert.deepEqual([last.watchId, last.canceled, last.compactRevision], [slowId, true, 4]);
});

test("on the real store a start at the compaction revision replays its kept puts, before and after physical compaction", () => {
  for (const physical of [false, true]) {
    const { store, scheduler, hub } = setup();
    store.put({ key: enc("a"), value: enc("1") }); // 2
    store.put({ key: enc("a"), value: enc("2") }); // 3
    store.txn({
      compare: [],
      success: [
        { requestPut: { key: enc("b"), value: enc("1") } },
        { requestDeleteRange: { key: enc("a") } },
        { requestPut: { key: enc("c"), value: enc("1") } },
      ],
      failure: [],
    }); // 4
    store.put({ key: enc("b"), value: enc("2") }); // 5
    store.compact(4);
    if (physical) store.finishCompaction();
    const sink = new RecordingSink();
    const stream = hub.openStream(sink);
    stream.createWatch({ key: enc("\0"), rangeEnd: enc("\0"), startRevision: 4, prevKv: true });
    stream.createWatch({ key: enc("\0"), rangeEnd: enc("\0"), startRevision: 3 });
    scheduler.runAll();
    assert.deepEqual(
      sink.responses.filter((r) => r.watchId === 0).flatMap((r) => r.events.map(line)),
      ["PUT b=1@4", "PUT c=1@4", "PUT b=2@5 prev=1@4"],
      `physical=${physical}`,
    );
    const cancel = sink.responses.find((r) => r.watchId === 1 && r.canceled);
    assert.equal(cancel?.compactRevision, 4, `physical=${physical}`);
  }
});

type Op = { put: number; value: number } | { del: number } | { txn: number[] };
const KEYS = ["p/a", "p/b", "p/c", "q"];

function apply(store: MvccStore, op: Op): void {
  if ("put" in op) store.put({ key: enc(KEYS[op.put]!), value: enc(`v${op.value}`) });
  else if ("del" in op) store.deleteRange({ key: enc(KEYS[op.del]!) });
  else {
    const success: RequestOp[] = op.txn.map((k, i) =>
      i % 2 === 0
        ? { requestPut: { key: enc(KEYS[k]!), value: enc(`t${i}`) } }
        : { requestDeleteRange: { key: enc(KEYS[k]!) } },
    );
    store.txn({ compare: [], success, failure: [] });
  }
}

/**
 * Applies ops with a live, a slow (refusing per `refuse`) and afterwards a historical watcher on
 * one prefix, and checks all three saw the same events with the same prev_kv.
 */
function checkAgreement(store: MvccStore, ops: Op[], refuse: boolean[]): void {
  const scheduler = new ManualScheduler();
  const hub = new WatchHub(store, { scheduler, catchUpMaxEvents: 3 });
  const startRevision = store.currentRevision() + 1;
  const watch = { key: enc("p/"), rangeEnd: enc("p0"), prevKv: true };
  const live = new RecordingSink();
  hub.openStream(live).createWatch(watch);
  const slow = new RecordingSink();
  let sent = 0;
  const slowStream = hub.openStream({ send: (r) => slow.send(r) && !refuse[sent++ % refuse.length] });
  slowStream.createWatch(watch);
  ops.forEach((o, i) => {
    apply(store, o);
    if (i % 3 === 0) slowStream.resume();
    if (i % 4 === 0) scheduler.runOnce();
  });
  const historical = new RecordingSink();
  hub.openStream(historical).createWatch({ ...watch, startRevision });
  refuse.fill(false);
  slowStream.resume();
  scheduler.runAll();
  const expected = lines(live);
  assert.deepEqual(lines(slow), expected);
  assert.deepEqual(lines(historical), expected);
  hub.close();
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ put: fc.nat(KEYS.length - 1), value: fc.nat(9) }),
  fc.record({ del: fc.nat(KEYS.length - 1) }),
  fc.record({ txn: fc.uniqueArray(fc.nat(KEYS.length - 1), { minLength: 1, maxLength: 3 }) }),
);
const refuseArb = fc.array(fc.boolean(), { minLength: 1, maxLength: 8 });

test(`live, historical and slow watchers agree on the real store (seed ${seed})`, () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), refuseArb, (ops, refuse) => {
      checkAgreement(MvccStore.open(new MemoryBackend()), ops, refuse);
    }),
    { seed, numRuns: 60 },
  );
});

test(`the same on the LMDB backend (seed ${seed})`, async () => {
  const dir = await mkdtemp(join(tmpdir(), "kvorum-watch-"));
  const backend = openLmdbBackend(dir, { durability: "lazy" });
  try {
    const store = MvccStore.open(backend);
    // One store for all runs: each run watches from the revision it starts at.
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30 }), refuseArb, (ops, refuse) =>
        checkAgreement(store, ops, refuse),
      ),
      { seed, numRuns: 15 },
    );
  } finally {
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  }
});
