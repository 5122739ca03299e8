// etcd's membership rules, checked on the planning functions: URL validation and reuse, one
// learner at most, the strict reconfiguration checks (started = published a name; active = heard
// from recently), promotion readiness, and that applying changes is idempotent.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryBackend } from "../mvcc/index.js";
import { ConfChangeType } from "../raft/index.js";
import { memberIdOf, nodeIdOf } from "./identity.js";
import { MemberTable } from "./members.js";
import {
  applyToTable,
  decodeContext,
  planAdd,
  planPromote,
  planRemove,
  planUpdate,
  type ClusterHealth,
} from "./membership.js";

function table(names: Array<[string, string, boolean?]>): MemberTable {
  const t = new MemberTable(new MemoryBackend());
  names.forEach(([hex, name, learner], i) =>
    t.set({
      id: memberIdOf(hex),
      name,
      peerUrls: [`http://127.0.0.1:${2380 + i}`],
      clientUrls: [],
      isLearner: learner === true,
    }),
  );
  return t;
}

const health = (voters: string[], active = voters): ClusterHealth => ({ voters, active: new Set(active) });

test("MemberAdd: invalid and reused peer URLs, one learner at most", () => {
  const t = table([
    ["a1", "one"],
    ["b2", "two"],
    ["c3", "three"],
  ]);
  const h = health(["a1", "b2", "c3"]);
  assert.throws(() => planAdd(t, ["ftp://x:1"], false, h, "r"), /given member URLs are invalid/);
  assert.throws(() => planAdd(t, [], false, h, "r"), /given member URLs are invalid/);
  assert.throws(() => planAdd(t, ["http://127.0.0.1:2381"], false, h, "r"), /Peer URLs already exists/);
  const cc = planAdd(t, ["http://127.0.0.1:9999"], true, h, "req-1", new Date(1_700_000_000_000));
  assert.equal(cc.type, ConfChangeType.AddLearnerNode);
  const ctx = decodeContext(cc.context);
  assert.equal(ctx?.requestId, "req-1");
  assert.deepEqual(ctx?.member.peerUrls, ["http://127.0.0.1:9999"]);
  applyToTable(t, cc);
  assert.equal(t.get(memberIdOf(cc.nodeId))?.isLearner, true);
  assert.throws(
    () => planAdd(t, ["http://127.0.0.1:9998"], true, h, "r"),
    /too many learner members in cluster/,
  );
});

test("MemberAdd of a voter: enough started members and every voter active (strict reconfig check)", () => {
  // c3 was never started (no name published): adding a fourth voter would need 3 of 4 started.
  const t = table([
    ["a1", "one"],
    ["b2", "two"],
    ["c3", ""],
  ]);
  assert.throws(
    () => planAdd(t, ["http://127.0.0.1:9999"], false, health(["a1", "b2", "c3"]), "r"),
    /re-configuration failed due to not enough started members/,
  );
  const ok = table([
    ["a1", "one"],
    ["b2", "two"],
    ["c3", "three"],
  ]);
  assert.throws(
    () => planAdd(ok, ["http://127.0.0.1:9999"], false, health(["a1", "b2", "c3"], ["a1", "b2"]), "r"),
    /etcdserver: unhealthy cluster/,
  );
  assert.equal(
    planAdd(ok, ["http://127.0.0.1:9999"], false, health(["a1", "b2", "c3"]), "r").type,
    ConfChangeType.AddNode,
  );
  // A lone member may add a second one.
  const alone = table([["a1", "one"]]);
  assert.equal(
    planAdd(alone, ["http://127.0.0.1:9999"], false, health(["a1"]), "r").type,
    ConfChangeType.AddNode,
  );
});

test("MemberRemove: unknown member, quorum of started members, and of active ones", () => {
  const t = table([
    ["a1", "one"],
    ["b2", "two"],
    ["c3", "three"],
  ]);
  assert.throws(() => planRemove(t, 0x99n, health(["a1", "b2", "c3"]), "r"), /member not found/);
  // Removing an active voter while another is down leaves 1 active of 2: unhealthy.
  assert.throws(
    () => planRemove(t, 0xb2n, health(["a1", "b2", "c3"], ["a1", "b2"]), "r"),
    /unhealthy cluster/,
  );
  // Removing the member that is down is fine.
  assert.equal(
    planRemove(t, 0xc3n, health(["a1", "b2", "c3"], ["a1", "b2"]), "r").type,
    ConfChangeType.RemoveNode,
  );
  const unstarted = table([
    ["a1", "one"],
    ["b2", ""],
    ["c3", "three"],
  ]);
  assert.throws(
    () => planRemove(unstarted, 0xc3n, health(["a1", "b2", "c3"]), "r"),
    /not enough started members/,
  );
});

test("MemberUpdate and MemberPromote", () => {
  const t = table([
    ["a1", "one"],
    ["b2", "two"],
    ["c3", "", true],
  ]);
  assert.throws(() => planUpdate(t, 0x99n, ["http://127.0.0.1:1"], "r"), /member not found/);
  assert.throws(() => planUpdate(t, 0xa1n, ["http://127.0.0.1:2381"], "r"), /Peer URLs already exists/);
  const upd = planUpdate(t, 0xa1n, ["http://127.0.0.1:2380", "http://10.0.0.1:2380"], "r");
  applyToTable(t, upd);
  assert.deepEqual(t.get(0xa1n)?.peerUrls, ["http://127.0.0.1:2380", "http://10.0.0.1:2380"]);

  assert.throws(() => planPromote(t, 0xa1n, 100, 100, "r"), /can only promote a learner member$/);
  assert.throws(() => planPromote(t, 0xc3n, 89, 100, "r"), /which is in sync with leader/);
  const promote = planPromote(t, 0xc3n, 90, 100, "r");
  applyToTable(t, promote);
  applyToTable(t, promote); // replayed after a restart: same table
  assert.equal(t.get(0xc3n)?.isLearner, false);
  assert.equal(t.size, 3);
  t.publish(0xc3n, "three", ["http://127.0.0.1:2379"]);
  const rm = planRemove(t, 0xb2n, health(["a1", "b2", "c3"]), "r");
  applyToTable(t, rm);
  applyToTable(t, rm);
  assert.deepEqual(
    t.list().map((m) => nodeIdOf(m.id)),
    ["a1", "c3"],
  );
});
