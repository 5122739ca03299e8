import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeFirstJsonValue } from "../api/http/go-json.js";
import { plainFromJson } from "./codec.js";
import protobuf from "protobufjs";
import { goBase64Decode, messageFromGatewayJson } from "./gateway-json.js";

const read = (typeName: string, body: string) =>
  plainFromJson(typeName, decodeFirstJsonValue(Buffer.from(body)));
const LEASE_GRANT = "etcdserverpb.LeaseGrantRequest";
const MEMBER_REMOVE = "etcdserverpb.MemberRemoveRequest";
const RANGE = "etcdserverpb.RangeRequest";

const INT64_MIN = "-9223372036854775808";
const INT64_MAX = "9223372036854775807";
const UINT64_MAX = "18446744073709551615";

test("int64: every boundary exact, as a JSON number and as a string", () => {
  for (const text of [INT64_MIN, "-9007199254740993", "-1", "0", "1", "9007199254740993", INT64_MAX]) {
    assert.equal(read(LEASE_GRANT, `{"ID":${text}}`)["ID"], text, text);
    assert.equal(read(LEASE_GRANT, `{"ID":"${text}"}`)["ID"], text, `"${text}"`);
  }
  assert.equal(read(LEASE_GRANT, '{"ID":1586297816967798058}')["ID"], "1586297816967798058");
  // jsonpb drops the quotes and reads the rest as JSON: whitespace is fine, -0 is 0, null is unset.
  assert.equal(read(LEASE_GRANT, '{"ID":" 12 "}')["ID"], "12");
  assert.equal(read(LEASE_GRANT, '{"ID":"-0"}')["ID"], "0");
  assert.equal(read(LEASE_GRANT, '{"ID":"null"}')["ID"], "0");
  assert.equal(read(LEASE_GRANT, '{"ID":null}')["ID"], "0");
});

test("uint64: every boundary exact, as a JSON number and as a string", () => {
  for (const text of ["0", "1", "9007199254740993", INT64_MAX, "9223372036854775808", UINT64_MAX]) {
    assert.equal(read(MEMBER_REMOVE, `{"ID":${text}}`)["ID"], text, text);
    assert.equal(read(MEMBER_REMOVE, `{"ID":"${text}"}`)["ID"], text, `"${text}"`);
  }
});

// Each answer was read from etcd 3.4.23's gateway (the e2e test parity-gateway checks them live).
const REJECTED: ReadonlyArray<[string, string, string]> = [
  [
    LEASE_GRANT,
    '{"ID":9223372036854775808}',
    "json: cannot unmarshal number 9223372036854775808 into Go value of type int64",
  ],
  [
    LEASE_GRANT,
    '{"ID":"9223372036854775808"}',
    "json: cannot unmarshal number 9223372036854775808 into Go value of type int64",
  ],
  [
    LEASE_GRANT,
    '{"ID":-9223372036854775809}',
    "json: cannot unmarshal number -9223372036854775809 into Go value of type int64",
  ],
  [LEASE_GRANT, '{"ID":1.5}', "json: cannot unmarshal number 1.5 into Go value of type int64"],
  [LEASE_GRANT, '{"ID":"1.5"}', "json: cannot unmarshal number 1.5 into Go value of type int64"],
  [LEASE_GRANT, '{"ID":1.0}', "json: cannot unmarshal number 1.0 into Go value of type int64"],
  [LEASE_GRANT, '{"ID":1e3}', "json: cannot unmarshal number 1e3 into Go value of type int64"],
  [LEASE_GRANT, '{"TTL":"1E2"}', "json: cannot unmarshal number 1E2 into Go value of type int64"],
  [LEASE_GRANT, '{"ID":true}', "json: cannot unmarshal bool into Go value of type int64"],
  [LEASE_GRANT, '{"ID":"true"}', "json: cannot unmarshal bool into Go value of type int64"],
  [LEASE_GRANT, '{"ID":[1]}', "json: cannot unmarshal array into Go value of type int64"],
  [LEASE_GRANT, '{"ID":{}}', "json: cannot unmarshal object into Go value of type int64"],
  [LEASE_GRANT, '{"ID":""}', "unexpected end of JSON input"],
  [LEASE_GRANT, '{"ID":"+5"}', "invalid character '+' looking for beginning of value"],
  [LEASE_GRANT, '{"ID":"0x10"}', "invalid character 'x' after top-level value"],
  [LEASE_GRANT, '{"ID":"007"}', "invalid character '0' after top-level value"],
  [LEASE_GRANT, '{"ID":"1."}', "invalid character ' ' after decimal point in numeric literal"],
  [LEASE_GRANT, '{"ID":"\\u0031"}', "invalid character '\\\\' looking for beginning of value"],
  [MEMBER_REMOVE, '{"ID":-1}', "json: cannot unmarshal number -1 into Go value of type uint64"],
  [MEMBER_REMOVE, '{"ID":"-1"}', "json: cannot unmarshal number -1 into Go value of type uint64"],
  [MEMBER_REMOVE, '{"ID":-0}', "json: cannot unmarshal number -0 into Go value of type uint64"],
  [
    MEMBER_REMOVE,
    '{"ID":18446744073709551616}',
    "json: cannot unmarshal number 18446744073709551616 into Go value of type uint64",
  ],
  [MEMBER_REMOVE, '{"ID":1e2}', "json: cannot unmarshal number 1e2 into Go value of type uint64"],
  // Enums: a name in quotes, or a number that fits an int32.
  [RANGE, '{"sort_order":"1"}', 'unknown value "1" for enum etcdserverpb.RangeRequest_SortOrder'],
  [RANGE, '{"sort_order":"null"}', 'unknown value "null" for enum etcdserverpb.RangeRequest_SortOrder'],
  [
    RANGE,
    '{"sort_order":"B\\u00e9"}',
    'unknown value "B\\\\u00e9" for enum etcdserverpb.RangeRequest_SortOrder',
  ],
  [
    RANGE,
    '{"sort_order":2147483648}',
    "json: cannot unmarshal number 2147483648 into Go value of type etcdserverpb.RangeRequest_SortOrder",
  ],
  [
    RANGE,
    '{"sort_order":1.5}',
    "json: cannot unmarshal number 1.5 into Go value of type etcdserverpb.RangeRequest_SortOrder",
  ],
  [
    RANGE,
    '{"sort_order":true}',
    "json: cannot unmarshal bool into Go value of type etcdserverpb.RangeRequest_SortOrder",
  ],
  ["authpb.Permission", '{"permType":"RW"}', 'unknown value "RW" for enum authpb.Permission_Type'],
  [
    "etcdserverpb.WatchCreateRequest",
    '{"filters":"NODELETE"}',
    'invalid target "slice" for enum etcdserverpb.WatchCreateRequest_FilterType',
  ],
  [
    "etcdserverpb.WatchCreateRequest",
    '{"filters":"X"}',
    'unknown value "X" for enum etcdserverpb.WatchCreateRequest_FilterType',
  ],
  // Other scalars and shapes.
  [RANGE, '{"serializable":"true"}', "json: cannot unmarshal string into Go value of type bool"],
  [RANGE, '{"serializable":1}', "json: cannot unmarshal number into Go value of type bool"],
  [RANGE, '{"key":5}', "json: cannot unmarshal number into Go value of type []uint8"],
  [RANGE, '{"key":"YQ"}', "illegal base64 data at input byte 0"],
  [RANGE, '{"key":"-_=="}', "illegal base64 data at input byte 0"],
  [RANGE, '{"key":"YQ==YQ=="}', "illegal base64 data at input byte 4"],
  [
    "etcdserverpb.MemberUpdateRequest",
    '{"peerURLs":"x"}',
    "json: cannot unmarshal string into Go value of type []json.RawMessage",
  ],
  [
    "etcdserverpb.MemberUpdateRequest",
    '{"peerURLs":[1]}',
    "json: cannot unmarshal number into Go value of type string",
  ],
  [RANGE, "[1]", "json: cannot unmarshal array into Go value of type map[string]json.RawMessage"],
  [RANGE, "5", "json: cannot unmarshal number into Go value of type map[string]json.RawMessage"],
  // Nested messages at any depth, in repeated fields and oneofs.
  [
    "etcdserverpb.TxnRequest",
    '{"compare":[{"target":"MOD","mod_revision":9223372036854775808}]}',
    "json: cannot unmarshal number 9223372036854775808 into Go value of type int64",
  ],
  [
    "etcdserverpb.TxnRequest",
    '{"success":[{"requestPut":{"lease":"18446744073709551615"}}]}',
    "json: cannot unmarshal number 18446744073709551615 into Go value of type int64",
  ],
  [
    "etcdserverpb.TxnRequest",
    '{"success":[{"request_txn":{"compare":[{"create_revision":"1e1"}]}}]}',
    "json: cannot unmarshal number 1e1 into Go value of type int64",
  ],
  [
    "etcdserverpb.TxnRequest",
    '{"compare":{}}',
    "json: cannot unmarshal object into Go value of type []json.RawMessage",
  ],
  [
    "etcdserverpb.TxnRequest",
    '{"compare":[5]}',
    "json: cannot unmarshal number into Go value of type map[string]json.RawMessage",
  ],
  [
    "v3electionpb.ResignRequest",
    '{"leader":{"rev":9223372036854775808}}',
    "json: cannot unmarshal number 9223372036854775808 into Go value of type int64",
  ],
  [
    "v3electionpb.ResignRequest",
    '{"leader":"x"}',
    "json: cannot unmarshal string into Go value of type map[string]json.RawMessage",
  ],
];

test("values that do not fit their field get etcd's gateway's messages", () => {
  for (const [typeName, body, message] of REJECTED) {
    assert.throws(() => read(typeName, body), { message }, `${typeName} ${body}`);
  }
});

test("fields are read in declaration order; the lowerCamelCase name wins over the proto name", () => {
  // limit (3) is read before sort_order (5), whatever the JSON order.
  assert.throws(() => read(RANGE, '{"sort_order":"X","limit":"x"}'), {
    message: "invalid character 'x' looking for beginning of value",
  });
  assert.equal(read(RANGE, '{"sortOrder":"DESCEND","sort_order":"X"}')["sort_order"], 2);
  assert.throws(() => read(RANGE, '{"sort_order":"DESCEND","sortOrder":"X"}'), {
    message: 'unknown value "X" for enum etcdserverpb.RangeRequest_SortOrder',
  });
  assert.equal(read(RANGE, '{"limit":1,"limit":"7"}')["limit"], "7");
});

test("nested and repeated 64-bit fields are exact at any depth", () => {
  const txn = read(
    "etcdserverpb.TxnRequest",
    '{"compare":[{"key":"YQ==","target":"MOD","result":"LESS","mod_revision":"9223372036854775807"},' +
      '{"target":"LEASE","lease":-9223372036854775808}],' +
      '"success":[{"request_txn":{"success":[{"request_put":{"key":"YQ==","lease":9007199254740993}}]}}]}',
  );
  const compare = txn["compare"] as Record<string, unknown>[];
  assert.equal(compare[0]?.["mod_revision"], INT64_MAX);
  assert.equal(compare[0]?.["result"], 2);
  assert.equal(compare[1]?.["lease"], INT64_MIN);
  const inner = (txn["success"] as Record<string, Record<string, unknown>>[])[0]?.["request_txn"];
  const put = (inner?.["success"] as Record<string, Record<string, unknown>>[])[0]?.["request_put"];
  assert.equal(put?.["lease"], "9007199254740993");

  const resign = read("v3electionpb.ResignRequest", `{"leader":{"rev":"${INT64_MAX}","lease":${INT64_MAX}}}`);
  const leader = resign["leader"] as Record<string, unknown>;
  assert.equal(leader["rev"], INT64_MAX);
  assert.equal(leader["lease"], INT64_MAX);

  const alarm = read("etcdserverpb.AlarmRequest", `{"action":"GET","memberID":${UINT64_MAX}}`);
  assert.equal(alarm["memberID"], UINT64_MAX);

  const watch = read(
    "etcdserverpb.WatchRequest",
    '{"create_request":{"key":"YQ==","start_revision":9007199254740993,"filters":["NOPUT",1],"watch_id":"-5"}}',
  );
  const create = watch["create_request"] as Record<string, unknown>;
  assert.equal(create["start_revision"], "9007199254740993");
  assert.equal(create["watch_id"], "-5");
  assert.deepEqual(create["filters"], [0, 1]);

  const update = read("etcdserverpb.MemberUpdateRequest", '{"ID":"1","peerURLs":["http://a:1",null]}');
  assert.deepEqual(update["peerURLs"], ["http://a:1", ""]);
});

test("enums by name or by number, unknown numbers kept; bytes are standard base64", () => {
  assert.equal(read(RANGE, '{"sort_order":"DESCEND"}')["sort_order"], 2);
  assert.equal(read(RANGE, '{"sort_order":99}')["sort_order"], 99);
  assert.equal(read(RANGE, '{"sort_order":-2147483648}')["sort_order"], -2147483648);
  assert.deepEqual(Buffer.from(read(RANGE, '{"key":"YR=="}')["key"] as Uint8Array), Buffer.from("a"));
  assert.deepEqual(Buffer.from(goBase64Decode(Buffer.from("Zm9v\nYmFy"))), Buffer.from("foobar"));
  assert.deepEqual(Buffer.from(goBase64Decode(Buffer.from("YQ=\r\n="))), Buffer.from("a"));
  assert.throws(() => goBase64Decode(Buffer.from("YQ=\\n=")), {
    message: "illegal base64 data at input byte 2",
  });
  assert.throws(() => goBase64Decode(Buffer.from("YQ=x")), {
    message: "illegal base64 data at input byte 2",
  });
  assert.throws(() => goBase64Decode(Buffer.from("YQ=")), { message: "illegal base64 data at input byte 3" });
  assert.deepEqual(Buffer.from(goBase64Decode(Buffer.from(""))), Buffer.alloc(0));
});

test("an empty body, null or {} is an all-defaults request", () => {
  for (const body of ["", "null", "{}", '{"unknown":[1,{"x":2}]}']) {
    const req = read(RANGE, body);
    assert.equal(req["revision"], "0");
    assert.equal(req["limit"], "0");
    assert.equal(req["sort_order"], 0);
  }
});

test("double and float fields follow jsonpb (no etcd request has one; checked with Go's jsonpb)", () => {
  const root = protobuf.Root.fromJSON({
    nested: {
      t: { nested: { F: { fields: { d: { type: "double", id: 1 }, f: { type: "float", id: 2 } } } } },
    },
  });
  root.resolveAll();
  const type = root.lookupType("t.F");
  const readF = (body: string) => messageFromGatewayJson(type, decodeFirstJsonValue(Buffer.from(body))!);
  assert.deepEqual(readF('{"d":1.5,"f":"1.5"}'), { d: 1.5, f: 1.5 });
  assert.deepEqual(readF('{"d":"NaN","f":"-Infinity"}'), { d: NaN, f: -Infinity });
  assert.deepEqual(readF('{"d":"Infinity","f":3.4e38}'), { d: Infinity, f: Math.fround(3.4e38) });
  assert.deepEqual(readF('{"d":null,"f":"null"}'), {});
  assert.deepEqual(readF('{"f":1e-50}'), { f: 0 });
  for (const [body, message] of [
    ['{"d":1e400}', "json: cannot unmarshal number 1e400 into Go value of type float64"],
    ['{"d":"-1e400"}', "json: cannot unmarshal number -1e400 into Go value of type float64"],
    ['{"f":1e39}', "json: cannot unmarshal number 1e39 into Go value of type float32"],
    ['{"d":true}', "json: cannot unmarshal bool into Go value of type float64"],
    ['{"d":"x"}', "invalid character 'x' looking for beginning of value"],
  ] as const) {
    assert.throws(() => readF(body), { message }, body);
  }
});
