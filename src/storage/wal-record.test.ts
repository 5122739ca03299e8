// Unit tests for CRC-32C and the WAL record codec: known check values, chaining, and that a record
// only decodes in the position (previous CRC) it was written for.

import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32c } from "../common/crc32c.js";
import { decodeRecordAt, encodeRecords, RecordType, type WalRecord } from "./wal-record.js";
import { EntryType } from "../raft/types.js";

test("crc32c matches the standard check value and chains", () => {
  const data = Buffer.from("123456789");
  assert.equal(crc32c(data), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
  const long = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff));
  assert.equal(crc32c(long.subarray(300), crc32c(long.subarray(0, 300))), crc32c(long));
  assert.equal(crc32c(long, 0, 10, 20), crc32c(long.subarray(10, 20)));
});

const records: WalRecord[] = [
  {
    type: RecordType.SegmentHeader,
    header: {
      seq: 7,
      prevCrc: 0xdeadbeef,
      firstIndex: 2 ** 40,
      prevTerm: 3,
      bootstrap: { voters: ["a", "é"], learners: ["z"] },
    },
  },
  {
    type: RecordType.Entry,
    entry: { index: 2 ** 40, term: 5, type: EntryType.ConfChange, data: new Uint8Array([1, 2, 3]) },
  },
  {
    type: RecordType.Entry,
    entry: { index: 2 ** 40 + 1, term: 5, type: EntryType.Normal, data: new Uint8Array() },
  },
  { type: RecordType.HardState, hardState: { term: 5, vote: "node-b", commit: 2 ** 40 } },
  { type: RecordType.SnapshotMarker, marker: { index: 99, term: 4, resetsLog: true } },
];

test("records round-trip and chain", () => {
  const { bytes, crc } = encodeRecords(records, 0xdeadbeef);
  let off = 0;
  let prev = 0;
  for (const want of records) {
    const got = decodeRecordAt(bytes, off, bytes.length, prev);
    assert.equal(got.kind, "record");
    if (got.kind !== "record") return;
    assert.deepEqual(got.record, want);
    prev = got.crc;
    off += got.size;
  }
  assert.equal(off, bytes.length);
  assert.equal(prev, crc);
});

test("a record does not validate after a different predecessor", () => {
  const { bytes } = encodeRecords(records.slice(1, 2), 1234);
  assert.equal(decodeRecordAt(bytes, 0, bytes.length, 1234).kind, "record");
  const other = decodeRecordAt(bytes, 0, bytes.length, 1235);
  assert.equal(other.kind, "bad");
});

test("zero bytes decode as the end; damaged bytes as bad", () => {
  assert.deepEqual(decodeRecordAt(Buffer.alloc(40), 0, 40, 0), { kind: "end" });
  assert.deepEqual(decodeRecordAt(Buffer.alloc(5), 0, 5, 0), { kind: "end" });
  const { bytes } = encodeRecords(records.slice(1, 2), 0);
  for (let i = 0; i < bytes.length; i++) {
    const copy = Buffer.from(bytes);
    copy[i] ^= 0x10;
    assert.equal(decodeRecordAt(copy, 0, copy.length, 0).kind, "bad", `flip at byte ${i}`);
  }
  assert.equal(decodeRecordAt(bytes, 0, bytes.length - 1, 0).kind, "bad");
});
