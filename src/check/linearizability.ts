// Linearizability checking of a concurrent history against a sequential model: the search of
// Wing and Gong (try every operation that may go next, backtrack on a dead end) with Lowe's
// memoization (a (set of linearized operations, model state) pair already explored is not
// explored again), as porcupine and knossos do. Histories are split into independent parts where
// the model allows (a key-value store: one part per key) and each part is searched alone.
//
// An operation whose outcome is unknown (a timeout, a client that crashed) has return time
// +Infinity: it may take effect at any moment after its call, or never (being linearized last,
// after everything else, is the same as never for every observation in the history).

export interface Operation<I, O> {
  /** Which client (lane) issued it; for reports only. */
  client: number;
  input: I;
  /** undefined: the outcome is unknown. */
  output: O | undefined;
  call: number;
  /** +Infinity when the outcome is unknown. */
  ret: number;
}

export interface Model<S, I, O> {
  init(): S;
  /**
   * The states after applying `input` to `state` if that can produce `output` (output undefined:
   * unknown, any outcome is allowed). Empty: not possible. More than one: nondeterministic.
   */
  step(state: S, input: I, output: O | undefined): S[];
  /** A string that is equal for equal states (memoization key). */
  key(state: S): string;
  /** Independent parts (e.g. by key); default: one part. */
  partition?(ops: Operation<I, O>[]): Operation<I, O>[][];
  describe?(op: Operation<I, O>): string;
}

export interface CheckResult<I, O> {
  ok: boolean;
  /** For a violation: the part that could not be linearized, and the longest prefix found. */
  failedPart?: Operation<I, O>[];
  longestPrefix?: Operation<I, O>[];
  /** Parts given up on (budget exhausted); the result is then "unknown" for them. */
  undecidedParts: number;
  parts: number;
  explored: number;
}

interface Entry<I, O> {
  kind: "call" | "return";
  id: number;
  op: Operation<I, O>;
  time: number;
  prev: Entry<I, O> | null;
  next: Entry<I, O> | null;
  /** For a call: its return entry. */
  match: Entry<I, O> | null;
}

/** Bit set over operation ids with a cheap string key. */
class Bits {
  private readonly words: Uint32Array;
  constructor(n: number) {
    this.words = new Uint32Array(Math.ceil(n / 32) + 1);
  }
  set(i: number): void {
    this.words[i >>> 5] = (this.words[i >>> 5] as number) | (1 << (i & 31));
  }
  clear(i: number): void {
    this.words[i >>> 5] = (this.words[i >>> 5] as number) & ~(1 << (i & 31));
  }
  key(): string {
    return Array.from(this.words, (w) => w.toString(36)).join(".");
  }
}

function buildList<I, O>(ops: Operation<I, O>[]): Entry<I, O> {
  const events: Entry<I, O>[] = [];
  ops.forEach((op, id) => {
    const call: Entry<I, O> = { kind: "call", id, op, time: op.call, prev: null, next: null, match: null };
    const ret: Entry<I, O> = { kind: "return", id, op, time: op.ret, prev: null, next: null, match: null };
    call.match = ret;
    events.push(call, ret);
  });
  // Calls before returns at equal times: touching operations count as concurrent.
  events.sort((a, b) => a.time - b.time || (a.kind === b.kind ? 0 : a.kind === "call" ? -1 : 1));
  const head: Entry<I, O> = {
    kind: "call",
    id: -1,
    op: ops[0] as Operation<I, O>,
    time: -Infinity,
    prev: null,
    next: null,
    match: null,
  };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

function lift<I, O>(e: Entry<I, O>): void {
  // Remove a call entry and its return from the list.
  (e.prev as Entry<I, O>).next = e.next;
  if (e.next) e.next.prev = e.prev;
  const m = e.match as Entry<I, O>;
  (m.prev as Entry<I, O>).next = m.next;
  if (m.next) m.next.prev = m.prev;
}

function unlift<I, O>(e: Entry<I, O>): void {
  const m = e.match as Entry<I, O>;
  (m.prev as Entry<I, O>).next = m;
  if (m.next) m.next.prev = m;
  (e.prev as Entry<I, O>).next = e;
  if (e.next) e.next.prev = e;
}

/** Searches one part; returns ok, or the longest linearized prefix found. */
function checkPart<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  budget: { steps: number },
): { ok: boolean | undefined; longest: Operation<I, O>[]; explored: number } {
  if (ops.length === 0) return { ok: true, longest: [], explored: 0 };
  const head = buildList(ops);
  const linearized = new Bits(ops.length);
  const cache = new Set<string>();
  const stack: Array<{ entry: Entry<I, O>; state: S; alternatives: S[] }> = [];
  let state = model.init();
  let entry = head.next;
  let longest: Operation<I, O>[] = [];
  let explored = 0;
  const pendingAlternatives: S[] = [];
  while (head.next !== null) {
    if (budget.steps-- <= 0) return { ok: undefined, longest, explored };
    explored++;
    if (entry === null) return { ok: false, longest, explored };
    if (entry.kind === "call") {
      const nexts =
        pendingAlternatives.length > 0
          ? pendingAlternatives.splice(0)
          : model.step(state, entry.op.input, entry.op.output);
      let advanced = false;
      while (nexts.length > 0) {
        const next = nexts.shift() as S;
        linearized.set(entry.id);
        const k = `${linearized.key()}|${model.key(next)}`;
        if (!cache.has(k)) {
          cache.add(k);
          stack.push({ entry, state, alternatives: nexts });
          state = next;
          lift(entry);
          if (stack.length > longest.length) longest = stack.map((s) => s.entry.op);
          entry = head.next;
          advanced = true;
          break;
        }
        linearized.clear(entry.id);
      }
      if (!advanced) entry = entry.next;
    } else {
      // A return reached before its call was linearized: backtrack.
      const top = stack.pop();
      if (top === undefined) return { ok: false, longest, explored };
      state = top.state;
      linearized.clear(top.entry.id);
      unlift(top.entry);
      if (top.alternatives.length > 0) {
        pendingAlternatives.push(...top.alternatives);
        entry = top.entry;
      } else entry = top.entry.next;
    }
  }
  return { ok: true, longest, explored };
}

export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: Operation<I, O>[],
  opts: { stepsPerPart?: number } = {},
): CheckResult<I, O> {
  const parts = model.partition ? model.partition(history) : [history];
  let explored = 0;
  let undecided = 0;
  for (const part of parts) {
    const r = checkPart(model, part, { steps: opts.stepsPerPart ?? 5_000_000 });
    explored += r.explored;
    if (r.ok === undefined) {
      undecided++;
      continue;
    }
    if (!r.ok) {
      return {
        ok: false,
        failedPart: part,
        longestPrefix: r.longest,
        undecidedParts: undecided,
        parts: parts.length,
        explored,
      };
    }
  }
  return { ok: true, undecidedParts: undecided, parts: parts.length, explored };
}
