// Randomized model test of leader-only expiry. A random mix of grants, keep-alives, revocations,
// clock steps, promotions and demotions runs against the lessor and a plain model of deadlines.
// Checked after every step: expired() only names live leases past their deadline, never on a
// follower; every lease past its deadline on the leader has been signalled within the last retry
// interval, and not more often. The owner revokes what it is told, as the server does through raft,
// except when a random flag says its proposal was lost.
// Replay a failure with KVORUM_SEED=<seed printed in the test name>.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Errors } from "../mvcc/errors.js";
import { LeaseExpiredError } from "./errors.js";
import { manualLessor } from "./test-helpers.js";

const seed = process.env.KVORUM_SEED !== undefined ? Number(process.env.KVORUM_SEED) : Date.now() ^ 0x1ea5e;

type Op =
  | { kind: "grant"; id: bigint; ttl: number }
  | { kind: "renew"; id: bigint }
  | { kind: "revoke"; id: bigint }
  | { kind: "tick"; ms: number }
  | { kind: "promote"; extendMs: number }
  | { kind: "demote" };

const id = fc.bigInt(1n, 4n);
// Whole quarter seconds, so clock steps often land exactly on deadlines (the boundary cases).
const quarterSeconds = (max: number) => fc.integer({ min: 0, max }).map((n) => n * 250);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({ kind: fc.constant("grant" as const), id, ttl: fc.integer({ min: -1, max: 6 }) }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant("renew" as const), id }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("revoke" as const), id }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant("tick" as const), ms: quarterSeconds(10) }),
    weight: 4,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("promote" as const),
      extendMs: quarterSeconds(6),
    }),
    weight: 2,
  },
  { arbitrary: fc.constant({ kind: "demote" as const }), weight: 1 },
);

test(`leader-only expiry matches a deadline model (seed ${seed})`, () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(op, fc.boolean()), { minLength: 10, maxLength: 80, size: "max" }),
      (steps) => {
        const { lessor, clock } = manualLessor({ minTtlSeconds: 2, expiredRetryMs: 1_000 });
        const ttl = new Map<bigint, number>();
        const deadline = new Map<bigint, number>(); // only while leader
        let leader = false;
        const signalledAt = new Map<bigint, number>(); // expired, signalled, not revoked
        for (const [o, ownerRevokes] of steps) {
          switch (o.kind) {
            case "grant":
              if (ttl.has(o.id)) {
                assert.throws(() => lessor.grant(o.id, o.ttl), { message: Errors.leaseExists().message });
              } else {
                const granted = lessor.grant(o.id, o.ttl).ttl;
                assert.equal(granted, Math.max(o.ttl, 2));
                ttl.set(o.id, granted);
                if (leader) deadline.set(o.id, clock.now() + granted * 1000);
              }
              break;
            case "renew":
              if (!leader) assert.throws(() => lessor.renew(o.id));
              else if (!ttl.has(o.id)) {
                assert.throws(() => lessor.renew(o.id), { message: Errors.leaseNotFound().message });
              } else if (deadline.get(o.id)! <= clock.now()) {
                assert.throws(() => lessor.renew(o.id), LeaseExpiredError);
              } else {
                assert.equal(lessor.renew(o.id), ttl.get(o.id));
                deadline.set(o.id, clock.now() + ttl.get(o.id)! * 1000);
              }
              break;
            case "revoke":
              if (ttl.has(o.id)) lessor.revoke(o.id);
              else assert.throws(() => lessor.revoke(o.id), { message: Errors.leaseNotFound().message });
              ttl.delete(o.id);
              deadline.delete(o.id);
              break;
            case "tick":
              clock.advance(o.ms);
              break;
            case "promote":
              leader = true;
              for (const [lid, t] of ttl) deadline.set(lid, clock.now() + o.extendMs + t * 1000);
              lessor.promote(o.extendMs);
              break;
            case "demote":
              leader = false;
              deadline.clear();
              lessor.demote();
              break;
          }
          // The owner checks; it revokes what is signalled, or (a lost proposal) does not.
          const now = clock.now();
          const signalled = lessor.expired(Number.POSITIVE_INFINITY);
          if (!leader) assert.deepEqual(signalled, []);
          for (const lid of signalled) {
            assert.ok(ttl.has(lid), `signalled unknown lease ${lid}`);
            assert.ok(deadline.get(lid)! <= now, `signalled lease ${lid} before its deadline`);
            const last = signalledAt.get(lid);
            assert.ok(
              last === undefined || last + 1_000 <= now,
              `lease ${lid} signalled again within the retry interval`,
            );
            signalledAt.set(lid, now);
            if (ownerRevokes) {
              lessor.revoke(lid);
              ttl.delete(lid);
              deadline.delete(lid);
            }
          }
          for (const lid of [...signalledAt.keys()]) {
            if (!deadline.has(lid) || deadline.get(lid)! > now) signalledAt.delete(lid);
          }
          for (const [lid, at] of deadline) {
            if (at > now) continue;
            const last = signalledAt.get(lid);
            assert.ok(
              last !== undefined && now < last + 1_000,
              `expired lease ${lid} not signalled in the last interval`,
            );
          }
          assert.deepEqual(
            lessor.leases().map((l) => l.id),
            [...ttl.keys()].sort((a, b) => (a < b ? -1 : 1)),
          );
        }
      },
    ),
    { seed, numRuns: 200 },
  );
});
