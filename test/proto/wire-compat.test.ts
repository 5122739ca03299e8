// Wire checks for the .proto files loaded so far: hand-computed bytes for a
// KeyValue, int64 above 2^53 surviving decode -> encode, and Health's streaming flags.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadEtcdProtos } from "../../src/proto/load.js";

const root = loadEtcdProtos();

test("KeyValue encodes to hand-computed bytes", () => {
  const kv = root.lookupType("mvccpb.KeyValue");
  const bytes = kv.encode({ key: Buffer.from("a"), mod_revision: 5, lease: "9007199254740993" }).finish();
  // 0a 01 61: key "a"; 18 05: mod_revision 5; 30 + varint(2^53 + 1): lease
  assert.equal(Buffer.from(bytes).toString("hex"), "0a016118053081808080808080" + "10");
});

test("int64 above 2^53 survives decode -> encode with longs: String", () => {
  const kv = root.lookupType("mvccpb.KeyValue");
  const lease = "9223372036854775807";
  const decoded = kv.toObject(kv.decode(kv.encode({ lease }).finish()), { longs: String });
  assert.equal(decoded.lease, lease);
  const again = kv.toObject(kv.decode(kv.encode(kv.fromObject(decoded)).finish()), { longs: String });
  assert.equal(again.lease, lease);
});

test("Health service has Check (unary) and Watch (server streaming)", () => {
  const health = root.lookupService("grpc.health.v1.Health");
  assert.equal(health.methods.Check?.responseStream, undefined);
  assert.equal(health.methods.Watch?.responseStream, true);
  assert.equal(root.lookupEnum("grpc.health.v1.HealthCheckResponse.ServingStatus").values.SERVICE_UNKNOWN, 3);
});
