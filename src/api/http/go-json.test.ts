import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeFirstJsonValue } from "./go-json.js";

// Each message was read from etcd 3.4.23's gateway (POST /v3/kv/range with that body).
const ETCD_MESSAGES: ReadonlyArray<[string | Buffer, string]> = [
  ["garbage", "invalid character 'g' looking for beginning of value"],
  ['{"key"', "unexpected EOF"],
  ['{"key":}', "invalid character '}' looking for beginning of value"],
  ['{"key" 1}', "invalid character '1' after object key"],
  ['{"a":1 "b":2}', "invalid character '\"' after object key:value pair"],
  ['{"a":[1 2]}', "invalid character '2' after array element"],
  ['{"a":"x\\q"}', "invalid character 'q' in string escape code"],
  ['{"a":-x}', "invalid character 'x' in numeric literal"],
  ['{"a":1.}', "invalid character '}' after decimal point in numeric literal"],
  ['{"a":1e}', "invalid character '}' in exponent of numeric literal"],
  ['{"a":tru}', "invalid character '}' in literal true (expecting 'e')"],
  ["{,}", "invalid character ',' looking for beginning of object key string"],
  ['{"a":"\\u12g4"}', "invalid character 'g' in \\u hexadecimal character escape"],
  ['{"a":"\n"}', "invalid character '\\n' in string literal"],
  ["'x'", "invalid character '\\'' looking for beginning of value"],
  ['{"a":\\}', "invalid character '\\\\' looking for beginning of value"],
  ["é", "invalid character 'Ã' looking for beginning of value"],
  [Buffer.from([0x85]), "invalid character '\\u0085' looking for beginning of value"],
  [Buffer.from([0xa0]), "invalid character '\\u00a0' looking for beginning of value"],
  [Buffer.from([0x7f]), "invalid character '\\x7f' looking for beginning of value"],
];

test("malformed bodies get Go's json.Decoder messages", () => {
  for (const [body, message] of ETCD_MESSAGES) {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    assert.throws(() => decodeFirstJsonValue(bytes), { message }, JSON.stringify(body.toString()));
  }
});

test("the first value counts; empty bodies are no value", () => {
  assert.deepEqual(decodeFirstJsonValue(Buffer.from(' {"a":[1,-2.5e3,true,null,"x\\u00e9"]} trailing')), {
    a: [1, -2500, true, null, "xé"],
  });
  assert.equal(decodeFirstJsonValue(Buffer.from("  \n")), undefined);
  assert.equal(decodeFirstJsonValue(Buffer.alloc(0)), undefined);
});
