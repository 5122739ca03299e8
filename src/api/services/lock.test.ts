import assert from "node:assert/strict";
import { test } from "node:test";
import { TestMember } from "../../server/concurrency/test-member.js";
import { RpcError, type CallContext, type PlainMessage, type UnaryHandler } from "../handler-types.js";
import { lockHandlers } from "./lock.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: unknown): string => new TextDecoder().decode(b as Uint8Array);
const T = { timeout: 5000 };

function ctx(signal = new AbortController().signal): CallContext {
  return { signal, metadata: new Map() };
}

function unary(table: ReturnType<typeof lockHandlers>, path: string): UnaryHandler {
  const h = table.get(path);
  assert.ok(h !== undefined && h.kind === "unary", `${path} is a unary handler`);
  return h;
}

test("the Lock service registers Lock and Unlock with etcd's message types", () => {
  const m = new TestMember();
  const table = lockHandlers(m);
  assert.deepEqual([...table.keys()].sort(), ["/v3lockpb.Lock/Lock", "/v3lockpb.Lock/Unlock"]);
  assert.equal(unary(table, "/v3lockpb.Lock/Lock").requestType, "v3lockpb.LockRequest");
  assert.equal(unary(table, "/v3lockpb.Lock/Unlock").responseType, "v3lockpb.UnlockResponse");
  void m.close();
});

test("Lock and Unlock answer plain messages with a full header", T, async () => {
  const m = new TestMember();
  try {
    const table = lockHandlers(m);
    const { id } = await m.leaseGrant({ id: 0x1db0a20bn, ttl: 30 });
    const resp = await unary(table, "/v3lockpb.Lock/Lock").handle(
      { name: enc("jobs"), lease: id.toString() },
      ctx(),
    );
    assert.equal(dec(resp["key"]), "jobs/1db0a20b");
    assert.deepEqual(resp["header"], { cluster_id: "11", member_id: "22", revision: "2", raft_term: "3" });
    const unlocked = await unary(table, "/v3lockpb.Lock/Unlock").handle({ key: resp["key"] }, ctx());
    assert.equal((unlocked["header"] as PlainMessage)["revision"], "3");
    assert.equal((await m.range({ key: enc("jobs/1db0a20b") })).kvs.length, 0);
  } finally {
    await m.close();
  }
});

test("failures are gRPC UNKNOWN with etcd's message, as etcd 3.4 answers", T, async () => {
  const m = new TestMember();
  try {
    const table = lockHandlers(m);
    await assert.rejects(
      unary(table, "/v3lockpb.Lock/Lock").handle({ name: enc("jobs"), lease: "12345" }, ctx()),
      (err: unknown) => {
        assert.ok(err instanceof RpcError);
        assert.equal(err.code, 2);
        assert.equal(err.message, "etcdserver: requested lease not found");
        return true;
      },
    );
    await assert.rejects(unary(table, "/v3lockpb.Lock/Unlock").handle({ key: new Uint8Array(0) }, ctx()), {
      code: 2,
      message: "etcdserver: key is not provided",
    });
  } finally {
    await m.close();
  }
});

test("a Lock call whose client cancels while waiting leaves no key behind", T, async () => {
  const m = new TestMember();
  try {
    const table = lockHandlers(m);
    const lockCall = unary(table, "/v3lockpb.Lock/Lock");
    await lockCall.handle(
      { name: enc("L"), lease: (await m.leaseGrant({ id: 0xan, ttl: 30 })).id.toString() },
      ctx(),
    );
    const b = (await m.leaseGrant({ id: 0xbn, ttl: 30 })).id.toString();
    const client = new AbortController();
    const waiting = lockCall.handle({ name: enc("L"), lease: b }, ctx(client.signal));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal((await m.range({ key: enc("L/b") })).kvs.length, 1);
    client.abort();
    await assert.rejects(waiting);
    assert.equal((await m.range({ key: enc("L/b") })).kvs.length, 0);
  } finally {
    await m.close();
  }
});
