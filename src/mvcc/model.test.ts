// Model-based property test: random sequences of put / delete / txn / compact / range /
// readEvents / restart run in lockstep on a MvccStore over the in-memory backend, one over LMDB,
// and a deliberately naive reference model written here (full history per key, no indexes).
// Responses, errors, revisions, versions and event streams must match; at the end, Hash and
// HashKV must agree between the backends. Replay a failure with KVORUM_SEED=<seed> (and
// KVORUM_PATH=<path> printed by fast-check).

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { EtcdError } from "./errors.js";
import { MvccStore, type LeaseRegistry } from "./store.js";
import { BACKEND_KINDS, type TestBackend } from "./test-backends.js";
import {
  CompareResult,
  CompareTarget,
  EventType,
  SortOrder,
  SortTarget,
  type Compare,
  type DeleteRangeRequest,
  type KeyValue,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
} from "./types.js";

const MAX_TXN_OPS = 4;
const KNOWN_LEASES = new Set([1n, 2n]);

// ----- the reference model -------------------------------------------------------------------

/** Keys as latin1 strings: JS string order then equals bytewise order. */
type K = string;
const k2s = (b: Uint8Array): K => Buffer.from(b).toString("latin1");

interface MKv {
  key: K;
  value: K;
  create: number;
  mod: number;
  version: number;
  lease: bigint;
}
interface MEvent {
  type: EventType;
  kv: MKv;
  prev?: MKv;
}

class ModelError extends Error {}
const fail = (message: string): never => {
  throw new ModelError(message);
};
const E = {
  compacted: "etcdserver: mvcc: required revision has been compacted",
  future: "etcdserver: mvcc: required revision is a future revision",
  leaseNotFound: "etcdserver: requested lease not found",
  tooMany: "etcdserver: too many operations in txn request",
  dup: "etcdserver: duplicate key given in txn request",
  emptyKey: "etcdserver: key is not provided",
  keyNotFound: "etcdserver: key not found",
  valueProvided: "etcdserver: value is provided",
  leaseProvided: "etcdserver: lease is provided",
};

interface Span {
  start: K;
  end: K | null; // null: unbounded
  single: boolean;
}
function mspan(key: Uint8Array, rangeEnd?: Uint8Array): Span {
  const s = k2s(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start: s, end: s, single: true };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start: s, end: null, single: false };
  return { start: s, end: k2s(rangeEnd), single: false };
}
const inSpan = (sp: Span, k: K): boolean =>
  sp.single ? k === sp.start : k >= sp.start && (sp.end === null || k < sp.end);

class Model {
  rev = 1;
  compacted = 0;
  applied = 0;
  readonly history = new Map<K, Array<{ rev: number; kv: MKv | undefined }>>();
  readonly events = new Map<number, MEvent[]>();

  at(key: K, rev: number): MKv | undefined {
    let found: MKv | undefined;
    for (const h of this.history.get(key) ?? []) if (h.rev <= rev) found = h.kv;
    return found;
  }
  keysAt(sp: Span, rev: number): MKv[] {
    return [...this.history.keys()]
      .filter((k) => inSpan(sp, k))
      .sort()
      .map((k) => this.at(k, rev))
      .filter((kv): kv is MKv => kv !== undefined);
  }

  range(req: RangeRequest, visible: number): unknown {
    if (req.key.length === 0) fail(E.emptyKey);
    const rev = (req.revision ?? 0) > 0 ? req.revision! : visible;
    if (rev > visible) fail(E.future);
    if (rev < this.compacted) fail(E.compacted);
    const all = this.keysAt(mspan(req.key, req.rangeEnd), rev);
    if (req.countOnly) return { header: { revision: visible }, kvs: [], more: false, count: all.length };
    // etcd 3.4 fetches only limit + 1 keys (in key order) unless sort_order or a filter is set;
    // sorting by a non-key target with order NONE then sorts just those.
    const fetchAll =
      (req.sortOrder ?? SortOrder.NONE) !== SortOrder.NONE ||
      !!req.minModRevision ||
      !!req.maxModRevision ||
      !!req.minCreateRevision ||
      !!req.maxCreateRevision;
    const fetched = !fetchAll && (req.limit ?? 0) > 0 ? all.slice(0, req.limit! + 1) : all;
    let kvs = fetched.filter(
      (kv) =>
        (!req.maxModRevision || kv.mod <= req.maxModRevision) &&
        (!req.minModRevision || kv.mod >= req.minModRevision) &&
        (!req.maxCreateRevision || kv.create <= req.maxCreateRevision) &&
        (!req.minCreateRevision || kv.create >= req.minCreateRevision),
    );
    const target = req.sortTarget ?? SortTarget.KEY;
    let order = req.sortOrder ?? SortOrder.NONE;
    if (target !== SortTarget.KEY && order === SortOrder.NONE) order = SortOrder.ASCEND;
    if (order !== SortOrder.NONE) {
      const field = (kv: MKv): number | string =>
        [kv.key, kv.version, kv.create, kv.mod, kv.value][target] as number | string;
      const dir = order === SortOrder.DESCEND ? -1 : 1;
      kvs = [...kvs].sort((a, b) => {
        const x = field(a);
        const y = field(b);
        return x < y ? -dir : x > y ? dir : 0;
      });
    }
    const limit = req.limit ?? 0;
    const more = limit > 0 && kvs.length > limit;
    if (more) kvs = kvs.slice(0, limit);
    return {
      header: { revision: visible },
      kvs: kvs.map((kv) => (req.keysOnly ? { ...kv, value: "" } : kv)),
      more,
      count: all.length,
    };
  }

  private write(
    fn: (w: MEvent[], next: number) => unknown,
    raftIndex: number,
    validate: () => void,
  ): unknown {
    if (raftIndex <= this.applied) return "skipped";
    try {
      validate();
    } catch (e) {
      this.applied = raftIndex;
      throw e;
    }
    this.applied = raftIndex;
    const events: MEvent[] = [];
    const result = fn(events, this.rev + 1);
    if (events.length > 0) {
      this.rev++;
      this.events.set(this.rev, events);
    }
    return result;
  }

  private checkPut(p: PutRequest): void {
    if (p.key.length === 0) fail(E.emptyKey);
    if (p.ignoreValue && p.value.length > 0) fail(E.valueProvided);
    if (p.ignoreLease && (p.lease ?? 0n) !== 0n) fail(E.leaseProvided);
  }

  private doPut(p: PutRequest, events: MEvent[], next: number): unknown {
    const key = k2s(p.key);
    const prev = this.at(key, next);
    const kv: MKv = {
      key,
      value: p.ignoreValue ? (prev?.value ?? "") : k2s(p.value),
      create: prev ? prev.create : next,
      mod: next,
      version: prev ? prev.version + 1 : 1,
      lease: p.ignoreLease ? (prev?.lease ?? 0n) : (p.lease ?? 0n),
    };
    this.record(key, next, kv);
    events.push(prev ? { type: EventType.PUT, kv, prev } : { type: EventType.PUT, kv });
    return p.prevKv && prev ? { header: { revision: next }, prevKv: prev } : { header: { revision: next } };
  }

  private doDelete(d: DeleteRangeRequest, events: MEvent[], next: number): unknown {
    const victims = this.keysAt(mspan(d.key, d.rangeEnd), next);
    for (const prev of victims) {
      this.record(prev.key, next, undefined);
      events.push({
        type: EventType.DELETE,
        kv: { key: prev.key, value: "", create: 0, mod: next, version: 0, lease: 0n },
        prev,
      });
    }
    return {
      header: { revision: events.length > 0 ? next : next - 1 },
      deleted: victims.length,
      prevKvs: d.prevKv ? victims : [],
    };
  }

  private record(key: K, rev: number, kv: MKv | undefined): void {
    // One key can change twice in a revision: etcd's overlap check misses a delete with range_end "\0".
    const h = this.history.get(key) ?? [];
    h.push({ rev, kv });
    this.history.set(key, h);
  }

  put(p: PutRequest, raftIndex: number): unknown {
    return this.write(
      (ev, next) => this.doPut(p, ev, next),
      raftIndex,
      () => {
        this.checkPut(p);
        if ((p.lease ?? 0n) !== 0n && !KNOWN_LEASES.has(p.lease!)) fail(E.leaseNotFound);
        if ((p.ignoreValue || p.ignoreLease) && !this.at(k2s(p.key), this.rev)) fail(E.keyNotFound);
      },
    );
  }

  deleteRange(d: DeleteRangeRequest, raftIndex: number): unknown {
    return this.write(
      (ev, next) => this.doDelete(d, ev, next),
      raftIndex,
      () => {
        if (d.key.length === 0) fail(E.emptyKey);
      },
    );
  }

  compact(rev: number, raftIndex: number): unknown {
    return this.write(
      () => {
        this.compacted = rev;
        return { header: { revision: this.rev } };
      },
      raftIndex,
      () => {
        if (rev <= this.compacted) fail(E.compacted);
        if (rev > this.rev) fail(E.future);
      },
    );
  }

  private cmp(c: Compare): boolean {
    const kvs = this.keysAt(mspan(c.key, c.rangeEnd), this.rev);
    const test = (kv: MKv | undefined): boolean => {
      let r: number;
      if (c.target === CompareTarget.VALUE) {
        if (kv === undefined) return false;
        const want = k2s(c.value ?? new Uint8Array());
        r = kv.value < want ? -1 : kv.value > want ? 1 : 0;
      } else {
        const have = [kv?.version ?? 0, kv?.create ?? 0, kv?.mod ?? 0, 0, Number(kv?.lease ?? 0n)][c.target]!;
        const want = [c.version, c.createRevision, c.modRevision, 0, Number(c.lease ?? 0n)][c.target] ?? 0;
        r = Math.sign(have - want);
      }
      return [r === 0, r > 0, r < 0, r !== 0][c.result]!;
    };
    return kvs.length === 0 ? test(undefined) : kvs.every(test);
  }

  /** Ops chosen by compares at the current (pre-Txn) state, recursively. */
  private choose(t: TxnRequest): {
    ok: boolean;
    ops: Array<{ op: RequestOp; nested?: ReturnType<Model["choose"]> }>;
  } {
    const ok = t.compare.every((c) => this.cmp(c));
    return {
      ok,
      ops: (ok ? t.success : t.failure).map((op) =>
        "requestTxn" in op ? { op, nested: this.choose(op.requestTxn) } : { op },
      ),
    };
  }

  private shape(t: TxnRequest, budget: number): void {
    const opc = Math.max(t.compare.length, t.success.length, t.failure.length);
    if (opc > budget) fail(E.tooMany);
    if (t.compare.some((c) => c.key.length === 0)) fail(E.emptyKey);
    for (const op of [...t.success, ...t.failure]) {
      if ("requestPut" in op) this.checkPut(op.requestPut);
      else if ("requestTxn" in op) this.shape(op.requestTxn, budget - opc);
      else if ("requestRange" in op && op.requestRange.key.length === 0) fail(E.emptyKey);
      else if ("requestDeleteRange" in op && op.requestDeleteRange.key.length === 0) fail(E.emptyKey);
    }
  }

  /** Puts (keys) and deletes (spans, range_end taken literally) of a branch; throws on overlap. */
  private overlaps(ops: RequestOp[]): { puts: Set<K>; dels: Array<[K, K]> } {
    const dels: Array<[K, K]> = [];
    for (const op of ops) {
      if (!("requestDeleteRange" in op)) continue;
      const d = op.requestDeleteRange;
      const s = k2s(d.key);
      dels.push(d.rangeEnd && d.rangeEnd.length > 0 ? [s, k2s(d.rangeEnd)] : [s, s + "\u0000"]);
    }
    const deleted = (k: K): boolean => dels.some(([a, b]) => a <= k && k < b);
    const puts = new Set<K>();
    for (const op of ops) {
      if (!("requestTxn" in op)) continue;
      const a = this.overlaps(op.requestTxn.success);
      const b = this.overlaps(op.requestTxn.failure);
      for (const k of a.puts) {
        if (puts.has(k) || deleted(k)) fail(E.dup);
        puts.add(k);
      }
      for (const k of b.puts) {
        if ((puts.has(k) && !a.puts.has(k)) || deleted(k)) fail(E.dup);
        puts.add(k);
      }
      dels.push(...a.dels, ...b.dels);
    }
    for (const op of ops) {
      if (!("requestPut" in op)) continue;
      const k = k2s(op.requestPut.key);
      if (puts.has(k) || deleted(k)) fail(E.dup);
      puts.add(k);
    }
    return { puts, dels };
  }

  private checkChosen(plan: ReturnType<Model["choose"]>): void {
    for (const { op, nested } of plan.ops) {
      if ("requestRange" in op) {
        const r = op.requestRange.revision ?? 0;
        if (r > 0 && r > this.rev) fail(E.future);
        if (r > 0 && r < this.compacted) fail(E.compacted);
      } else if ("requestPut" in op) {
        const p = op.requestPut;
        if ((p.ignoreValue || p.ignoreLease) && !this.at(k2s(p.key), this.rev)) fail(E.keyNotFound);
        if ((p.lease ?? 0n) !== 0n && !KNOWN_LEASES.has(p.lease!)) fail(E.leaseNotFound);
      } else if (nested) this.checkChosen(nested);
    }
  }

  txn(t: TxnRequest, raftIndex: number): unknown {
    let plan: ReturnType<Model["choose"]> | undefined;
    const run = (p: ReturnType<Model["choose"]>, ev: MEvent[], next: number): unknown => {
      const responses = p.ops.map(({ op, nested }) => {
        if ("requestRange" in op)
          return { responseRange: this.range(op.requestRange, ev.length > 0 ? next : next - 1) };
        if ("requestPut" in op) return { responsePut: this.doPut(op.requestPut, ev, next) };
        if ("requestDeleteRange" in op)
          return { responseDeleteRange: this.doDelete(op.requestDeleteRange, ev, next) };
        return { responseTxn: run(nested!, ev, next) };
      });
      return { header: { revision: ev.length > 0 ? next : next - 1 }, succeeded: p.ok, responses };
    };
    return this.write(
      (ev, next) => run(plan!, ev, next),
      raftIndex,
      () => {
        this.shape(t, MAX_TXN_OPS);
        this.overlaps(t.success);
        this.overlaps(t.failure);
        plan = this.choose(t);
        this.checkChosen(plan);
      },
    );
  }

  readEvents(from: number, to: number, max: number): unknown {
    if (from < this.compacted) fail(E.compacted);
    const end = Math.min(to, this.rev);
    const events: Array<{ revision: number; event: MEvent }> = [];
    let last = end;
    for (let r = Math.max(from, 1); r <= end; r++) {
      let evs = this.events.get(r) ?? [];
      if (r === this.compacted) {
        // What compaction keeps of its own revision: each key's last change there, if a put.
        const lastOf = new Map(evs.map((e) => [e.kv.key, e]));
        evs = evs.filter((e) => e.type === EventType.PUT && lastOf.get(e.kv.key) === e);
      }
      if (evs.length > 0 && events.length >= max) {
        last = r - 1;
        break;
      }
      for (const e of evs) events.push({ revision: r, event: { type: e.type, kv: e.kv } });
    }
    // The store reports the last revision it included when it stops early.
    if (last < end) last = events[events.length - 1]!.revision;
    return { events, lastRevision: last };
  }
}

// ----- normalizing store output to the model's shapes -----------------------------------------

function norm(x: unknown): unknown {
  if (x instanceof Uint8Array) return k2s(x);
  if (Array.isArray(x)) return x.map(norm);
  if (x !== null && typeof x === "object") {
    const o = x as Record<string, unknown>;
    if ("createRevision" in o && "modRevision" in o) {
      const kv = o as unknown as KeyValue;
      return {
        key: k2s(kv.key),
        value: k2s(kv.value),
        create: kv.createRevision,
        mod: kv.modRevision,
        version: kv.version,
        lease: kv.lease,
      };
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o))
      if (v !== undefined) out[k === "prevKv" && "type" in o ? "prev" : k] = norm(v);
    return out;
  }
  return x;
}

function outcome(fn: () => unknown): unknown {
  try {
    return { ok: norm(fn()) };
  } catch (e) {
    if (e instanceof EtcdError || e instanceof ModelError) return { error: e.message };
    throw e;
  }
}

// ----- generators --------------------------------------------------------------------------

// Mostly one-byte keys, so requests often meet the same keys again.
const keyByte = fc.constantFrom(0x00, 0x61, 0x62, 0x63, 0xff);
const keyArb = fc
  .oneof({ weight: 3, arbitrary: fc.tuple(keyByte) }, { weight: 1, arbitrary: fc.tuple(keyByte, keyByte) })
  .map((a) => new Uint8Array(a));
/** Usually a key, one time in sixteen empty (fast-check biases constantFrom to the first). */
const maybeEmptyKey = fc
  .tuple(keyArb, fc.constantFrom(...Array<boolean>(15).fill(false), true))
  .map(([k, empty]) => (empty ? new Uint8Array() : k));
const rangeEndArb = fc.oneof(
  fc.constant(undefined),
  fc.constant(new Uint8Array([0])),
  keyArb,
  fc.constant(new Uint8Array([0xff, 0xff, 0xff])),
);
const valueArb = fc.constantFrom("", "x", "y", "zz").map((s) => new Uint8Array(Buffer.from(s)));
const leaseArb = fc.constantFrom(0n, 0n, 1n, 2n, 3n);
const revArb = fc.integer({ min: -1, max: 16 });
const smallRev = fc.oneof(fc.constant(undefined), fc.constant(0), revArb);

/** True one time in eight (biased to false): ignore_* flags fail most requests when set. */
const rareBool = fc.constantFrom(false, false, false, false, false, false, false, true);
const putArb: fc.Arbitrary<PutRequest> = fc.record(
  {
    key: maybeEmptyKey,
    value: valueArb,
    lease: leaseArb,
    prevKv: fc.boolean(),
    ignoreValue: rareBool,
    ignoreLease: rareBool,
  },
  { requiredKeys: ["key", "value", "lease"] },
);
const deleteArb: fc.Arbitrary<DeleteRangeRequest> = fc.record(
  { key: maybeEmptyKey, rangeEnd: rangeEndArb, prevKv: fc.boolean() },
  { requiredKeys: ["key"] },
);
/** Ranges mostly span several keys, so sorting, limits and filters have work to do. */
const wideRangeEnd = fc.oneof(
  { weight: 3, arbitrary: fc.constant(new Uint8Array([0])) },
  { weight: 2, arbitrary: keyArb },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const rangeArb: fc.Arbitrary<RangeRequest> = fc.record(
  {
    key: maybeEmptyKey,
    rangeEnd: wideRangeEnd,
    limit: fc.integer({ min: 0, max: 3 }),
    revision: smallRev,
    sortOrder: fc.constantFrom(SortOrder.NONE, SortOrder.ASCEND, SortOrder.DESCEND),
    sortTarget: fc.constantFrom(
      SortTarget.KEY,
      SortTarget.VERSION,
      SortTarget.CREATE,
      SortTarget.MOD,
      SortTarget.VALUE,
    ),
    keysOnly: fc.boolean(),
    countOnly: rareBool,
    minModRevision: smallRev,
    maxModRevision: smallRev,
    minCreateRevision: smallRev,
    maxCreateRevision: smallRev,
  },
  { requiredKeys: ["key", "rangeEnd", "sortOrder", "sortTarget"] },
);
const compareArb: fc.Arbitrary<Compare> = fc.record(
  {
    key: maybeEmptyKey,
    rangeEnd: rangeEndArb,
    result: fc.constantFrom(
      CompareResult.EQUAL,
      CompareResult.GREATER,
      CompareResult.LESS,
      CompareResult.NOT_EQUAL,
    ),
    target: fc.constantFrom(
      CompareTarget.VERSION,
      CompareTarget.CREATE,
      CompareTarget.MOD,
      CompareTarget.VALUE,
      CompareTarget.LEASE,
    ),
    version: fc.integer({ min: 0, max: 3 }),
    createRevision: fc.integer({ min: 0, max: 10 }),
    modRevision: fc.integer({ min: 0, max: 10 }),
    value: valueArb,
    lease: fc.constantFrom(0n, 1n),
  },
  { requiredKeys: ["key", "result", "target"] },
);
const txnArb: fc.Arbitrary<TxnRequest> = fc.letrec<{ txn: TxnRequest; op: RequestOp }>((tie) => ({
  txn: fc.record({
    compare: fc.array(compareArb, { maxLength: 3, size: "xsmall" }),
    success: fc.array(tie("op"), { maxLength: MAX_TXN_OPS + 1, size: "xsmall" }),
    failure: fc.array(tie("op"), { maxLength: MAX_TXN_OPS + 1, size: "xsmall" }),
  }),
  op: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    putArb.map((p) => ({ requestPut: p })),
    deleteArb.map((d) => ({ requestDeleteRange: d })),
    rangeArb.map((r) => ({ requestRange: r })),
    tie("txn").map((t) => ({ requestTxn: t })),
  ),
})).txn;
/** Flat Txns of 2 to MAX_TXN_OPS + 1 writes on few keys: duplicate and op-count errors. */
const crowdedTxnArb: fc.Arbitrary<TxnRequest> = fc.record({
  compare: fc.constant([]),
  success: fc.array(
    fc.oneof(
      putArb.map((p): RequestOp => ({ requestPut: p })),
      deleteArb.map((d): RequestOp => ({ requestDeleteRange: d })),
    ),
    { minLength: 2, maxLength: MAX_TXN_OPS + 1 },
  ),
  failure: fc.constant([]),
});

type Step =
  | { kind: "put"; req: PutRequest }
  | { kind: "delete"; req: DeleteRangeRequest }
  | { kind: "range"; req: RangeRequest }
  | { kind: "txn"; req: TxnRequest }
  | { kind: "compact"; rev: number }
  | { kind: "readEvents"; from: number; to: number; max: number }
  | { kind: "valueBefore"; key: Uint8Array; rev: number }
  | { kind: "replay" }
  | { kind: "compactionStep"; max: number }
  | { kind: "restart" };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: putArb.map((req) => ({ kind: "put" as const, req })) },
  { weight: 2, arbitrary: deleteArb.map((req) => ({ kind: "delete" as const, req })) },
  { weight: 3, arbitrary: rangeArb.map((req) => ({ kind: "range" as const, req })) },
  { weight: 3, arbitrary: txnArb.map((req) => ({ kind: "txn" as const, req })) },
  { weight: 1, arbitrary: crowdedTxnArb.map((req) => ({ kind: "txn" as const, req })) },
  { weight: 1, arbitrary: revArb.map((rev) => ({ kind: "compact" as const, rev })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ from: revArb, to: revArb, max: fc.integer({ min: 1, max: 4 }) })
      .map((r) => ({ kind: "readEvents" as const, ...r })),
  },
  {
    weight: 1,
    arbitrary: fc.record({ key: keyArb, rev: revArb }).map((r) => ({ kind: "valueBefore" as const, ...r })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "replay" as const }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 3 }).map((max) => ({ kind: "compactionStep" as const, max })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
);

/** A few plain puts first, so ranges, sorts and filters see several keys. */
const preloadArb: fc.Arbitrary<Step[]> = fc.array(
  fc.record({ key: keyArb, value: valueArb }).map((req) => ({ kind: "put" as const, req })),
  { minLength: 2, maxLength: 8 },
);

// ----- the property ------------------------------------------------------------------------

const leases: LeaseRegistry = { exists: (id) => KNOWN_LEASES.has(id), attach: () => {}, detach: () => {} };

interface Subject {
  name: string;
  t: TestBackend;
  store: MvccStore;
  seen: Array<[number, unknown]>;
}

async function openSubject(
  t: TestBackend,
  name: string,
  seen: Array<[number, unknown]> = [],
): Promise<Subject> {
  const store = MvccStore.open(t.backend, { maxTxnOps: MAX_TXN_OPS, leases });
  store.subscribe((rev, events) => seen.push([rev, norm(events)]));
  return Promise.resolve({ name, t, store, seen });
}

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() % 2 ** 31;
const replayPath = process.env.KVORUM_PATH;

test(`MvccStore matches the reference model on both backends (KVORUM_SEED=${seed})`, async () => {
  console.log(`model test seed: KVORUM_SEED=${seed}`);
  await fc.assert(
    fc.asyncProperty(
      fc.tuple(preloadArb, fc.array(stepArb, { minLength: 1, maxLength: 60, size: "max" })),
      async ([preload, rest]) => {
        const steps = [...preload, ...rest];
        const model = new Model();
        const subjects: Subject[] = [];
        for (const kind of BACKEND_KINDS) subjects.push(await openSubject(await kind.create(), kind.name));
        let raftIndex = 0;
        try {
          for (const step of steps) {
            if (step.kind === "restart") {
              for (let i = 0; i < subjects.length; i++) {
                const s = subjects[i]!;
                await s.t.reopen();
                subjects[i] = await openSubject(s.t, s.name, s.seen);
              }
              continue;
            }
            if (step.kind === "compactionStep") {
              // Physical compaction progress must be invisible: later steps compare as usual.
              for (const s of subjects) s.store.compactionStep(step.max);
              continue;
            }
            if (step.kind === "replay" && model.applied === 0) continue;
            const idx = step.kind === "replay" ? model.applied : ++raftIndex;
            const run = (on: MvccStore | Model): unknown => {
              switch (step.kind) {
                case "put":
                  return outcome(() => on.put(step.req, idx));
                case "delete":
                  return outcome(() => on.deleteRange(step.req, idx));
                case "txn":
                  return outcome(() => on.txn(step.req, idx));
                case "compact":
                  return outcome(() => on.compact(step.rev, idx));
                case "replay": // an already applied index must be skipped
                  return outcome(() => {
                    const r = on.put({ key: new Uint8Array([0x61]), value: new Uint8Array([0x52]) }, idx);
                    return on instanceof Model ? r : "skipped";
                  });
                case "range":
                  return outcome(() =>
                    on instanceof Model ? on.range(step.req, on.rev) : on.range(step.req),
                  );
                case "readEvents":
                  return outcome(() => on.readEvents(step.from, step.to, step.max));
                case "valueBefore":
                  if (step.rev - 1 < model.compacted) return "skip";
                  return outcome(() =>
                    on instanceof Model
                      ? (on.at(k2s(step.key), step.rev - 1) ?? null)
                      : (on.valueBefore(step.key, step.rev) ?? null),
                  );
              }
            };
            const expected = run(model);
            for (const s of subjects) {
              assert.deepStrictEqual(run(s.store), expected, `${s.name}: ${JSON.stringify(step, replacer)}`);
              assert.equal(s.store.currentRevision(), model.rev, `${s.name} revision`);
              assert.equal(s.store.compactRevision(), model.compacted, `${s.name} compact revision`);
              assert.equal(s.store.appliedIndex(), model.applied, `${s.name} applied index`);
            }
          }
          // Every committed revision was announced once, in order, with the model's events.
          const announced = [...model.events.entries()].map(([rev, evs]) => [rev, norm(evs)]);
          for (const s of subjects) assert.deepStrictEqual(s.seen, announced, `${s.name} listener events`);
          // Both backends hold byte-identical state.
          const [a, b] = subjects;
          assert.deepStrictEqual(a!.store.hash(), b!.store.hash());
          assert.deepStrictEqual(a!.store.hashKV(0), b!.store.hashKV(0));
          // The on-disk lease index lists exactly the live keys that have a lease.
          const leased = model
            .keysAt({ start: "\u0000", end: null, single: false }, model.rev)
            .filter((kv) => kv.lease !== 0n)
            .map((kv) => [kv.lease, kv.key] as const)
            .sort((x, y) =>
              x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0,
            );
          for (const s of subjects) {
            assert.deepStrictEqual(
              [...s.store.leasedKeys()].map(([l, k]) => [l, k2s(k)]),
              leased.map(([l, k]) => [l, k]),
              `${s.name} lease index`,
            );
          }
        } finally {
          for (const s of subjects) await s.t.cleanup();
        }
      },
    ),
    {
      seed,
      numRuns: Number(process.env.KVORUM_RUNS ?? 60),
      includeErrorInReport: true,
      ...(replayPath !== undefined ? { path: replayPath } : {}),
    },
  );
});

function replacer(_k: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return `0x${Buffer.from(v).toString("hex")}`;
  if (typeof v === "bigint") return `${v}n`;
  return v;
}
