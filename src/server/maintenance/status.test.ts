import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryBackend } from "../../mvcc/memory-backend.js";
import { AlarmType } from "../member-api.js";
import { AlarmStore } from "./alarms.js";
import { statusErrors } from "./status.js";

test("status errors: no leader first, then alarms in etcd's text form", () => {
  const backend = new MemoryBackend();
  const alarms = new AlarmStore(backend);
  assert.deepEqual(statusErrors(5n, alarms), []);
  backend.writeTxn(() => alarms.activate(10276657743932975437n, AlarmType.NOSPACE));
  assert.deepEqual(statusErrors(0n, alarms), [
    "etcdserver: no leader",
    "memberID:10276657743932975437 alarm:NOSPACE ",
  ]);
});
