// The checker on known histories, including the tricky ones, and a property: any history made by
// really executing operations atomically at some moment inside their [call, return] windows is
// linearizable, and stays so with unknown outcomes; a read changed to a value never written is not.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { checkLinearizable } from "./linearizability.js";
import { revisionedStoreModel } from "./store-model.js";
import {
  kvRegisterModel,
  pruneUnobservedUnknowns,
  type KvInput,
  type KvOperation,
  type KvOutput,
} from "./kv-model.js";

const seed = Number(process.env.KVORUM_SEED ?? Date.now() % 1_000_000);
console.log(`linearizability property seed ${seed} (replay with KVORUM_SEED=${seed})`);

let client = 0;
function op(input: KvInput, output: KvOutput | undefined, call: number, ret: number): KvOperation {
  return { client: client++, input, output, call, ret: output === undefined ? Infinity : ret };
}
const put = (value: string, call: number, ret: number, key = "k") =>
  op({ op: "put", key, value }, {}, call, ret);
const get = (value: string | null, call: number, ret: number, key = "k") =>
  op({ op: "get", key }, { value }, call, ret);
const ok = (h: KvOperation[]) => checkLinearizable(kvRegisterModel, h).ok;

test("sequential and overlapping histories that are linearizable", () => {
  assert.equal(ok([put("1", 0, 10), get("1", 20, 30)]), true);
  assert.equal(ok([get(null, 0, 5), put("1", 10, 20), get("1", 30, 40)]), true);
  // Concurrent with the put, a read may see either value, and then the new one only.
  assert.equal(ok([put("1", 0, 100), get(null, 10, 20), get("1", 30, 40), get("1", 50, 60)]), true);
  assert.equal(ok([]), true);
});

test("a stale read after a newer write was acknowledged is caught", () => {
  assert.equal(ok([put("1", 0, 10), put("2", 20, 30), get("1", 40, 50)]), false);
});

test("a lost write is caught", () => {
  assert.equal(ok([put("1", 0, 10), get(null, 20, 30)]), false);
});

test("a read of a value never written is caught", () => {
  assert.equal(ok([put("1", 0, 10), get("x", 20, 30)]), false);
});

test("reads may not go back in time during a concurrent write", () => {
  assert.equal(ok([put("1", 0, 100), get("1", 10, 20), get(null, 30, 40)]), false);
});

test("unknown outcomes may or may not have taken effect", () => {
  const unknownPut = op({ op: "put", key: "k", value: "1" }, undefined, 0, 0);
  assert.equal(ok([unknownPut, get(null, 10, 20), get("1", 50, 60)]), true);
  const unknownPut2 = op({ op: "put", key: "k", value: "1" }, undefined, 0, 0);
  assert.equal(ok([unknownPut2, get("1", 50, 60), get(null, 70, 80)]), false);
  const unknownPut3 = op({ op: "put", key: "k", value: "1" }, undefined, 0, 0);
  assert.equal(ok([unknownPut3, get(null, 70, 80)]), true);
});

test("compare-and-set: two successful swaps from the same value cannot both happen", () => {
  const cas = (expect: string | null, value: string | null, okOut: boolean, call: number, ret: number) =>
    op({ op: "cas", key: "k", expect, value }, { ok: okOut }, call, ret);
  assert.equal(ok([put("a", 0, 5), cas("a", "b", true, 10, 30), cas("a", "c", true, 11, 31)]), false);
  assert.equal(
    ok([put("a", 0, 5), cas("a", "b", true, 10, 30), cas("a", "c", false, 11, 31), get("b", 40, 50)]),
    true,
  );
  // Create-if-absent (Kubernetes create) and delete-if-value.
  assert.equal(
    ok([
      cas(null, "x", true, 0, 5),
      cas(null, "y", false, 10, 15),
      cas("x", null, true, 20, 25),
      get(null, 30, 35),
    ]),
    true,
  );
});

test("keys are independent: a violation on one key is found among many", () => {
  const h: KvOperation[] = [];
  for (let k = 0; k < 20; k++)
    h.push(put(`v${k}`, k * 10, k * 10 + 5, `key${k}`), get(`v${k}`, k * 10 + 6, k * 10 + 8, `key${k}`));
  assert.equal(ok(h), true);
  h.push(get("v3", 1000, 1001, "key4"));
  const r = checkLinearizable(kvRegisterModel, h);
  assert.equal(r.ok, false);
  assert.equal(r.parts, 20);
  assert.ok(r.failedPart?.every((o) => o.input.key === "key4"));
});

/** Executes random ops atomically at a random instant inside random windows: a linearizable history. */
const realHistory = fc
  .array(
    fc.record({
      kind: fc.constantFrom("get", "put", "delete", "cas", "unknown-put"),
      start: fc.integer({ min: 0, max: 200 }),
      length: fc.integer({ min: 1, max: 40 }),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      key: fc.constantFrom("a", "b"),
      pick: fc.nat(),
    }),
    { maxLength: 40 },
  )
  .map((specs) => {
    const state = new Map<string, string | null>();
    const timed = specs.map((s, i) => ({ ...s, i, point: s.start + s.at * s.length }));
    const out: KvOperation[] = [];
    const written: string[] = [];
    let revision = 1;
    for (const s of [...timed].sort((x, y) => x.point - y.point)) {
      const cur = state.get(s.key) ?? null;
      const call = s.start;
      const ret = s.start + s.length;
      const value = `v${s.i}`;
      if (s.kind === "get") out.push(op({ op: "get", key: s.key }, { value: cur, revision }, call, ret));
      else if (s.kind === "put") {
        state.set(s.key, value);
        written.push(value);
        out.push(op({ op: "put", key: s.key, value }, { revision: ++revision }, call, ret));
      } else if (s.kind === "delete") {
        state.set(s.key, null);
        if (cur !== null) revision++;
        out.push(op({ op: "delete", key: s.key }, { revision, deleted: cur !== null }, call, ret));
      } else if (s.kind === "unknown-put") {
        // Took effect or not, decided by the pick; the client never learnt which.
        if (s.pick % 2 === 0) {
          state.set(s.key, value);
          revision++;
        }
        written.push(value);
        out.push(op({ op: "put", key: s.key, value }, undefined, call, ret));
      } else {
        const expect = s.pick % 3 === 0 ? null : (written[s.pick % Math.max(1, written.length)] ?? null);
        const matches = cur === expect;
        if (matches) {
          state.set(s.key, value);
          revision++;
        }
        written.push(value);
        out.push(op({ op: "cas", key: s.key, expect, value }, { ok: matches, revision }, call, ret));
      }
    }
    return out;
  });

test(`property: really executed histories are linearizable; a never-written read value is not (seed ${seed})`, () => {
  fc.assert(
    fc.property(realHistory, (h) => {
      assert.equal(checkLinearizable(kvRegisterModel, h).ok, true);
      assert.equal(checkLinearizable(revisionedStoreModel, h).ok, true, "the store model with revisions");
      const observed = new Set(
        h.flatMap((o) =>
          o.output && "value" in o.output && o.output.value !== null ? [o.output.value] : [],
        ),
      );
      assert.equal(checkLinearizable(kvRegisterModel, pruneUnobservedUnknowns(h, observed)).ok, true);
      const reads = h.filter((o) => o.input.op === "get");
      if (reads.length > 0) {
        const bad = h.map((o) => (o === reads[0] ? { ...o, output: { value: "never-written" } } : o));
        assert.equal(checkLinearizable(kvRegisterModel, bad).ok, false);
      }
    }),
    { seed, numRuns: 300 },
  );
});

// ---- the whole store with revisions ----

const at = (o: KvOperation, revision: number): KvOperation => ({
  ...o,
  output: { ...(o.output ?? {}), revision } as KvOutput,
});

test("store model: revisions order writes across keys, and reads may not see a revision go back", () => {
  const okStore = (h: KvOperation[]) => checkLinearizable(revisionedStoreModel, h).ok;
  // Sequential, with gaps (other clients' writes) allowed.
  assert.equal(
    okStore([at(put("1", 0, 10, "a"), 2), at(put("2", 20, 30, "b"), 5), at(get("1", 40, 50, "a"), 7)]),
    true,
  );
  // A later write with a lower revision: impossible in real time.
  assert.equal(okStore([at(put("1", 0, 10, "a"), 5), at(put("2", 20, 30, "b"), 3)]), false);
  // A read on another key whose header revision is below a write that finished before it began.
  assert.equal(okStore([at(put("1", 0, 10, "a"), 5), at(get(null, 20, 30, "b"), 4)]), false);
  // The register model alone cannot see that: the keys are checked separately there.
  assert.equal(ok([at(put("1", 0, 10, "a"), 5), at(get(null, 20, 30, "b"), 4)]), true);
  // Concurrent writes may take revisions in either order.
  assert.equal(
    okStore([at(put("1", 0, 30, "a"), 6), at(put("2", 5, 25, "b"), 5), at(get("1", 40, 50, "a"), 6)]),
    true,
  );
  // Stale value at a current revision.
  assert.equal(okStore([at(put("1", 0, 10), 2), at(put("2", 20, 30), 3), at(get("1", 40, 50), 3)]), false);
});
