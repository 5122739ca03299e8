// The gRPC binding over a real member on loopback: etcd's answers to bad input, and a server that
// stays up through malformed messages, oversized requests, garbage bytes and vanishing clients.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { parseServerConfig } from "../../config/server-config.js";
import { decodePlain, encodePlain } from "../../proto/codec.js";
import { startMember, type Member } from "../../server/index.js";
import { listenClientUrl, type ClientListener } from "../listener.js";
import type { PlainMessage } from "../handler-types.js";
import { createHandlerTable } from "../services/index.js";
import { createGrpcServer, type GrpcEndpoint } from "./server.js";

const MAX_REQUEST_BYTES = 64 * 1024;
const b = (s: string): Buffer => Buffer.from(s);

let dir = "";
let member: Member;
let grpcServer: GrpcEndpoint;
let listener: ClientListener;
let target = "";

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "kvorum-grpc-"));
  const { config } = parseServerConfig(
    [
      "--data-dir",
      join(dir, "data"),
      "--heartbeat-interval",
      "10",
      "--election-timeout",
      "100",
      "--max-request-bytes",
      String(MAX_REQUEST_BYTES),
      "--max-txn-ops",
      "4",
    ],
    {},
  );
  member = await startMember({ config, storage: "memory" });
  const table = createHandlerTable(member, { maxTxnOps: 4, maxRequestBytes: MAX_REQUEST_BYTES });
  grpcServer = createGrpcServer(table, { maxRecvBytes: MAX_REQUEST_BYTES + 512 * 1024 });
  listener = await listenClientUrl("http://127.0.0.1:0", {
    grpc: grpcServer,
    http: (_req, res) => res.end(),
  });
  target = `127.0.0.1:${listener.port}`;
  for (let i = 0; i < 200; i++) {
    if ((await member.status()).leader !== 0n) break;
    await new Promise((r) => setTimeout(r, 10));
  }
});

after(async () => {
  await listener.close();
  await grpcServer.close();
  await member.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A unary call with raw request bytes; the response decoded as `responseType`. */
function callRaw(path: string, bytes: Buffer, responseType: string): Promise<PlainMessage> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (x: Buffer) => x,
      (x: Buffer) => decodePlain(responseType, x),
      bytes,
      { deadline: Date.now() + 5000 },
      (err, resp) => {
        client.close();
        if (err) reject(err);
        else resolve(resp as PlainMessage);
      },
    );
  });
}

function call(service: string, method: string, req: PlainMessage): Promise<PlainMessage> {
  return callRaw(
    `/etcdserverpb.${service}/${method}`,
    Buffer.from(encodePlain(`etcdserverpb.${method}Request`, req)),
    `etcdserverpb.${method}Response`,
  );
}

async function rejects(p: Promise<unknown>, code: grpc.status, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `code of ${err.details}`);
    if (typeof message === "string") assert.equal(err.details, message);
    else assert.match(err.details, message);
    return true;
  });
}

async function stillServing(): Promise<void> {
  const resp = await call("KV", "Put", { key: b("alive"), value: b("yes") });
  assert.ok(Number(((resp["header"] as PlainMessage)["revision"] as string) ?? 0) > 1);
}

describe("gRPC binding: etcd's answers to bad input", { timeout: 60_000 }, () => {
  test("put, range and txn round-trip with 64-bit headers", async () => {
    await call("KV", "Put", { key: b("k"), value: b("v") });
    const range = await call("KV", "Range", { key: b("k") });
    assert.equal(range["count"], "1");
    const header = range["header"] as PlainMessage;
    assert.match(header["cluster_id"] as string, /^\d+$/);
    assert.equal(header["member_id"], member.header().memberId.toString());
  });

  test("empty key, unknown lease, too many txn ops, duplicate txn keys", async () => {
    await rejects(
      call("KV", "Put", { key: b(""), value: b("x") }),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: key is not provided",
    );
    await rejects(call("KV", "Range", {}), grpc.status.INVALID_ARGUMENT, "etcdserver: key is not provided");
    await rejects(
      call("KV", "Put", { key: b("k"), value: b("x"), lease: "12345" }),
      grpc.status.NOT_FOUND,
      "etcdserver: requested lease not found",
    );
    const put = (k: string) => ({ request_put: { key: b(k), value: b("x") } });
    await rejects(
      call("KV", "Txn", { success: [put("a"), put("b"), put("c"), put("d"), put("e")] }),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: too many operations in txn request",
    );
    await rejects(
      call("KV", "Txn", { success: [put("a"), put("a")] }),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: duplicate key given in txn request",
    );
    await rejects(
      call("Lease", "LeaseRevoke", { ID: "999" }),
      grpc.status.NOT_FOUND,
      "etcdserver: requested lease not found",
    );
  });

  test("an inverted range is empty, not an error", async () => {
    const resp = await call("KV", "Range", { key: b("z"), range_end: b("a") });
    assert.equal(resp["count"], "0");
    assert.deepEqual(resp["kvs"], []);
  });

  test("a request over --max-request-bytes, and one over the gRPC receive limit", async () => {
    await rejects(
      call("KV", "Put", { key: b("big"), value: Buffer.alloc(MAX_REQUEST_BYTES + 1, 1) }),
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: request is too large",
    );
    await rejects(
      call("KV", "Put", { key: b("huge"), value: Buffer.alloc(MAX_REQUEST_BYTES + 600 * 1024, 1) }),
      grpc.status.RESOURCE_EXHAUSTED,
      /larger than max/,
    );
    await stillServing();
  });

  test("malformed protobuf bytes end that call only", async () => {
    await rejects(
      callRaw(
        "/etcdserverpb.KV/Put",
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f]),
        "etcdserverpb.PutResponse",
      ),
      grpc.status.INTERNAL,
      /deserializing|decode/,
    );
    await stillServing();
  });

  test("garbage bytes and a half HTTP/2 preface on the port cost only their connection", async () => {
    for (const bytes of [
      Buffer.from("\x00\xff\x13garbage"),
      Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff"),
    ]) {
      await new Promise<void>((resolve) => {
        const s = net.connect(listener.port ?? 0, "127.0.0.1", () => s.end(bytes));
        s.on("error", () => resolve());
        s.on("close", () => resolve());
        s.resume();
      });
    }
    await stillServing();
  });

  test("a client that vanishes mid-watch leaves the server serving", async () => {
    const client = new grpc.Client(target, grpc.credentials.createInsecure());
    const stream = client.makeBidiStreamRequest(
      "/etcdserverpb.Watch/Watch",
      (m: PlainMessage) => Buffer.from(encodePlain("etcdserverpb.WatchRequest", m)),
      (x: Buffer) => decodePlain("etcdserverpb.WatchResponse", x),
    );
    const created = new Promise<PlainMessage>((resolve) => stream.once("data", resolve));
    stream.on("error", () => {});
    stream.write({ create_request: { key: b("w"), prev_kv: true } });
    assert.equal((await created)["created"], true);
    client.close();
    stream.cancel();
    for (let i = 0; i < 50; i++) await call("KV", "Put", { key: b("w"), value: b(String(i)) });
    await stillServing();
  });

  test("client keepalive pings (far more often than etcd's 5 s minimum) keep the connection", async () => {
    const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      "grpc.keepalive_time_ms": 100,
      "grpc.keepalive_timeout_ms": 1000,
      "grpc.keepalive_permit_without_calls": 1,
    });
    const put = (): Promise<void> =>
      new Promise((resolve, reject) =>
        client.makeUnaryRequest(
          "/etcdserverpb.KV/Put",
          (m: PlainMessage) => Buffer.from(encodePlain("etcdserverpb.PutRequest", m)),
          (x: Buffer) => decodePlain("etcdserverpb.PutResponse", x),
          { key: b("ping"), value: b("1") },
          { deadline: Date.now() + 5000 },
          (err) => (err ? reject(err) : resolve()),
        ),
      );
    try {
      await put();
      await new Promise((r) => setTimeout(r, 1500)); // about 15 pings on an idle connection
      await put();
      assert.equal(client.getChannel().getConnectivityState(false), grpc.connectivityState.READY);
    } finally {
      client.close();
    }
  });

  test("membership changes refused with etcd's errors", async () => {
    await rejects(
      call("Cluster", "MemberAdd", { peerURLs: ["ftp://127.0.0.1:1"] }),
      grpc.status.INVALID_ARGUMENT,
      /^etcdserver: given member URLs are invalid$/,
    );
    await rejects(
      call("Cluster", "MemberRemove", { ID: "4660" }),
      grpc.status.NOT_FOUND,
      /^etcdserver: member not found$/,
    );
    await rejects(
      call("Cluster", "MemberPromote", { ID: "4660" }),
      grpc.status.NOT_FOUND,
      /^etcdserver: member not found$/,
    );
    const list = (await call("Cluster", "MemberList", {})) as {
      members: Array<{ ID: string; peerURLs: string[] }>;
    };
    const self = list.members[0]!;
    await rejects(
      call("Cluster", "MemberPromote", { ID: self.ID }),
      grpc.status.FAILED_PRECONDITION,
      /^etcdserver: can only promote a learner member$/,
    );
    await rejects(
      call("Cluster", "MemberAdd", { peerURLs: self.peerURLs }),
      grpc.status.FAILED_PRECONDITION,
      /^etcdserver: Peer URLs already exists$/,
    );
  });
});
