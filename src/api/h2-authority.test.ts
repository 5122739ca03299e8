import assert from "node:assert/strict";
import { test } from "node:test";
import { AuthorityRepairer, repairHeaderBlock } from "./h2-authority.js";

// The first HEADERS block etcdctl 3.4 sent for `etcdctl --endpoints http://127.0.0.1:23799 defrag`
// (captured on loopback): :authority is a Huffman-coded literal "http://127.0.0.1:23799".
const ETCDCTL_DEFRAG_BLOCK = Buffer.from(
  "8386459a60a924882d9dcb6571afa066a925a87510ac5f2cb60e6a4b527f41909d29aee30c044eae05c0b86e09975f7f" +
    "5f8b1d75d0620d263d4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d494f6a7f" +
    "860bef89d10adf408d25062d495875996ee5b1063d5f03332e34",
  "hex",
);

/** A literal with incremental indexing, name = static :authority (index 1), plain value. */
function plainAuthority(value: string): Buffer {
  return Buffer.concat([Buffer.from([0x41, value.length]), Buffer.from(value, "latin1")]);
}

test("a plain :authority with a scheme keeps its length, '/' becomes '-'", () => {
  const block = Buffer.concat([Buffer.from([0x83, 0x86]), plainAuthority("http://a:1"), Buffer.from([0x84])]);
  const repaired = repairHeaderBlock(block);
  assert.ok(repaired !== null);
  assert.deepEqual(
    repaired,
    Buffer.concat([Buffer.from([0x83, 0x86]), plainAuthority("http:--a:1"), Buffer.from([0x84])]),
  );
});

test("valid authorities and other headers are left alone", () => {
  assert.equal(
    repairHeaderBlock(Buffer.concat([Buffer.from([0x83]), plainAuthority("127.0.0.1:2379")])),
    null,
  );
  // :path "/x" as a literal (static name index 4) contains '/' but is not an authority.
  assert.equal(repairHeaderBlock(Buffer.from([0x44, 0x02, 0x2f, 0x78])), null);
});

test("etcdctl's Huffman-coded authority is repaired to a plain literal of the same decoded length", () => {
  const repaired = repairHeaderBlock(ETCDCTL_DEFRAG_BLOCK);
  assert.ok(repaired !== null);
  assert.ok(repaired.includes(Buffer.from("http:--127.0.0.1:23799", "latin1")));
  // Everything before and after the authority field is byte for byte the same.
  const at = ETCDCTL_DEFRAG_BLOCK.indexOf(Buffer.from([0x41, 0x90]));
  assert.deepEqual(repaired.subarray(0, at), ETCDCTL_DEFRAG_BLOCK.subarray(0, at));
  const tail = ETCDCTL_DEFRAG_BLOCK.subarray(at + 2 + 0x10);
  assert.deepEqual(repaired.subarray(repaired.length - tail.length), tail);
});

test("the stream repairer passes other frames through and reframes header blocks, in any chunking", () => {
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
  const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  const block = ETCDCTL_DEFRAG_BLOCK;
  const headers = Buffer.concat([
    Buffer.from([0, 0, block.length, 1, 0x04, 0, 0, 0, 1]), // HEADERS, END_HEADERS, stream 1
    block,
  ]);
  const data = Buffer.from([0, 0, 2, 0, 0x01, 0, 0, 0, 1, 0xaa, 0xbb]); // DATA, END_STREAM
  const input = Buffer.concat([preface, settings, headers, data]);
  const expectedBlock = repairHeaderBlock(block)!;
  const expected = Buffer.concat([
    preface,
    settings,
    Buffer.from([0, 0, expectedBlock.length, 1, 0x04, 0, 0, 0, 1]),
    expectedBlock,
    data,
  ]);
  for (const step of [1, 7, 50, input.length]) {
    const repairer = new AuthorityRepairer();
    const out: Buffer[] = [];
    for (let i = 0; i < input.length; i += step) out.push(repairer.push(input.subarray(i, i + step)));
    assert.deepEqual(Buffer.concat(out), expected, `chunks of ${step}`);
  }
});
