import { test } from "node:test";
import assert from "node:assert/strict";
import { Crc32c, crc32c } from "./crc32c.js";

const check = new TextEncoder().encode("123456789");

test("CRC-32C of the standard check input is 0xE3069283", () => {
  assert.equal(crc32c(check), 0xe3069283);
});

test("the incremental form over chunks equals the one-shot CRC", () => {
  const data = new Uint8Array(1000).map((_, i) => (i * 31 + 7) & 0xff);
  const inc = new Crc32c()
    .update(data.subarray(0, 3))
    .update(data.subarray(3, 517))
    .update(data.subarray(517));
  assert.equal(inc.value, crc32c(data));
  assert.equal(new Crc32c().value, crc32c(new Uint8Array()));
});
