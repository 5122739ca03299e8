import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeFirstJsonValue, decodeJsonPrefix, jsonValueToJs, readGoJsonValue } from "./go-json.js";

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
  const first = decodeFirstJsonValue(Buffer.from(' {"a":[1,-2.5e3,true,null,"x\\u00e9"]} trailing'));
  assert.deepEqual(first && jsonValueToJs(first), { a: [1, -2500, true, null, "xé"] });
  assert.equal(decodeFirstJsonValue(Buffer.from("  \n")), undefined);
  assert.equal(decodeFirstJsonValue(Buffer.alloc(0)), undefined);
});

test("numbers stay the text they were written as; strings keep their raw bytes", () => {
  const v = decodeFirstJsonValue(
    Buffer.from('{"a":9223372036854775807,"b":-18446744073709551616,"c":1.50e+3,"d":"\\u0031 2"}'),
  );
  assert.ok(v?.kind === "object");
  const field = (k: string) => v.fields.get(k);
  const a = field("a");
  const b = field("b");
  const c = field("c");
  const d = field("d");
  assert.ok(a?.kind === "number" && b?.kind === "number" && c?.kind === "number" && d?.kind === "string");
  assert.equal(a.text, "9223372036854775807");
  assert.equal(b.text, "-18446744073709551616");
  assert.equal(c.text, "1.50e+3");
  assert.equal(d.value, "1 2");
  assert.equal(Buffer.from(d.raw).toString(), '"\\u0031 2"');
});

test("a repeated key: the last one wins", () => {
  const v = decodeFirstJsonValue(Buffer.from('{"k":1,"j":2,"k":"x"}'));
  assert.ok(v?.kind === "object");
  assert.deepEqual([...v.fields.keys()], ["j", "k"]);
  assert.equal(v.fields.get("k")?.kind, "string");
});

test("decodeJsonPrefix says where the next value starts", () => {
  assert.equal(decodeJsonPrefix(Buffer.from('{"a":1} {"b":2}'))?.end, 7);
  assert.equal(decodeJsonPrefix(Buffer.from("12{"))?.end, 2);
  assert.equal(decodeJsonPrefix(Buffer.from("  12{"))?.end, 4);
  assert.equal(decodeJsonPrefix(Buffer.from(" \n")), undefined);
  assert.throws(() => decodeJsonPrefix(Buffer.from('{"a":')), { message: "unexpected EOF" });
});

// json.Unmarshal's texts, which differ from json.Decoder's at the end of the input: what etcd's
// gateway answers for a quoted number such as {"ID":"1."} (checked against etcd 3.4.23).
const UNMARSHAL_MESSAGES: ReadonlyArray<[string, string]> = [
  ["", "unexpected end of JSON input"],
  ["   ", "unexpected end of JSON input"],
  ["{", "unexpected end of JSON input"],
  ["[1,", "unexpected end of JSON input"],
  ["1.", "invalid character ' ' after decimal point in numeric literal"],
  ["-", "invalid character ' ' in numeric literal"],
  ["1e", "invalid character ' ' in exponent of numeric literal"],
  ["1e+", "invalid character ' ' in exponent of numeric literal"],
  ["tru", "invalid character ' ' in literal true (expecting 'e')"],
  ["5 6", "invalid character '6' after top-level value"],
  ["0x10", "invalid character 'x' after top-level value"],
  ["007", "invalid character '0' after top-level value"],
  ["+5", "invalid character '+' looking for beginning of value"],
  ["\\u0031", "invalid character '\\\\' looking for beginning of value"],
];

test("readGoJsonValue: one value and Go's json.Unmarshal messages", () => {
  for (const [text, message] of UNMARSHAL_MESSAGES) {
    assert.throws(() => readGoJsonValue(Buffer.from(text)), { message }, JSON.stringify(text));
  }
  const v = readGoJsonValue(Buffer.from(" -9223372036854775808 "));
  assert.ok(v.kind === "number");
  assert.equal(v.text, "-9223372036854775808");
  assert.equal(readGoJsonValue(Buffer.from("null")).kind, "null");
});
