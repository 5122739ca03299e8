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

/** Deliberate additions beyond etcd 3.4: etcd 3.5's Auth.AuthStatus (3.5 clients call it). */
const EXTRA_MESSAGES = ["etcdserverpb.AuthStatusRequest", "etcdserverpb.AuthStatusResponse"];
const EXTRA_AUTH_METHODS = ["AuthStatus"];

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
  const extra = Object.keys(ours.messages).filter((m) => !(m in fixture.messages));
  assert.deepEqual(extra, EXTRA_MESSAGES);
  assert.deepEqual(ours.messages["etcdserverpb.AuthStatusResponse"], [
    { name: "header", number: 1, type: "etcdserverpb.ResponseHeader", repeated: false },
    { name: "enabled", number: 2, type: "bool", repeated: false },
    { name: "authRevision", number: 3, type: "uint64", repeated: false },
  ]);
  for (const [name, fields] of Object.entries(fixture.messages)) {
    assert.deepEqual(ours.messages[name], fields, name);
  }
});

test("every enum and service matches", () => {
  assert.deepEqual(ours.enums, fixture.enums);
  const services = { ...ours.services };
  services["etcdserverpb.Auth"] = (services["etcdserverpb.Auth"] ?? []).filter(
    (m) => !EXTRA_AUTH_METHODS.includes(m.name),
  );
  assert.deepEqual(services, fixture.services);
});
