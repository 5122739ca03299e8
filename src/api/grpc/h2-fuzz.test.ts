// Random HTTP/2 frames after the connection preface: whatever a client sends, the server neither
// throws nor stops serving other connections. Replay a failure with KVORUM_SEED=<seed printed>.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import fc from "fast-check";
import * as grpc from "@grpc/grpc-js";
import { decodePlain, encodePlain } from "../../proto/codec.js";
import type { HandlerTable } from "../handler-types.js";
import { HTTP2_PREFACE, listenClientUrl, type ClientListener } from "../listener.js";
import { unary } from "../services/unary.js";
import { encodeHeaderBlock } from "./h2-connection.js";
import { createGrpcServer, type GrpcEndpoint } from "./server.js";

let endpoint: GrpcEndpoint;
let listener: ClientListener;
const uncaught: unknown[] = [];
/** Calls of the DeleteRange handler, which only the connection-error test asks for. */
let deleteCalls = 0;
const onUncaught = (err: unknown): void => void uncaught.push(err);

before(async () => {
  process.on("uncaughtException", onUncaught);
  const table: HandlerTable = new Map();
  table.set(
    "/etcdserverpb.KV/Put",
    unary("etcdserverpb.PutRequest", "etcdserverpb.PutResponse", () =>
      Promise.resolve({ header: { revision: "7" } }),
    ),
  );
  table.set(
    "/etcdserverpb.KV/DeleteRange",
    unary("etcdserverpb.DeleteRangeRequest", "etcdserverpb.DeleteRangeResponse", () => {
      deleteCalls++;
      return Promise.resolve({});
    }),
  );
  endpoint = createGrpcServer(table, { maxRecvBytes: 64 * 1024 });
  listener = await listenClientUrl("http://127.0.0.1:0", { grpc: endpoint, http: (_q, r) => r.end() });
});

after(async () => {
  process.off("uncaughtException", onUncaught);
  await listener.close();
  await endpoint.close();
});

function frame(type: number, flags: number, stream: number, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

const REQUEST = encodeHeaderBlock([
  [":method", "POST"],
  [":scheme", "http"],
  [":path", "/etcdserverpb.KV/Put"],
  [":authority", "http://127.0.0.1:2379"],
  ["content-type", "application/grpc"],
  ["te", "trailers"],
]);
const streamId = fc.constantFrom(1, 3, 5, 7);

/** A well-formed request HEADERS frame (END_HEADERS, maybe END_STREAM) on a small stream id. */
const headersArb = fc
  .tuple(streamId, fc.boolean())
  .map(([id, end]) => frame(0x1, 0x4 | (end ? 0x1 : 0), id, REQUEST));

/** DATA: a gRPC message prefix with a length that may lie, and random bytes. */
const dataArb = fc
  .tuple(streamId, fc.boolean(), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 48 }))
  .map(([id, end, length, body]) => {
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(length % 4 === 0 ? body.length : length, 1);
    return frame(0x0, end ? 0x1 : 0, id, Buffer.concat([prefix, body]));
  });

/** Any frame: a 9-byte header (any type, flags and stream id) and its payload. */
const rawArb = fc
  .record({
    type: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 10, max: 255 })),
    flags: fc.integer({ min: 0, max: 255 }),
    stream: fc.oneof(fc.constantFrom(0, 1, 3, 5, 2), fc.integer({ min: 0, max: 2 ** 31 - 1 })),
    payload: fc.uint8Array({ maxLength: 64 }),
    lie: fc.option(fc.integer({ min: 0, max: 2 ** 24 - 1 }), { freq: 8 }),
  })
  .map(({ type, flags, stream, payload, lie }) => {
    const h = Buffer.alloc(9);
    h.writeUIntBE(lie ?? payload.length, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(stream, 5);
    return Buffer.concat([h, payload]);
  });

const frameArb = fc.oneof(rawArb, headersArb, dataArb);

/** Sends the preface and the frames, then waits until the server closes or 300 ms pass. */
function sendFrames(frames: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(listener.port ?? 0, "127.0.0.1", () => {
      s.write(Buffer.concat([HTTP2_PREFACE, ...frames]));
    });
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    const timer = setTimeout(done, 300);
    s.on("error", done);
    s.on("close", done);
    s.resume();
  });
}

function put(): Promise<string> {
  const client = new grpc.Client(`127.0.0.1:${listener.port}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      "/etcdserverpb.KV/Put",
      (m: Record<string, unknown>) => Buffer.from(encodePlain("etcdserverpb.PutRequest", m)),
      (b: Buffer) => decodePlain("etcdserverpb.PutResponse", b),
      { key: Buffer.from("k") },
      { deadline: Date.now() + 5000 },
      (err, resp) => {
        client.close();
        if (err) reject(err);
        else resolve(String((resp?.["header"] as Record<string, unknown>)["revision"]));
      },
    );
  });
}

test("random frames after the preface never crash the server", { timeout: 120_000 }, async () => {
  const seed = Number(process.env.KVORUM_SEED ?? Date.now() % 2 ** 31);
  console.log(`h2 fuzz seed ${seed} (replay: KVORUM_SEED=${seed})`);
  await fc.assert(
    fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 12 }), async (frames) => {
      await sendFrames(frames);
      assert.deepEqual(uncaught, []);
    }),
    { seed, numRuns: 150 },
  );
  assert.equal(await put(), "7");
});

test("after a connection error the server reads nothing more from that connection", async () => {
  const deleteRequest = encodeHeaderBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/etcdserverpb.KV/DeleteRange"],
    ["content-type", "application/grpc"],
  ]);
  const request = Buffer.concat([
    frame(0x1, 0x4, 1, deleteRequest),
    frame(0x0, 0x1, 1, Buffer.from([0, 0, 0, 0, 3, 0x0a, 0x01, 0x6b])),
  ]);
  // DATA on stream 0 is a connection error; a request sent after it (in a later packet, while the
  // server still has the socket open) must not be served.
  const bytes = Buffer.concat([
    HTTP2_PREFACE,
    frame(0x4, 0, 0, new Uint8Array(0)),
    frame(0x0, 0, 0, new Uint8Array(1)),
  ]);
  const received = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(listener.port ?? 0, "127.0.0.1", () => {
      s.write(bytes);
      setTimeout(() => s.write(request), 100);
    });
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, 2000);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", done);
    s.on("close", done);
  });
  const types: number[] = [];
  for (let pos = 0; pos + 9 <= received.length; pos += 9 + received.readUIntBE(pos, 3))
    types.push(received[pos + 3]!);
  assert.ok(types.includes(0x7), `a GOAWAY was sent (frame types ${types.join(",")})`);
  assert.ok(!types.includes(0x1), `no HEADERS answered the request (frame types ${types.join(",")})`);
  assert.equal(deleteCalls, 0, "the request sent after the connection error reached its handler");
});
