import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeFirstJsonValue } from "../api/http/go-json.js";
import { decodePlain, encodePlain, plainFromJson, plainToJson, serviceMethods } from "./codec.js";

const json = (text: string) => decodeFirstJsonValue(Buffer.from(text));

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

test("RangeRequest: hand-computed bytes, and every field round-trips", () => {
  // 0a 01 61: key "a" (1); 12 01 62: range_end "b" (2); 18 0a: limit 10 (3); 28 01: sort_order ASCEND (5);
  // 38 01: serializable (7); 50 07: min_mod_revision 7 (10)
  const bytes = encodePlain("etcdserverpb.RangeRequest", {
    key: Buffer.from("a"),
    range_end: Buffer.from("b"),
    limit: "10",
    sort_order: 1,
    serializable: true,
    min_mod_revision: 7,
  });
  assert.equal(hex(bytes), "0a0161120162180a28013801" + "5007");
  const plain = decodePlain("etcdserverpb.RangeRequest", bytes);
  assert.equal(plain["limit"], "10");
  assert.equal(plain["revision"], "0", "defaults are filled");
  assert.equal(plain["keys_only"], false);
  assert.equal(plain["min_mod_revision"], "7");
  assert.deepEqual(Buffer.from(plain["range_end"] as Uint8Array), Buffer.from("b"));
});

test("a lease ID above 2^53 survives as a decimal string, bigint accepted on encode", () => {
  const id = "9223372036854775807";
  const bytes = encodePlain("etcdserverpb.LeaseGrantResponse", { ID: BigInt(id), TTL: 60 });
  // 10: field 2 varint; 9 bytes of 0xff..7f; 18 3c: TTL 60
  assert.equal(hex(bytes), "10ffffffffffffffff7f183c");
  assert.equal(decodePlain("etcdserverpb.LeaseGrantResponse", bytes)["ID"], id);
});

test("TxnRequest with nested ops and WatchRequest oneofs round-trip", () => {
  const txn = {
    compare: [{ key: Buffer.from("k"), target: 3, result: 0, value: Buffer.from("v") }],
    success: [{ request_put: { key: Buffer.from("k"), value: Buffer.from("w") } }],
    failure: [{ request_txn: { success: [{ request_range: { key: Buffer.from("k") } }] } }],
  };
  const back = decodePlain("etcdserverpb.TxnRequest", encodePlain("etcdserverpb.TxnRequest", txn));
  const compare = (back["compare"] as Record<string, unknown>[])[0]!;
  assert.equal(compare["target"], 3);
  assert.deepEqual(Buffer.from(compare["value"] as Uint8Array), Buffer.from("v"));
  assert.equal(compare["version"], undefined, "unset oneof members stay unset");
  const failure = (back["failure"] as Record<string, unknown>[])[0]!;
  assert.equal(failure["request_put"], undefined);
  const nested = failure["request_txn"] as Record<string, unknown>;
  assert.equal((nested["success"] as unknown[]).length, 1);

  for (const req of [
    { create_request: { key: Buffer.from("a"), prev_kv: true, filters: [1] } },
    { cancel_request: { watch_id: "5" } },
    { progress_request: {} },
  ]) {
    const plain = decodePlain("etcdserverpb.WatchRequest", encodePlain("etcdserverpb.WatchRequest", req));
    const set = ["create_request", "cancel_request", "progress_request"].filter((k) => plain[k] != null);
    assert.deepEqual(set, Object.keys(req));
  }
});

test("garbage bytes throw a clear error", () => {
  assert.throws(
    () => decodePlain("etcdserverpb.RangeRequest", Buffer.from([0x0a, 0xff, 0xff, 0xff])),
    /cannot decode etcdserverpb.RangeRequest/,
  );
});

test("gateway JSON: requests in etcd's forms, responses shaped as etcd 3.4 prints them", () => {
  const req = plainFromJson(
    "etcdserverpb.TxnRequest",
    json(
      '{"compare":[{"key":"Zm9v","result":"EQUAL","target":"VALUE","value":"YmFy"}],' +
        '"success":[{"requestPut":{"key":"Zm9v","value":"YmF6","lease":7}}],"unknownField":1}',
    ),
  );
  const compare = (req["compare"] as Record<string, unknown>[])[0]!;
  assert.equal(compare["target"], 3);
  const put = (req["success"] as Record<string, unknown>[])[0]!["request_put"] as Record<string, unknown>;
  assert.equal(put["lease"], "7");
  assert.equal(plainFromJson("etcdserverpb.LeaseGrantRequest", json('{"TTL":"60"}'))["TTL"], "60");
  assert.throws(() => plainFromJson("etcdserverpb.RangeRequest", json('{"limit":"ten"}')), {
    message: "invalid character 'e' in literal true (expecting 'r')",
  });

  // Observed from etcd 3.4's gateway (test/fixtures/etcdctl/gateway.txt).
  const resp = plainToJson("etcdserverpb.PutResponse", {
    header: { cluster_id: "1", member_id: "2", revision: "4", raft_term: "2" },
    prev_kv: {
      key: Buffer.from("foo2"),
      create_revision: "3",
      mod_revision: "3",
      version: "1",
      value: Buffer.from("x"),
      lease: "0",
    },
  });
  assert.equal(
    JSON.stringify(resp),
    '{"header":{"cluster_id":"1","member_id":"2","revision":"4","raft_term":"2"},' +
      '"prev_kv":{"key":"Zm9vMg==","create_revision":"3","mod_revision":"3","version":"1","value":"eA=="}}',
  );
  const txnResp = plainToJson("etcdserverpb.TxnResponse", {
    header: { revision: "5" },
    succeeded: false,
    responses: [{ response_txn: { header: {}, succeeded: true, responses: [] } }],
  });
  assert.equal(
    JSON.stringify(txnResp),
    '{"header":{"revision":"5"},"responses":[{"response_txn":{"header":{},"succeeded":true}}]}',
  );
  const events = plainToJson("etcdserverpb.WatchResponse", {
    events: [
      { type: 0, kv: { key: Buffer.from("a") } },
      { type: 1, kv: { key: Buffer.from("a") } },
    ],
  });
  assert.equal(
    JSON.stringify(events),
    '{"events":[{"kv":{"key":"YQ=="}},{"type":"DELETE","kv":{"key":"YQ=="}}]}',
  );
});

test("serviceMethods lists every rpc with its streaming flags", () => {
  const methods = serviceMethods();
  const byPath = new Map(methods.map((m) => [m.path, m]));
  assert.equal(byPath.get("/etcdserverpb.KV/Range")?.requestType, "etcdserverpb.RangeRequest");
  assert.equal(byPath.get("/etcdserverpb.Watch/Watch")?.requestStream, true);
  assert.equal(byPath.get("/etcdserverpb.Maintenance/Snapshot")?.responseStream, true);
  assert.equal(byPath.get("/etcdserverpb.Maintenance/Snapshot")?.requestStream, false);
  assert.equal(byPath.get("/v3lockpb.Lock/Lock")?.responseType, "v3lockpb.LockResponse");
  assert.equal(byPath.get("/grpc.health.v1.Health/Check")?.requestStream, false);
  assert.equal(methods.length, 49);
});
