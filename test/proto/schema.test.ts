// Kvorum's .proto files must describe exactly etcd 3.4's wire format: every message, field
// number and type, enum value and rpc (with its streaming flags) is compared with the facts
// extracted from etcd's own files (test/fixtures/etcd-proto-schema.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { findPackageRoot, loadEtcdProtos } from "../../src/proto/load.js";
import { schemaOf, type ProtoSchema } from "../../src/proto/schema.js";

const fixture = JSON.parse(
  readFileSync(join(findPackageRoot(), "test", "fixtures", "etcd-proto-schema.json"), "utf8"),
) as ProtoSchema;
const ours = schemaOf(loadEtcdProtos(), ["mvccpb", "authpb", "etcdserverpb", "v3electionpb", "v3lockpb"]);

test("the fixture covers etcd's services", () => {
  assert.deepEqual(Object.keys(fixture.services), [
    "etcdserverpb.Auth",
    "etcdserverpb.Cluster",
    "etcdserverpb.KV",
    "etcdserverpb.Lease",
    "etcdserverpb.Maintenance",
    "etcdserverpb.Watch",
    "v3electionpb.Election",
    "v3lockpb.Lock",
  ]);
});

test("every message has etcd's fields, numbers, types and oneofs", () => {
  assert.deepEqual(Object.keys(ours.messages), Object.keys(fixture.messages));
  for (const [name, fields] of Object.entries(fixture.messages)) {
    assert.deepEqual(ours.messages[name], fields, name);
  }
});

test("every enum and service matches", () => {
  assert.deepEqual(ours.enums, fixture.enums);
  assert.deepEqual(ours.services, fixture.services);
});
