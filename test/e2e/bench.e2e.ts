// kvorumctl bench against a real kvorum server: each workload runs to its --total (or
// --duration) without errors and reports throughput, percentiles and a histogram as JSON.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT, startServer } from "./harness.js";

/** Runs a script of dist/ with node; resolves with its exit code and output. */
async function runScript(
  path: string[],
  args: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, "dist", ...path), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  return { code, out, err };
}

async function bench(args: string[]): Promise<Record<string, unknown>> {
  const { code, out, err } = await runScript(["src", "cli", "kvorumctl.js"], ["bench", ...args, "--json"]);
  assert.equal(code, 0, err);
  return JSON.parse(out) as Record<string, unknown>;
}

test("kvorumctl bench: every workload against a kvorum server, as JSON", { timeout: 120_000 }, async () => {
  const server = await startServer("kvorum");
  try {
    const endpoint = server.endpoint.replace("http://", "");
    for (const workload of ["put", "range", "txn-put", "txn-mixed", "lease-keepalive"]) {
      const r = await bench([
        workload,
        "--endpoints",
        endpoint,
        "--clients",
        "4",
        "--conns",
        "2",
        "--total",
        "200",
        "--key-space-size",
        "50",
      ]);
      assert.equal(r["workload"], workload);
      assert.equal(r["requests"], 200, `${workload}: ${JSON.stringify(r)}`);
      assert.equal(r["errors"], 0);
      const latency = r["latencyMs"] as Record<string, number>;
      assert.ok(
        latency["p50"]! > 0 && latency["p50"]! <= latency["p99"]! && latency["p99"]! <= latency["max"]!,
      );
      const hist = r["histogram"] as Array<{ count: number }>;
      assert.ok(
        Math.abs(hist.reduce((a, b) => a + b.count, 0) - 200) <= 10,
        "the histogram holds every request",
      );
    }
    const w = await bench(["watch-latency", "--endpoints", endpoint, "--total", "50"]);
    assert.equal(w["requests"], 50);
    const watch = await bench(["watch", "--endpoints", endpoint, "--clients", "3", "--total", "100"]);
    assert.equal(watch["requests"], 300, "every put reaches each of the 3 watchers");
    // --procs: the load split over child processes, their histograms merged.
    const split = await bench([
      "put",
      "--endpoints",
      endpoint,
      "--procs",
      "3",
      "--clients",
      "7",
      "--conns",
      "3",
      "--total",
      "301",
    ]);
    assert.equal(split["procs"], 3);
    assert.equal(split["requests"], 301, "the shares of --total add up to it");
    assert.equal(split["errors"], 0);
    const merged = split["histogram"] as Array<{ count: number }>;
    assert.ok(Math.abs(merged.reduce((a, b) => a + b.count, 0) - 301) <= 10, "the merged histogram");
  } finally {
    await server.stop();
  }
});

test(
  "npm run bench:ab: two servers side by side, a table with one row each",
  { timeout: 120_000 },
  async () => {
    const kvorum = join(REPO_ROOT, "dist", "src", "cli", "kvorum.js");
    const { code, out, err } = await runScript(
      ["bench", "ab.js"],
      [`a=${kvorum}`, `b=${kvorum}`, "total=100", "rounds=2", "warmup=0"],
    );
    assert.equal(code, 0, err);
    assert.match(out, /^put, 1 client\(s\), 2 rounds of 100 requests per server/);
    for (const side of ["A", "B"]) {
      const row = out.split("\n").find((l) => l.startsWith(`| ${side}: `));
      assert.ok(row !== undefined, out);
      const cells = row.split("|").map((c) => c.trim());
      assert.ok(Number(cells[2]) > 0, `${side} throughput: ${row}`);
      assert.ok(
        cells.slice(3, 10).every((c) => Number(c) > 0),
        `${side} percentiles: ${row}`,
      );
      // The disk table, from each server's /metrics: with one client nothing shares a sync, so its
      // 200 puts made 200 WAL fdatasyncs (plus the few of the server's start and of raft's own
      // records, well under another 200).
      const disk = out
        .split("Disk, during the measured runs")[1]
        ?.split("\n")
        .find((l) => l.startsWith(`| ${side}: `));
      assert.ok(disk !== undefined, out);
      const d = disk.split("|").map((c) => c.trim());
      assert.ok(Number(d[2]) >= 200 && Number(d[2]) < 400, `${side} WAL fdatasyncs: ${disk}`);
      assert.ok(Number(d[3]) > 0, `${side} WAL fdatasync mean: ${disk}`);
      assert.match(d[6] ?? "", /^\d+\.\d\d %$/, `${side} share under 4 ms: ${disk}`);
    }
    assert.equal(
      (err.match(/bench:ab: round \d\/2, [AB]:/g) ?? []).length,
      4,
      "each round runs both servers",
    );
  },
);

test("npm run bench:ab: bad arguments get a usage error, a server that cannot start a clear one", async () => {
  const ab = ["bench", "ab.js"];
  const bogus = await runScript(ab, ["workload=bogus"]);
  assert.equal(bogus.code, 2);
  assert.match(bogus.err, /bench:ab: unknown workload "bogus" \(choose from put, /);
  const notANumber = await runScript(ab, ["clients=many"]);
  assert.equal(notANumber.code, 2);
  assert.match(notANumber.err, /bench:ab: clients=many: expected a whole number >= 1/);
  const missing = await runScript(ab, ["a=/nonexistent/kvorum.js", "b=/nonexistent/kvorum.js"]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /A \(\/nonexistent\/kvorum\.js\) did not become healthy: .* exited/);
});
