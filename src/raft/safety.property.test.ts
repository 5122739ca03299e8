// Randomized safety test: members tick, campaign, propose, crash (losing what they did not
// persist) and restart, while messages are delivered, dropped, duplicated and reordered at random.
// After every step: at most one leader per term (election safety), every index applied anywhere
// holds the same entry (state machine safety), and persisted logs satisfy log matching.
// Replay a failure with KVORUM_SEED=<seed printed below>.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Router, enc } from "./router.test-util.js";
import type { RaftConfig } from "./api.js";
import type { Entry, Message } from "./types.js";

type Action =
  | { kind: "tick"; who: number; times: number }
  | { kind: "tickAll" }
  | { kind: "deliverAll" }
  | { kind: "deliver"; pick: number }
  | { kind: "drop"; pick: number }
  | { kind: "duplicate"; pick: number }
  | { kind: "propose"; who: number }
  | { kind: "campaign"; who: number }
  | { kind: "isolate"; who: number }
  | { kind: "heal" }
  | { kind: "crash"; who: number }
  | { kind: "compact"; who: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("tick" as const),
      who: fc.nat(4),
      times: fc.integer({ min: 1, max: 12 }),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant("tickAll" as const) }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant("deliverAll" as const) }), weight: 10 },
  { arbitrary: fc.record({ kind: fc.constant("deliver" as const), pick: fc.nat() }), weight: 12 },
  { arbitrary: fc.record({ kind: fc.constant("drop" as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("duplicate" as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("propose" as const), who: fc.nat(4) }), weight: 8 },
  { arbitrary: fc.record({ kind: fc.constant("campaign" as const), who: fc.nat(4) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("isolate" as const), who: fc.nat(4) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("heal" as const) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("crash" as const), who: fc.nat(4) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("compact" as const), who: fc.nat(4) }), weight: 1 },
);

const ids = ["a", "b", "c", "d", "e"];

/** What the runs exercised, so the test can tell it did real work. */
const exercised = { leaders: 0, applied: 0, crashes: 0, snapshotsInstalled: 0 };

function run(size: 3 | 5, over: Partial<RaftConfig>, actions: Action[]): void {
  const members = ids.slice(0, size);
  const r = new Router(members, over);
  const leaderOfTerm = new Map<number, string>();
  const appliedAt = new Map<number, Entry>();
  let writes = 0;
  const appliedSeen = new Map<string, number>();

  const check = (): void => {
    for (const id of members) {
      const st = r.node(id).status();
      if (st.role !== "leader") continue;
      const prev = leaderOfTerm.get(st.hardState.term);
      assert.ok(prev === undefined || prev === id, `term ${st.hardState.term} has leaders ${prev} and ${id}`);
      leaderOfTerm.set(st.hardState.term, id);
    }
    for (const id of members) {
      const m = r.get(id);
      const from = appliedSeen.get(id) ?? 0;
      for (const e of m.applied.slice(from)) {
        const other = appliedAt.get(e.index);
        if (other === undefined) appliedAt.set(e.index, e);
        else
          assert.ok(
            other.term === e.term && Buffer.compare(other.data, e.data) === 0,
            `index ${e.index} applied differently`,
          );
      }
      appliedSeen.set(id, m.applied.length);
    }
  };

  const logMatching = (): void => {
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        const s1 = r.get(members[i]!).storage;
        const s2 = r.get(members[j]!).storage;
        const last = Math.min(s1.lastIndex(), s2.lastIndex());
        let matched = false;
        const first = Math.max(1, s1.firstIndex() - 1, s2.firstIndex() - 1); // compacted below
        for (let k = last; k >= first; k--) {
          if (!matched && s1.term(k) === s2.term(k)) matched = true;
          if (matched) assert.equal(s1.term(k), s2.term(k), `log matching broken at ${k}`);
        }
      }
    }
  };

  const pick = (n: number): Message | undefined => {
    if (r.queue.length === 0) return undefined;
    return r.queue.splice(n % r.queue.length, 1)[0];
  };

  for (const a of actions) {
    const who = members[("who" in a ? a.who : 0) % size]!;
    switch (a.kind) {
      case "tick":
        r.tick(who, a.times);
        break;
      case "tickAll":
        for (const id of members) r.tick(id, 2);
        break;
      case "deliverAll": {
        const batch = r.queue;
        r.queue = [];
        for (const m of batch) if (!r.isolated.has(m.to) && !r.isolated.has(m.from)) r.deliver(m);
        break;
      }
      case "deliver": {
        const m = pick(a.pick);
        if (m !== undefined && !r.isolated.has(m.to) && !r.isolated.has(m.from)) r.deliver(m);
        break;
      }
      case "drop":
        pick(a.pick);
        break;
      case "duplicate": {
        if (r.queue.length > 0) r.queue.push(r.queue[a.pick % r.queue.length]!);
        break;
      }
      case "propose":
        try {
          r.node(who).propose(enc(`w${writes++}`));
        } catch {
          // dropped: no leader, transfer, ...
        }
        break;
      case "campaign":
        r.node(who).campaign();
        break;
      case "isolate":
        r.isolated.add(who);
        break;
      case "heal":
        r.isolated.clear();
        break;
      case "compact": {
        // The application snapshots at its applied index and drops the log behind it, so
        // lagging members need a snapshot transfer.
        const m = r.get(who);
        const st = m.node.status();
        if (st.applied > m.storage.snapshot().metadata.index && st.applied <= m.storage.lastIndex()) {
          m.storage.createSnapshot(st.applied, st.confState, new Uint8Array());
          m.storage.compact(st.applied);
        }
        break;
      }
      case "crash": {
        // Whatever was not persisted is lost; restart from the disk with the applied index.
        const m = r.get(who);
        const lastApplied = m.applied.length === 0 ? 0 : m.applied[m.applied.length - 1]!.index;
        const applied = Math.max(lastApplied, m.storage.snapshot().metadata.index);
        const fresh = r.start(who, m.storage, over, Math.min(applied, m.storage.lastIndex()));
        fresh.applied = m.applied;
        r.queue = r.queue.filter((q) => q.from !== who);
        exercised.crashes++;
        break;
      }
    }
    for (const id of members) {
      for (let rd = r.processReady(id); rd !== undefined; rd = r.processReady(id)) {
        if (rd.snapshot !== undefined) exercised.snapshotsInstalled++;
      }
    }
    check();
  }
  logMatching();
  exercised.leaders += leaderOfTerm.size;
  exercised.applied += appliedAt.size;
}

test("randomized: election safety, state machine safety and log matching under faults", () => {
  const seed = Number(process.env.KVORUM_SEED ?? Date.now() % 2 ** 31);
  console.log(`safety property seed ${seed} (replay: KVORUM_SEED=${seed})`);
  fc.assert(
    fc.property(
      fc.constantFrom<3 | 5>(3, 5),
      fc.boolean(),
      fc.boolean(),
      fc.array(action, { minLength: 50, maxLength: 600, size: "max" }),
      (size, preVote, checkQuorum, actions) => run(size, { preVote, checkQuorum, electionTick: 5 }, actions),
    ),
    { seed, numRuns: 60 },
  );
  console.log(`exercised: ${JSON.stringify(exercised)}`);
  assert.ok(
    exercised.leaders > 200 &&
      exercised.applied > 600 &&
      exercised.crashes > 200 &&
      exercised.snapshotsInstalled > 5,
    "the runs did real work",
  );
});
