// npm run bench:grpc-overhead: what one unary gRPC call costs the server before any Kvorum code
// runs. A child process answers /etcdserverpb.KV/Put with a canned PutResponse, once through
// @grpc/grpc-js (what Kvorum's API server uses) and once through a bare node:http2 handler that
// speaks gRPC's framing itself; kvorumctl bench's put load drives each, and the child's CPU time
// (/proc/<pid>/stat, user + system) is divided by the requests served.
// Run: npm run bench:grpc-overhead [-- total=30000]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { runBench } from "../src/cli/bench.js";
import { freeLoopbackPort } from "../src/cli/local-cluster.js";
import { loadOptions } from "./targets.js";

// PutResponse { header { cluster_id: 1, member_id: 2, revision: 3, raft_term: 4 } }
const RESPONSE = Buffer.from([0x0a, 0x08, 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x20, 0x04]);

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

const [mode, portText] = process.argv.slice(2);
if (mode === "bare" || mode === "grpc-js") {
  (mode === "bare" ? serveBareHttp2 : serveGrpcJs)(Number(portText));
} else {
  const hit = process.argv.slice(2).find((a) => a.startsWith("total="));
  const total = hit === undefined ? 30_000 : Number(hit.slice(6));
  console.log("| server | puts/s | server CPU per call (user + system) |");
  console.log("| --- | ---: | ---: |");
  for (const kind of ["bare", "grpc-js"] as const) {
    const port = await freeLoopbackPort();
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), kind, String(port)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    const before = cpuTicks(child.pid!);
    const report = await runBench(
      "put",
      loadOptions([`127.0.0.1:${port}`], { clients: 100, conns: 10, total }),
    );
    const usPerCall = ((cpuTicks(child.pid!) - before) * 10_000) / Math.max(1, report.requests);
    console.log(
      `| ${kind === "bare" ? "bare node:http2 handler" : "@grpc/grpc-js"} | ${Math.round(report.perSecond).toLocaleString("en-US")} | ${usPerCall.toFixed(0)} µs |`,
    );
    child.kill();
  }
}
