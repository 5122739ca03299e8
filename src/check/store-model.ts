// The whole store with revisions: every key's value plus the store's revision, checked over the
// entire history at once (not split by key). On top of the register model it checks what etcd
// promises about revisions: a write that changes the store gets a revision above every revision
// linearized before it, and a read (or a write that changes nothing) answers with a header
// revision no lower than any write before it. Writes by others that the history does not hold
// (leases, other prefixes) only leave gaps in the revisions, which the model allows.
// Each revision pins its operation's place, so the search stays small on long histories.
import type { Model } from "./linearizability.js";
import type { KvInput, KvOutput } from "./kv-model.js";

interface StoreState {
  revision: number;
  values: ReadonlyMap<string, string>;
}

function withValue(
  values: ReadonlyMap<string, string>,
  key: string,
  value: string | null,
): Map<string, string> {
  const next = new Map(values);
  if (value === null) next.delete(key);
  else next.set(key, value);
  return next;
}

/** A revision-changing write with header revision r may go next only if r is above the state's. */
function write(
  state: StoreState,
  key: string,
  value: string | null,
  revision: number | undefined,
): StoreState[] {
  if (revision === undefined)
    return [{ revision: state.revision, values: withValue(state.values, key, value) }];
  if (revision <= state.revision) return [];
  return [{ revision, values: withValue(state.values, key, value) }];
}

/** A read or a no-op write answered at header revision h: h may not be below the state's. */
function observe(state: StoreState, revision: number | undefined): StoreState[] {
  if (revision === undefined) return [state];
  if (revision < state.revision) return [];
  return [{ revision, values: state.values }];
}

export const revisionedStoreModel: Model<StoreState, KvInput, KvOutput> = {
  init: () => ({ revision: 0, values: new Map() }),
  step(state, input, output) {
    const current = state.values.get(input.key) ?? null;
    const rev = output?.revision;
    switch (input.op) {
      case "get": {
        if (output === undefined) return [state];
        if ((output as { value: string | null }).value !== current) return [];
        return observe(state, rev);
      }
      case "put":
        return write(state, input.key, input.value, rev);
      case "delete": {
        if (output === undefined)
          return current === null ? [state] : write(state, input.key, null, undefined);
        const deleted = (output as { deleted?: boolean }).deleted;
        if (deleted !== undefined && deleted !== (current !== null)) return [];
        return current === null ? observe(state, rev) : write(state, input.key, null, rev);
      }
      case "cas": {
        const matches = current === input.expect;
        const changes = matches && !(input.value === null && current === null);
        if (output === undefined) {
          return changes ? write(state, input.key, input.value, undefined) : [state];
        }
        if ((output as { ok: boolean }).ok !== matches) return [];
        return changes ? write(state, input.key, input.value, rev) : observe(state, rev);
      }
    }
  },
  key: (state) => `${state.revision}|${[...state.values].map(([k, v]) => `${k}=${v}`).join(",")}`,
};
