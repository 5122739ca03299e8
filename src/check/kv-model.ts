// The sequential model of Kvorum's key space as the chaos clients use it: each key is a register
// holding a value or nothing. Operations: get, put, delete, and compare-and-set by txn (compare
// the value, then put or delete; the clients write unique values, so comparing values is
// comparing revisions, which is how a Kubernetes-style update on mod_revision is checked).
// Keys are independent, so the history is checked one key at a time.
import type { Model, Operation } from "./linearizability.js";

export type KvInput =
  | { op: "get"; key: string }
  | { op: "put"; key: string; value: string }
  | { op: "delete"; key: string }
  /** If the key holds `expect` (null: absent), set it to `value` (null: delete). */
  | { op: "cas"; key: string; expect: string | null; value: string | null };

/**
 * What the client saw. `revision` is the response header's revision when the client recorded it
 * (the register model ignores it; the store model checks it); `deleted` says whether a delete
 * removed something.
 */
export type KvOutput =
  | { value: string | null; revision?: number }
  | { ok: boolean; revision?: number }
  | { revision?: number; deleted?: boolean };

export type KvOperation = Operation<KvInput, KvOutput>;

type State = string | null;

export const kvRegisterModel: Model<State, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case "get": {
        if (output === undefined) return [state];
        return (output as { value: string | null }).value === state ? [state] : [];
      }
      case "put":
        return [input.value];
      case "delete":
        return [null];
      case "cas": {
        const matches = state === input.expect;
        if (output === undefined) return matches ? [input.value] : [state];
        const ok = (output as { ok: boolean }).ok;
        if (ok !== matches) return [];
        return [ok ? input.value : state];
      }
    }
  },
  key: (state) => (state === null ? "\u0000" : state),
  partition(ops) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of ops) {
      let list = byKey.get(op.input.key);
      if (list === undefined) byKey.set(op.input.key, (list = []));
      list.push(op);
    }
    return [...byKey.values()];
  },
  describe(op) {
    const i = op.input;
    const out =
      op.output === undefined
        ? "?"
        : "value" in op.output
          ? JSON.stringify(op.output.value)
          : "ok" in op.output
            ? String(op.output.ok)
            : "ok";
    const rev = op.output?.revision !== undefined ? ` @${op.output.revision}` : "";
    switch (i.op) {
      case "get":
        return `get(${i.key}) -> ${out}${rev}`;
      case "put":
        return `put(${i.key}, ${i.value}) -> ${out}${rev}`;
      case "delete":
        return `delete(${i.key}) -> ${out}${rev}`;
      case "cas":
        return `cas(${i.key}, ${JSON.stringify(i.expect)} => ${JSON.stringify(i.value)}) -> ${out}${rev}`;
    }
  },
};

/**
 * Unknown-outcome writes whose value nobody ever observed can be left out without changing the
 * verdict (they can always be linearized last), and leaving them out keeps the search small.
 * Observing includes a read returning the value and a compare-and-set expecting it; a failed
 * compare-and-set observes only that the value was something else, which any unknown write on
 * that key could explain, so keys with one keep all their unknown writes.
 */
export function pruneUnobservedUnknowns(
  history: KvOperation[],
  observed: ReadonlySet<string>,
): KvOperation[] {
  const seen = new Set(observed);
  const keepAll = new Set<string>();
  for (const op of history) {
    const i = op.input;
    if (i.op !== "cas") continue;
    if (i.expect !== null) seen.add(i.expect);
    if (op.output !== undefined && "ok" in op.output && !op.output.ok) keepAll.add(i.key);
  }
  return history.filter((op) => {
    if (op.output !== undefined) return true;
    const i = op.input;
    if (i.op === "get") return false; // a read with no answer tells nothing
    if (keepAll.has(i.key)) return true;
    if (i.op === "put") return seen.has(i.value);
    if (i.op === "cas") return i.value === null || seen.has(i.value);
    return true;
  });
}
