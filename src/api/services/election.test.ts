import assert from "node:assert/strict";
import { test } from "node:test";
import { TestMember } from "../../server/concurrency/test-member.js";
import type {
  CallContext,
  HandlerTable,
  PlainMessage,
  ServerStreamHandler,
  UnaryHandler,
} from "../handler-types.js";
import { electionHandlers } from "./election.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: unknown): string => new TextDecoder().decode(b as Uint8Array);
const T = { timeout: 5000 };
const P = "/v3electionpb.Election/";

function ctx(signal = new AbortController().signal): CallContext {
  return { signal, metadata: new Map() };
}

function unary(table: HandlerTable, method: string): UnaryHandler {
  const h = table.get(P + method);
  assert.ok(h !== undefined && h.kind === "unary");
  return h;
}

test("the Election service registers its five methods; Observe streams", () => {
  const m = new TestMember();
  const table = electionHandlers(m);
  assert.deepEqual(
    [...table.keys()].sort(),
    ["Campaign", "Leader", "Observe", "Proclaim", "Resign"].map((x) => P + x),
  );
  const observe = table.get(P + "Observe")!;
  assert.equal(observe.kind, "server-stream");
  assert.equal(observe.requestType, "v3electionpb.LeaderRequest");
  assert.equal(observe.responseType, "v3electionpb.LeaderResponse");
  void m.close();
});

test("campaign, leader, proclaim and resign in plain messages", T, async () => {
  const m = new TestMember();
  try {
    const table = electionHandlers(m);
    const { id } = await m.leaseGrant({ id: 0xabcn, ttl: 30 });
    const won = await unary(table, "Campaign").handle(
      { name: enc("el"), lease: id.toString(), value: enc("v1") },
      ctx(),
    );
    const leader = won["leader"] as PlainMessage;
    assert.equal(dec(leader["name"]), "el");
    assert.equal(dec(leader["key"]), "el/abc");
    assert.equal(leader["rev"], "2");
    assert.equal(leader["lease"], id.toString());
    assert.equal((won["header"] as PlainMessage)["revision"], "2");

    const now = await unary(table, "Leader").handle({ name: enc("el") }, ctx());
    const kv = now["kv"] as PlainMessage;
    assert.equal(dec(kv["value"]), "v1");
    assert.equal(kv["create_revision"], "2");
    assert.equal(kv["version"], "1");
    assert.equal(kv["lease"], id.toString());

    await unary(table, "Proclaim").handle({ leader, value: enc("v2") }, ctx());
    const after = await unary(table, "Leader").handle({ name: enc("el") }, ctx());
    assert.equal(dec((after["kv"] as PlainMessage)["value"]), "v2");

    await unary(table, "Resign").handle({ leader }, ctx());
    await assert.rejects(unary(table, "Leader").handle({ name: enc("el") }, ctx()), {
      code: 2,
      message: "election: no leader",
    });
    await assert.rejects(unary(table, "Proclaim").handle({ leader, value: enc("v3") }, ctx()), {
      code: 2,
      message: "election: not leader",
    });
  } finally {
    await m.close();
  }
});

test("Proclaim and Resign without a leader are etcd's missing-field error", T, async () => {
  const m = new TestMember();
  try {
    const table = electionHandlers(m);
    for (const method of ["Proclaim", "Resign"]) {
      await assert.rejects(unary(table, method).handle({ leader: null, value: new Uint8Array(0) }, ctx()), {
        code: 2,
        message: '"leader" field must be provided',
      });
    }
  } finally {
    await m.close();
  }
});

test("Observe streams the leader and its new values until the client leaves", T, async () => {
  const m = new TestMember();
  try {
    const table = electionHandlers(m);
    const { id } = await m.leaseGrant({ id: 0xan, ttl: 30 });
    const won = await unary(table, "Campaign").handle(
      { name: enc("el"), lease: id.toString(), value: enc("A") },
      ctx(),
    );
    const client = new AbortController();
    const observe = table.get(P + "Observe") as ServerStreamHandler;
    const it = observe.handle({ name: enc("el") }, ctx(client.signal))[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(dec(((first.value as PlainMessage)["kv"] as PlainMessage)["value"]), "A");
    await unary(table, "Proclaim").handle({ leader: won["leader"], value: enc("B") }, ctx());
    const second = await it.next();
    const resp = second.value as PlainMessage;
    assert.equal(dec((resp["kv"] as PlainMessage)["value"]), "B");
    assert.deepEqual(resp["header"], { cluster_id: "11", member_id: "22", revision: "3", raft_term: "3" });
    const third = it.next();
    client.abort();
    await assert.rejects(third);
    assert.equal(m.openStreams(), 0);
  } finally {
    await m.close();
  }
});
