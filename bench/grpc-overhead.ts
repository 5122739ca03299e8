// npm run bench:grpc-overhead: what one unary gRPC call costs the server before any Kvorum code
// runs. A child process answers /etcdserverpb.KV/Put with a canned PutResponse in one of three
// modes:
//   - bare: a node:http2 handler that speaks gRPC's framing itself (the floor: Node's own HTTP/2);
//   - kvorum: Kvorum's API server stack, i.e. listenClientUrl sniffing the HTTP/2 preface and
//     handing the connection to createGrpcServer (our own HTTP/2 layer), with a handler table of
//     one unary() handler whose fixed PutResponse header the binding encodes (it also decodes
//     each PutRequest, which the other two modes skip);
//   - grpc-js: @grpc/grpc-js with pass-through (de)serializers (what the API server used before).
// kvorumctl bench's put load drives each mode twice: 100 clients over 10 connections, for
// throughput and the child's CPU time (/proc/<pid>/stat, user + system) divided by the requests
// served; then 1 client over 1 connection, for per-call latency (p50/p99) and calls/s.
// Run: npm run bench:grpc-overhead [-- total=30000]
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { createGrpcServer } from "../src/api/grpc/server.js";
import type { HandlerTable } from "../src/api/handler-types.js";
import { listenClientUrl } from "../src/api/listener.js";
import { unary } from "../src/api/services/unary.js";
import { runBench } from "../src/cli/bench.js";
import { freeLoopbackPort } from "../src/cli/local-cluster.js";
import { benchArg, loadOptions } from "./targets.js";

// PutResponse { header { cluster_id: 1, member_id: 2, revision: 3, raft_term: 4 } }
const RESPONSE = Buffer.from([0x0a, 0x08, 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x04]);
const HEADER = { cluster_id: 1, member_id: 2, revision: 3, raft_term: 4 };

/** Calls in the 1-client latency run of each mode. */
const SINGLE_CLIENT_CALLS = 5000;

const MODES = ["bare", "kvorum", "grpc-js"] as const;
type Mode = (typeof MODES)[number];
const LABELS: Record<Mode, string> = {
  bare: "bare node:http2 handler",
  kvorum: "Kvorum (listenClientUrl + createGrpcServer)",
  "grpc-js": "@grpc/grpc-js",
};

function serveBareHttp2(port: number): void {
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.on("data", () => undefined);
    stream.on("end", () => {
      const frame = Buffer.allocUnsafe(5 + RESPONSE.length);
      frame[0] = 0;
      frame.writeUInt32BE(RESPONSE.length, 1);
      RESPONSE.copy(frame, 5);
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "grpc-message": "" }));
      stream.end(frame);
    });
  });
  server.listen(port, "127.0.0.1", () => process.stdout.write("ready\n"));
}

async function serveKvorum(port: number): Promise<void> {
  const table: HandlerTable = new Map();
  table.set(
    "/etcdserverpb.KV/Put",
    unary("etcdserverpb.PutRequest", "etcdserverpb.PutResponse", async () => ({ header: HEADER })),
  );
  // etcd's default --max-request-bytes (1.5 MiB) + 512 KiB, as the API server computes it.
  const endpoint = createGrpcServer(table, { maxRecvBytes: 1.5 * 1024 * 1024 + 512 * 1024 });
  await listenClientUrl(`http://127.0.0.1:${port}`, { grpc: endpoint, http: (_q, r) => r.end() });
  process.stdout.write("ready\n");
}

function serveGrpcJs(port: number): void {
  const server = new grpc.Server();
  server.register(
    "/etcdserverpb.KV/Put",
    (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, RESPONSE),
    (b: Buffer) => b,
    (b: Buffer) => b,
    "unary",
  );
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), () =>
    process.stdout.write("ready\n"),
  );
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (10 ms)
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill();
  await exited;
}

function isMode(value: string | undefined): value is Mode {
  return (MODES as readonly string[]).includes(value ?? "");
}

const [mode, portText] = process.argv.slice(2);
if (isMode(mode)) {
  const port = Number(portText);
  if (mode === "bare") serveBareHttp2(port);
  else if (mode === "kvorum") await serveKvorum(port);
  else serveGrpcJs(port);
} else {
  const total = Number(benchArg("total", "30000"));
  console.log(
    "| server | calls/s (100 clients) | server CPU per call (user + system) | calls/s (1 client) | p50 (1 client) | p99 (1 client) |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const kind of MODES) {
    const port = await freeLoopbackPort();
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), kind, String(port)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.once("data", () => resolve());
        child.once("exit", (code) =>
          reject(new Error(`${kind} server exited (${code}) before it was ready`)),
        );
      });
      const endpoints = [`127.0.0.1:${port}`];
      const before = cpuTicks(child.pid!);
      const loaded = await runBench("put", loadOptions(endpoints, { clients: 100, conns: 10, total }));
      const usPerCall = ((cpuTicks(child.pid!) - before) * 10_000) / Math.max(1, loaded.requests);
      const single = await runBench(
        "put",
        loadOptions(endpoints, { clients: 1, conns: 1, total: SINGLE_CLIENT_CALLS }),
      );
      for (const r of [loaded, single]) {
        if (r.errors > 0) console.error(`${kind}: ${r.errors} of ${r.requests + r.errors} calls failed`);
      }
      const rate = (n: number): string => Math.round(n).toLocaleString("en-US");
      console.log(
        `| ${LABELS[kind]} | ${rate(loaded.perSecond)} | ${usPerCall.toFixed(0)} µs | ${rate(single.perSecond)} | ${single.latencyMs.p50.toFixed(3)} ms | ${single.latencyMs.p99.toFixed(3)} ms |`,
      );
    } finally {
      await stopChild(child);
    }
  }
}
