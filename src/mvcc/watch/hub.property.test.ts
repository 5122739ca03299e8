// Property test of the watch layer: random writes, watchers (start revisions, ranges, filters,
// prev_kv, fragmenting), slow sinks that refuse at random, resumes, cancels, compactions and
// progress requests. Each watcher must get exactly its reference sequence (ordered, no gap, no
// duplicate, revisions never split, right prev_kv) or a prefix of it ending in a legitimate
// cancel, and every progress notification must be a true promise.
// Replay a failure with KVORUM_SEED=<seed printed in the test name>.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { EventType, type MvccEvent } from "../types.js";
import { WatchHub } from "./hub.js";
import { KeyRange } from "./key-range.js";
import { ManualScheduler } from "./manual-scheduler.js";
import { MemoryWatchSource } from "./memory-source.js";
import { isProgressNotify } from "./responses.js";
import type { WatchStream } from "./stream.js";
import type { WatchFilter, WatchResponse } from "./types.js";
import { RecordingSink, dec, enc } from "./test-support.js";

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() % 2 ** 31;
const STREAMS = 3;
const KEYS = ["a", "ab", "abc", "b", "b0", "c"];
const RANGES: Array<[string, string | undefined]> = [
  ["a", undefined],
  ["ab", undefined],
  ["a", "b"], // prefix a
  ["ab", "b0"], // general range
  ["b", "\0"], // from key
  ["\0", "\0"], // everything
];

type Cmd =
  | { t: "put"; key: number; value: number }
  | { t: "del"; key: number }
  | { t: "txn"; keys: number[]; del: boolean[] }
  | {
      t: "watch";
      stream: number;
      range: number;
      start: number; // 0: now; >0: current - (start - 1) (may be compacted); <0: future
      prevKv: boolean;
      filter: number;
      fragment: boolean;
      progressNotify: boolean;
    }
  | { t: "cancel"; stream: number; pick: number }
  | { t: "compact"; back: number }
  | { t: "resume"; stream: number }
  | { t: "run" }
  | { t: "progress"; stream: number }
  | { t: "tick" };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ t: fc.constant("put" as const), key: fc.nat(KEYS.length - 1), value: fc.nat(40) }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("del" as const), key: fc.nat(KEYS.length - 1) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("txn" as const),
      keys: fc.uniqueArray(fc.nat(KEYS.length - 1), { minLength: 1, maxLength: 4 }),
      del: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("watch" as const),
      stream: fc.nat(STREAMS - 1),
      range: fc.nat(RANGES.length - 1),
      start: fc.integer({ min: -3, max: 8 }),
      prevKv: fc.boolean(),
      filter: fc.nat(3),
      fragment: fc.boolean(),
      progressNotify: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("cancel" as const), stream: fc.nat(STREAMS - 1), pick: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("compact" as const), back: fc.nat(6) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("resume" as const), stream: fc.nat(STREAMS - 1) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("run" as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("progress" as const), stream: fc.nat(STREAMS - 1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("tick" as const) }) },
);

const config = fc.record({
  fanoutBudget: fc.integer({ min: 1, max: 4 }),
  catchUpMaxEvents: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant(1000)),
  catchUpMaxWatchers: fc.integer({ min: 1, max: 3 }),
  maxResponseBytes: fc.integer({ min: 80, max: 400 }),
  /** Whether live events arrive with prevKv filled (as from MvccStore). */
  livePrevKv: fc.boolean(),
  /** Per stream, a cyclic pattern of sends the sink refuses (reports a full buffer). */
  refusals: fc.array(
    fc.oneof(
      fc.constant<boolean[]>([false]), // never refuses: exercises the live fan-out
      fc.array(
        fc.nat(5).map((n) => n === 0), // refuses about one send in six
        { minLength: 1, maxLength: 16 },
      ),
    ),
    { minLength: STREAMS, maxLength: STREAMS },
  ),
});

/** A sink that reports "full" following a cyclic pattern (it still records every response). */
class PatternSink extends RecordingSink {
  private sent = 0;
  constructor(public pattern: boolean[]) {
    super();
  }
  override send(resp: WatchResponse): boolean {
    super.send(resp);
    return !this.pattern[this.sent++ % this.pattern.length];
  }
}

/** One committed event as the test saw it, with the value the key had before (for prev_kv). */
interface RefEvent {
  rev: number;
  ev: MvccEvent;
  prevValue: string | undefined;
}

interface WatchRecord {
  stream: number;
  id: number;
  range: KeyRange;
  start: number;
  filters: WatchFilter[];
  prevKv: boolean;
  fragment: boolean;
}

const FILTERS: WatchFilter[][] = [[], ["NOPUT"], ["NODELETE"], ["NOPUT", "NODELETE"]];
const describeEv = (e: MvccEvent) =>
  `${e.type === EventType.PUT ? "PUT" : "DEL"} ${dec(e.kv.key)}@${e.kv.modRevision}`;

type Config = typeof config extends fc.Arbitrary<infer T> ? T : never;

function run(cfg: Config, cmds: Cmd[]): void {
  const { refusals, livePrevKv, ...options } = cfg;
  const source = new MemoryWatchSource({ livePrevKv });
  const scheduler = new ManualScheduler();
  const hub = new WatchHub(source, { scheduler, progressIntervalMs: 1000, ...options });
  const reference: RefEvent[] = [];
  const live = new Map<string, string>();
  source.subscribe((rev, events) => {
    for (const ev of events) {
      const k = dec(ev.kv.key);
      reference.push({ rev, ev, prevValue: live.get(k) });
      if (ev.type === EventType.PUT) live.set(k, dec(ev.kv.value));
      else live.delete(k);
    }
  });
  const sinks = refusals.map((pattern) => new PatternSink(pattern));
  const streams: WatchStream[] = sinks.map((s) => hub.openStream(s));
  const watches: WatchRecord[] = [];
  const compactions: number[] = [];

  for (const c of cmds) {
    switch (c.t) {
      case "put":
        source.put(enc(KEYS[c.key]!), enc(`v${c.value}`.padEnd(c.value, "x")));
        break;
      case "del":
        source.delete(enc(KEYS[c.key]!));
        break;
      case "txn":
        source.txn(
          c.keys.map((k, i) =>
            c.del[i]
              ? { del: enc(KEYS[k]!) }
              : { put: enc(KEYS[k]!), value: enc(`t${source.currentRevision()}`) },
          ),
        );
        break;
      case "watch": {
        const cur = source.currentRevision();
        const startRevision =
          c.start === 0 ? 0 : c.start > 0 ? Math.max(1, cur - (c.start - 1)) : cur - c.start;
        const [key, end] = RANGES[c.range]!;
        const filters = FILTERS[c.filter]!;
        const req = {
          key: key === "\0" ? new Uint8Array([0]) : enc(key),
          rangeEnd: end === undefined ? undefined : end === "\0" ? new Uint8Array([0]) : enc(end),
          startRevision,
          prevKv: c.prevKv,
          filters,
          fragment: c.fragment,
          progressNotify: c.progressNotify,
        };
        const id = streams[c.stream]!.createWatch(req);
        assert.ok(id >= 0);
        watches.push({
          stream: c.stream,
          id,
          range: KeyRange.of(req.key, req.rangeEnd)!,
          start: startRevision === 0 ? cur + 1 : startRevision,
          filters,
          prevKv: c.prevKv,
          fragment: c.fragment,
        });
        break;
      }
      case "cancel": {
        const mine = watches.filter((w) => w.stream === c.stream);
        if (mine.length > 0) streams[c.stream]!.cancelWatch(mine[c.pick % mine.length]!.id);
        break;
      }
      case "compact": {
        const rev = source.currentRevision() - c.back;
        if (rev > source.compactRevision() && rev >= 1) {
          source.compact(rev);
          compactions.push(rev);
        }
        break;
      }
      case "resume":
        streams[c.stream]!.resume();
        break;
      case "run":
        scheduler.runOnce();
        break;
      case "progress":
        streams[c.stream]!.requestProgress();
        break;
      case "tick":
        scheduler.advance(1000);
        break;
    }
  }
  for (let i = 0; i < STREAMS; i++) {
    sinks[i]!.pattern = [false];
    streams[i]!.resume();
  }
  scheduler.runAll();

  for (let s = 0; s < STREAMS; s++) checkStream(s, sinks[s]!.responses, watches, reference, compactions);
  hub.close();
}

function checkStream(
  s: number,
  responses: WatchResponse[],
  watches: WatchRecord[],
  reference: RefEvent[],
  compactions: number[],
): void {
  const mine = new Map(watches.filter((w) => w.stream === s).map((w) => [w.id, w]));
  const alive = new Set<number>();
  const received = new Map<number, MvccEvent[]>();
  const ended = new Map<number, "canceled" | number>();
  /** Per watcher, the lowest revision any later event must exceed (from progress promises). */
  const promised = new Map<number, number>();
  /** Revisions of the response being assembled from fragments, per watcher. */
  const openGroup = new Map<number, MvccEvent[]>();
  const groups = new Map<number, MvccEvent[][]>();

  for (const r of responses) {
    if (r.created) {
      assert.ok(!r.canceled, "no rejected creates expected");
      assert.ok(mine.has(r.watchId) && !alive.has(r.watchId));
      alive.add(r.watchId);
      received.set(r.watchId, []);
      continue;
    }
    if (isProgressNotify(r)) {
      const ids = r.watchId === -1 ? [...alive] : [r.watchId];
      if (r.watchId !== -1) assert.ok(alive.has(r.watchId), "progress for a live watcher");
      for (const id of ids) promised.set(id, Math.max(promised.get(id) ?? 0, r.header.revision));
      continue;
    }
    assert.ok(alive.has(r.watchId), `response for watcher ${r.watchId} outside its life`);
    if (r.canceled) {
      assert.equal(r.events.length, 0);
      ended.set(r.watchId, r.compactRevision > 0 ? r.compactRevision : "canceled");
      alive.delete(r.watchId);
      assert.ok(!openGroup.has(r.watchId), "cancel inside a fragmented response");
      continue;
    }
    const w = mine.get(r.watchId)!;
    assert.ok(r.events.length > 0, "events responses are never empty");
    if (!w.fragment) assert.equal(r.fragment, false);
    const floor = promised.get(r.watchId) ?? 0;
    for (const ev of r.events) {
      assert.ok(ev.kv.modRevision > floor, `event ${describeEv(ev)} after a progress promise for ${floor}`);
    }
    received.get(r.watchId)!.push(...r.events);
    const group = [...(openGroup.get(r.watchId) ?? []), ...r.events];
    if (r.fragment) openGroup.set(r.watchId, group);
    else {
      openGroup.delete(r.watchId);
      groups.set(r.watchId, [...(groups.get(r.watchId) ?? []), group]);
    }
  }

  for (const w of mine.values()) {
    const got = received.get(w.id) ?? [];
    const expected = expectedEvents(w, got, reference, compactions);
    const end = ended.get(w.id);
    const label = `stream ${s} watcher ${w.id} start ${w.start}`;
    assert.deepEqual(
      got.map(describeEv),
      expected.slice(0, got.length).map((e) => describeEv(e.ev)),
      `${label}: events are a gap-free, ordered prefix of the reference`,
    );
    if (end === undefined) {
      assert.equal(got.length, expected.length, `${label}: a live watcher got everything`);
    } else if (typeof end === "number") {
      assert.ok(compactions.includes(end), `${label}: compact_revision ${end} is a real compaction`);
      assert.ok(
        got.every((e) => e.kv.modRevision < end),
        `${label}: canceled only if it still needed <= ${end}`,
      );
    }
    for (let i = 0; i < got.length; i++) {
      const want = w.prevKv ? expected[i]!.prevValue : undefined;
      assert.equal(
        got[i]!.prevKv ? dec(got[i]!.prevKv!.value) : undefined,
        want,
        `${label}: prev_kv of event ${i}`,
      );
    }
    for (const group of groups.get(w.id) ?? []) {
      for (const rev of new Set(group.map((e) => e.kv.modRevision))) {
        const inGroup = group.filter((e) => e.kv.modRevision === rev).length;
        assert.equal(
          inGroup,
          expected.filter((e) => e.rev === rev).length,
          `${label}: revision ${rev} split`,
        );
      }
    }
  }
}

/**
 * What a watcher should receive. A watcher that reads a compaction revision from history (its next
 * revision was exactly that one when read) gets what compaction kept of it: each key's last change
 * there if it is a put, without prev_kv. Per compaction revision, whichever form the watcher got
 * is the one it is held to.
 */
function expectedEvents(
  w: WatchRecord,
  got: MvccEvent[],
  reference: RefEvent[],
  compactions: number[],
): RefEvent[] {
  const wanted = (e: RefEvent) =>
    e.rev >= w.start &&
    w.range.contains(e.ev.kv.key) &&
    !(e.ev.type === EventType.PUT ? w.filters.includes("NOPUT") : w.filters.includes("NODELETE"));
  const shape = (ev: MvccEvent, prev: string | undefined) =>
    `${describeEv(ev)} ${w.prevKv ? (prev ?? "-") : ""}`;
  const out: RefEvent[] = [];
  let i = 0;
  while (i < reference.length) {
    const rev = reference[i]!.rev;
    let j = i;
    while (j < reference.length && reference[j]!.rev === rev) j++;
    const all = reference.slice(i, j);
    const full = all.filter(wanted);
    i = j;
    if (!compactions.includes(rev)) {
      out.push(...full);
      continue;
    }
    const last = new Map<string, RefEvent>();
    for (const e of all) last.set(dec(e.ev.kv.key), e);
    const kept = all
      .filter((e) => e.ev.type === EventType.PUT && last.get(dec(e.ev.kv.key)) === e)
      .map((e) => ({ ...e, prevValue: undefined }))
      .filter(wanted);
    const gotHere = got
      .filter((ev) => ev.kv.modRevision === rev)
      .map((ev) => shape(ev, ev.prevKv ? dec(ev.prevKv.value) : undefined));
    const same = (list: RefEvent[]) =>
      list.length === gotHere.length && list.every((e, k) => shape(e.ev, e.prevValue) === gotHere[k]);
    out.push(...(!same(full) && same(kept) ? kept : full));
  }
  return out;
}

test(`random workloads deliver exactly the reference per watcher (seed ${seed})`, () => {
  fc.assert(
    fc.property(config, fc.array(cmd, { minLength: 1, maxLength: 150 }), (cfg, cmds) => run(cfg, cmds)),
    { seed, numRuns: 700 },
  );
});
