import assert from "node:assert/strict";
import { test } from "node:test";
import { createMetrics } from "../../common/metrics.js";
import { Errors } from "../../mvcc/errors.js";
import type {
  BidiStreamHandler,
  HandlerTable,
  PlainMessage,
  ServerStreamHandler,
  UnaryHandler,
} from "../handler-types.js";
import { instrumentHandlers } from "./instrument.js";

const ctx = { signal: new AbortController().signal, metadata: new Map<string, string>() };

test("instrumentHandlers counts started, handled (by Go code name) and messages", async () => {
  const metrics = createMetrics({ processMetrics: false });
  const table: HandlerTable = new Map();
  table.set("/etcdserverpb.KV/Range", {
    kind: "unary",
    requestType: "a",
    responseType: "b",
    async handle(req: PlainMessage) {
      if (req["bad"] === true) throw Errors.emptyKey();
      return {};
    },
  });
  table.set("/etcdserverpb.Maintenance/Snapshot", {
    kind: "server-stream",
    requestType: "a",
    responseType: "b",
    async *handle() {
      yield {};
      yield {};
    },
  });
  table.set("/etcdserverpb.Watch/Watch", {
    kind: "bidi",
    requestType: "a",
    responseType: "b",
    open(out) {
      return { message: (m) => out.send(m), end: () => out.end(Errors.compacted()) };
    },
  });
  const wrapped = instrumentHandlers(table, metrics);

  const range = wrapped.get("/etcdserverpb.KV/Range") as UnaryHandler;
  await range.handle({}, ctx);
  await assert.rejects(range.handle({ bad: true }, ctx));
  const snapshot = wrapped.get("/etcdserverpb.Maintenance/Snapshot") as ServerStreamHandler;
  for await (const _ of snapshot.handle({}, ctx)) void _;
  const watch = wrapped.get("/etcdserverpb.Watch/Watch") as BidiStreamHandler;
  const sent: PlainMessage[] = [];
  const input = watch.open({ send: (m) => sent.push(m) > 0, onDrain: () => {}, end: () => {} }, ctx);
  input.message({ a: 1 });
  input.message({ a: 2 });
  input.end();
  assert.equal(sent.length, 2);

  const text = await metrics.registry.metrics();
  const expectLine = (line: string) => assert.ok(text.includes(line + "\n"), `missing ${line}`);
  const kv = 'grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Range"';
  expectLine(`grpc_server_started_total{${kv}} 2`);
  expectLine(`grpc_server_handled_total{${kv},grpc_code="OK"} 1`);
  expectLine(`grpc_server_handled_total{${kv},grpc_code="InvalidArgument"} 1`);
  const snap = 'grpc_type="server_stream",grpc_service="etcdserverpb.Maintenance",grpc_method="Snapshot"';
  expectLine(`grpc_server_msg_sent_total{${snap}} 2`);
  expectLine(`grpc_server_handled_total{${snap},grpc_code="OK"} 1`);
  const w = 'grpc_type="bidi_stream",grpc_service="etcdserverpb.Watch",grpc_method="Watch"';
  expectLine(`grpc_server_msg_received_total{${w}} 2`);
  expectLine(`grpc_server_msg_sent_total{${w}} 2`);
  expectLine(`grpc_server_handled_total{${w},grpc_code="OutOfRange"} 1`);
});
