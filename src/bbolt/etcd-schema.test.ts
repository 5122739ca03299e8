// etcd's encodings, checked against bytes read out of a snapshot that etcd 3.4.23 itself wrote
// (put a=1, b=2, a=3, del b, a lease of TTL 100 with key c, put d, del d, compact 5, put e).

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  decodeKeyValue,
  encodeAlarmMember,
  encodeKeyValue,
  encodeLease,
  encodeMember,
  memberKey,
  parseRevisionBytes,
  revisionBytes,
  u64BE,
} from "./etcd-schema.js";
import { formatSnapshotStatus, humanizeBytes } from "./status.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const LEASE = 4176141191007966473n;

test("mvccpb.KeyValue as etcd stores it in the key bucket", () => {
  const a = {
    key: Buffer.from("a"),
    createRevision: 2,
    modRevision: 4,
    version: 2,
    value: Buffer.from("3"),
    lease: 0n,
  };
  assert.equal(hex(encodeKeyValue(a)), "0a01611002180420022a0133");
  const c = {
    key: Buffer.from("c"),
    createRevision: 6,
    modRevision: 6,
    version: 1,
    value: Buffer.from("4"),
    lease: LEASE,
  };
  assert.equal(hex(encodeKeyValue(c)), "0a01631006180620012a01343089aaa0ef97c9a8fa39");
  const tomb = {
    key: Buffer.from("d"),
    createRevision: 0,
    modRevision: 0,
    version: 0,
    value: Buffer.alloc(0),
    lease: 0n,
  };
  assert.equal(hex(encodeKeyValue(tomb)), "0a0164");
  assert.deepEqual(decodeKeyValue(encodeKeyValue(c)), c);
  // A negative lease ID is an int64: ten varint bytes, as Go writes it.
  const neg = encodeKeyValue({ ...c, lease: -1n });
  assert.equal(decodeKeyValue(neg).lease, -1n);
  assert.equal(hex(neg).endsWith("30ffffffffffffffffff01"), true);
});

test("revision keys, lease, member and alarm encodings", () => {
  assert.equal(hex(revisionBytes(4, 0)), "00000000000000045f0000000000000000");
  assert.equal(hex(revisionBytes(8, 0, true)), "00000000000000085f000000000000000074");
  assert.deepEqual(parseRevisionBytes(revisionBytes(8, 3, true)), { main: 8, sub: 3, tombstone: true });
  assert.equal(hex(u64BE(LEASE)), "39f4a2497de81509");
  assert.equal(hex(encodeLease(LEASE, 100)), "0889aaa0ef97c9a8fa391064");
  // A persisted lease checkpoint adds leasepb.Lease.RemainingTTL (field 3).
  assert.equal(hex(encodeLease(LEASE, 100, 42)), "0889aaa0ef97c9a8fa391064182a");
  const id = 10267226120768469492n;
  assert.equal(memberKey(id).toString(), "8e7c83c23d0439f4");
  assert.equal(memberKey(0x0abcn).toString(), "abc");
  assert.equal(
    encodeMember({
      id,
      name: "default",
      peerUrls: ["http://127.0.0.1:56743"],
      clientUrls: ["http://127.0.0.1:54825"],
      isLearner: false,
    }).toString(),
    '{"id":10267226120768469492,"peerURLs":["http://127.0.0.1:56743"],"name":"default","clientURLs":["http://127.0.0.1:54825"]}',
  );
  assert.equal(
    encodeMember({ id: 1n, name: "", peerUrls: ["http://a<b"], clientUrls: [], isLearner: true }).toString(),
    '{"id":1,"peerURLs":["http://a\\u003cb"],"isLearner":true}',
  );
  assert.equal(hex(encodeAlarmMember(5n, 1)), "08051001");
});

test("snapshot status printing follows etcdctl", () => {
  assert.equal(humanizeBytes(24576), "25 kB");
  assert.equal(humanizeBytes(4096), "4.1 kB");
  assert.equal(humanizeBytes(9), "9 B");
  assert.equal(humanizeBytes(12_500), "12 kB"); // Go prints 12.5 with %.0f as 12 (ties to even)
  assert.equal(humanizeBytes(13_500), "14 kB");
  assert.equal(humanizeBytes(2_500_000_000), "2.5 GB");
  const s = { hash: 352844951, revision: 9, totalKey: 12, totalSize: 24576 };
  assert.equal(formatSnapshotStatus(s, "simple"), "1507fc97, 9, 12, 25 kB\n");
  assert.equal(
    formatSnapshotStatus(s, "json"),
    '{"hash":352844951,"revision":9,"totalKey":12,"totalSize":24576}\n',
  );
  assert.equal(
    formatSnapshotStatus(s, "table"),
    [
      "+----------+----------+------------+------------+",
      "|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |",
      "+----------+----------+------------+------------+",
      "| 1507fc97 |        9 |         12 |      25 kB |",
      "+----------+----------+------------+------------+",
      "",
    ].join("\n"),
  );
});
