import assert from "node:assert/strict";
import { test } from "node:test";
import { TestMember } from "../../server/concurrency/test-member.js";
import { RpcError, type CallContext, type PlainMessage, type UnaryHandler } from "../handler-types.js";
import { kvHandlers } from "./kv.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const T = { timeout: 5000 };

/** A context whose signal must not be read: reading it is what costs each call an AbortController. */
function ctxWithoutSignal(metadata = new Map<string, string>()): CallContext {
  return {
    get signal(): AbortSignal {
      throw new Error("a KV handler read ctx.signal");
    },
    metadata,
  };
}

function method(table: ReturnType<typeof kvHandlers>, name: string): UnaryHandler {
  const h = table.get(`/etcdserverpb.KV/${name}`);
  assert.ok(h !== undefined && h.kind === "unary", `${name} is a unary handler`);
  return h;
}

test("the KV methods answer without reading the call's abort signal", T, async () => {
  const m = new TestMember();
  try {
    const kv = kvHandlers(m, { maxTxnOps: 128, maxRequestBytes: 1.5 * 1024 * 1024 });
    const ctx = ctxWithoutSignal(new Map([["hasleader", "true"]]));
    const put = await method(kv, "Put").handle({ key: enc("a"), value: enc("1") }, ctx);
    assert.equal((put["header"] as PlainMessage)["revision"], "2");
    const range = await method(kv, "Range").handle({ key: enc("a") }, ctx);
    assert.equal(range["count"], "1");
    const txn = await method(kv, "Txn").handle(
      { success: [{ request_put: { key: enc("b"), value: enc("2") } }] },
      ctx,
    );
    assert.equal(txn["succeeded"], true);
    const del = await method(kv, "DeleteRange").handle({ key: enc("a") }, ctx);
    assert.equal(del["deleted"], "1");
    const compact = await method(kv, "Compact").handle({ revision: "2" }, ctx);
    assert.ok(compact["header"]);
  } finally {
    await m.close();
  }
});

test("a request refused before it reaches the member still gets etcd's status", T, async () => {
  const m = new TestMember();
  try {
    const kv = kvHandlers(m, { maxTxnOps: 128, maxRequestBytes: 64 });
    await assert.rejects(
      method(kv, "Range").handle({ key: new Uint8Array(0) }, ctxWithoutSignal()),
      (err) => {
        assert.ok(err instanceof RpcError);
        assert.equal(err.code, 3);
        assert.equal(err.message, "etcdserver: key is not provided");
        return true;
      },
    );
    await assert.rejects(
      method(kv, "Put").handle({ key: enc("k"), value: new Uint8Array(100) }, ctxWithoutSignal()),
      (err) => {
        assert.ok(err instanceof RpcError);
        assert.equal(err.code, 3);
        assert.equal(err.message, "etcdserver: request is too large");
        return true;
      },
    );
  } finally {
    await m.close();
  }
});
