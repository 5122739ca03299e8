// `kvorumctl bench <workload>`: load any etcd v3 endpoint (Kvorum or etcd itself) over gRPC, in
// the spirit of etcd's benchmark tool, and report throughput and latency percentiles with a
// histogram (hdr-histogram-js), or the same as JSON with --json.
// Workloads: put, range, txn-put, txn-mixed, watch (events delivered per second to watchers),
// watch-latency (put → event delay), lease-keepalive.
import * as grpc from "@grpc/grpc-js";
import type { Command } from "commander";
import { InvalidArgumentError, Option } from "commander";
import cliProgress from "cli-progress";
import * as hdr from "hdr-histogram-js";
import { decodePlain, encodePlain } from "../proto/codec.js";
import type { PlainMessage } from "../api/handler-types.js";
import { runBenchInProcesses } from "./bench-procs.js";

export const WORKLOADS = [
  "put",
  "range",
  "txn-put",
  "txn-mixed",
  "watch",
  "watch-latency",
  "lease-keepalive",
] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface BenchOptions {
  endpoints: string[];
  conns: number;
  clients: number;
  total: number;
  durationSec: number;
  keySize: number;
  valSize: number;
  keySpaceSize: number;
  sequentialKeys: boolean;
  consistency: "l" | "s";
  targetLeader: boolean;
  json: boolean;
  progress: boolean;
  /** Called about every 250 ms with the requests done and failed so far. */
  onProgress?: (done: number, errors: number) => void;
  /** Include the raw histogram in the report (hdrBase64). */
  rawHistogram?: boolean;
}

export interface BenchReport {
  workload: Workload;
  endpoints: string[];
  conns: number;
  clients: number;
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  histogram: Array<{ upToMs: number; count: number }>;
  /** Client processes that ran the load (--procs). */
  procs?: number;
  /** The raw latency histogram (hdr-histogram compressed base64), for merging across processes. */
  hdrBase64?: string;
}

/** One gRPC connection to one endpoint with etcd's unary and bidi calls on our proto codec. */
export class Conn {
  private readonly client: grpc.Client;
  constructor(readonly endpoint: string) {
    this.client = new grpc.Client(endpoint.replace(/^https?:\/\//, ""), grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
  }
  unary(service: string, method: string, req: PlainMessage): Promise<PlainMessage> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        `/etcdserverpb.${service}/${method}`,
        (m: PlainMessage) => Buffer.from(encodePlain(`etcdserverpb.${method}Request`, m)),
        (b: Buffer) => decodePlain(`etcdserverpb.${method}Response`, b),
        req,
        { deadline: Date.now() + 30_000 },
        (err, resp) => (err ? reject(err) : resolve(resp as PlainMessage)),
      );
    });
  }
  bidi(
    service: string,
    method: string,
    reqType: string,
    respType: string,
  ): grpc.ClientDuplexStream<PlainMessage, PlainMessage> {
    return this.client.makeBidiStreamRequest(
      `/etcdserverpb.${service}/${method}`,
      (m: PlainMessage) => Buffer.from(encodePlain(`etcdserverpb.${reqType}`, m)),
      (b: Buffer) => decodePlain(`etcdserverpb.${respType}`, b),
    );
  }
  close(): void {
    this.client.close();
  }
}

function keyOf(i: number, opts: BenchOptions): Buffer {
  const n = opts.sequentialKeys ? i % opts.keySpaceSize : Math.floor(Math.random() * opts.keySpaceSize);
  const key = Buffer.alloc(opts.keySize, 0x30);
  const text = String(n);
  key.write(text.slice(-opts.keySize), Math.max(0, opts.keySize - text.length));
  return key;
}

async function leaderEndpoint(endpoints: string[]): Promise<string> {
  for (const e of endpoints) {
    const c = new Conn(e);
    try {
      const s = await c.unary("Maintenance", "Status", {});
      const header = s["header"] as { member_id?: string } | undefined;
      if (String(s["leader"]) === String(header?.member_id)) return e;
    } catch {
      // try the next
    } finally {
      c.close();
    }
  }
  throw new Error(`no leader among ${endpoints.join(", ")}`);
}

/** The latency histogram every run records into (microseconds, 1 µs to 1 h, 3 digits). */
export function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

export function summarize(
  workload: Workload,
  opts: BenchOptions,
  h: hdr.Histogram,
  requests: number,
  errors: number,
  seconds: number,
): BenchReport {
  const ms = (us: number) => Math.round(us) / 1000;
  const histogram: BenchReport["histogram"] = [];
  if (h.totalCount > 0) {
    const max = h.maxValue;
    const buckets = 10;
    const min = Math.max(1, h.minNonZeroValue);
    const ratio = Math.pow(Math.max(max, min + 1) / min, 1 / buckets);
    let lower = 0;
    for (let i = 1; i <= buckets; i++) {
      const upper = i === buckets ? max : min * Math.pow(ratio, i);
      // Counts between lower and upper from the recorded distribution.
      const count = Math.round(h.totalCount * (percentileAt(h, upper) - percentileAt(h, lower)));
      histogram.push({ upToMs: ms(upper), count });
      lower = upper;
    }
  }
  return {
    workload,
    endpoints: opts.endpoints,
    conns: opts.conns,
    clients: opts.clients,
    requests,
    errors,
    seconds: Math.round(seconds * 1000) / 1000,
    perSecond: Math.round((requests / seconds) * 10) / 10,
    latencyMs: {
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
      mean: ms(h.mean),
    },
    histogram,
  };
}

/** Fraction of recorded values at or below `value` (microseconds). */
function percentileAt(h: hdr.Histogram, value: number): number {
  if (h.totalCount === 0) return 0;
  let lo = 0;
  let hi = 100;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (h.getValueAtPercentile(mid) <= value) lo = mid;
    else hi = mid;
  }
  return lo / 100;
}

/**
 * The progress bar on stderr (when opts.progress) fed every 250 ms from `read`; also reports
 * through opts.onProgress. Returns the function that stops it.
 */
export function startProgress(
  label: string,
  opts: BenchOptions,
  read: () => { done: number; errors: number },
): () => void {
  const useDuration = opts.durationSec > 0;
  const bar = opts.progress
    ? new cliProgress.SingleBar(
        {
          format: `${label} [{bar}] {percentage}% | {value}/{total} ${useDuration ? "s" : "requests"} | {errors} errors`,
          hideCursor: true,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(useDuration ? opts.durationSec : opts.total, 0, { errors: 0 });
  const started = performance.now();
  const update = () => {
    const { done, errors } = read();
    opts.onProgress?.(done, errors);
    const elapsed = Math.min(opts.durationSec, Math.round((performance.now() - started) / 1000));
    bar?.update(useDuration ? elapsed : done, { errors });
  };
  const tick = setInterval(update, 250);
  return () => {
    clearInterval(tick);
    update();
    bar?.stop();
  };
}

export async function runBench(workload: Workload, opts: BenchOptions): Promise<BenchReport> {
  const endpoints = opts.targetLeader ? [await leaderEndpoint(opts.endpoints)] : opts.endpoints;
  const conns = Array.from(
    { length: opts.conns },
    (_, i) => new Conn(endpoints[i % endpoints.length] as string),
  );
  const h = newHistogram();
  const value = Buffer.alloc(opts.valSize, 0x61);
  const useDuration = opts.durationSec > 0;
  const target = useDuration ? Infinity : opts.total;
  const deadline = useDuration ? performance.now() + opts.durationSec * 1000 : Infinity;
  let issued = 0;
  let done = 0;
  let errors = 0;
  const stopProgress = startProgress(workload, opts, () => ({ done, errors }));
  const started = performance.now();
  const more = () => issued < target && performance.now() < deadline;

  try {
    if (workload === "watch" || workload === "watch-latency") {
      await runWatch(
        workload,
        opts,
        conns,
        h,
        value,
        more,
        () => issued++,
        (ok) => (ok ? done++ : errors++),
      );
    } else if (workload === "lease-keepalive") {
      await runKeepalive(
        opts,
        conns,
        h,
        more,
        () => issued++,
        (ok) => (ok ? done++ : errors++),
      );
    } else {
      let txnToggle = 0;
      const op = async (conn: Conn, i: number): Promise<void> => {
        const key = keyOf(i, opts);
        switch (workload) {
          case "put":
            await conn.unary("KV", "Put", { key, value });
            return;
          case "range":
            await conn.unary("KV", "Range", { key, serializable: opts.consistency === "s" });
            return;
          case "txn-put":
            await conn.unary("KV", "Txn", { success: [{ request_put: { key, value } }] });
            return;
          case "txn-mixed":
            // Half reads, half writes, each in a txn (etcd's txn-mixed).
            if (txnToggle++ % 2 === 0)
              await conn.unary("KV", "Txn", { success: [{ request_range: { key } }] });
            else await conn.unary("KV", "Txn", { success: [{ request_put: { key, value } }] });
            return;
        }
      };
      await Promise.all(
        Array.from({ length: opts.clients }, async (_, c) => {
          const conn = conns[c % conns.length] as Conn;
          while (more()) {
            const i = issued++;
            const t = performance.now();
            try {
              await op(conn, i);
              h.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
              done++;
            } catch {
              errors++;
            }
          }
        }),
      );
    }
  } finally {
    stopProgress();
    for (const c of conns) c.close();
  }
  const out = summarize(workload, opts, h, done, errors, (performance.now() - started) / 1000);
  if (opts.rawHistogram === true) out.hdrBase64 = hdr.encodeIntoCompressedBase64(h);
  return out;
}

/** watch: N watchers on the key space, puts fan out; watch-latency: put → event delay. */
async function runWatch(
  workload: Workload,
  opts: BenchOptions,
  conns: Conn[],
  h: hdr.Histogram,
  value: Buffer,
  more: () => boolean,
  issue: () => void,
  finish: (ok: boolean) => void,
): Promise<void> {
  const prefix = Buffer.from("bench-watch/");
  const end = Buffer.from("bench-watch0");
  const sentAt = new Map<string, number>();
  const streams: grpc.ClientDuplexStream<PlainMessage, PlainMessage>[] = [];
  let received = 0;
  for (let i = 0; i < opts.clients; i++) {
    const s = (conns[i % conns.length] as Conn).bidi("Watch", "Watch", "WatchRequest", "WatchResponse");
    s.on("error", () => {});
    const created = new Promise<void>((resolve) => s.once("data", () => resolve()));
    s.on("data", (resp: PlainMessage) => {
      const events = (resp["events"] as Array<{ kv?: { value?: Uint8Array } }> | undefined) ?? [];
      for (const e of events) {
        received++;
        if (workload === "watch-latency" && i === 0) {
          const tag = Buffer.from(e.kv?.value ?? []).toString("utf8", 0, 16);
          const t = sentAt.get(tag);
          if (t !== undefined) {
            h.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
            sentAt.delete(tag);
            finish(true);
          }
        } else if (workload === "watch") {
          finish(true);
        }
      }
    });
    s.write({ create_request: { key: prefix, range_end: end } });
    await created;
    streams.push(s);
  }
  const writer = conns[0] as Conn;
  let n = 0;
  const puts = Math.max(1, Math.min(64, opts.clients));
  await Promise.all(
    Array.from({ length: workload === "watch-latency" ? 1 : puts }, async () => {
      while (more()) {
        issue();
        const tag = String(n++).padStart(16, "0");
        const v = Buffer.concat([Buffer.from(tag), value]);
        const t = performance.now();
        sentAt.set(tag, t);
        try {
          await writer.unary("KV", "Put", {
            key: Buffer.concat([prefix, Buffer.from(String(n % opts.keySpaceSize))]),
            value: v,
          });
          if (workload === "watch") h.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
        } catch {
          finish(false);
        }
        if (workload === "watch-latency") await new Promise((r) => setTimeout(r, 10));
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 500)); // let the last events arrive
  for (const s of streams) s.cancel();
  void received;
}

async function runKeepalive(
  opts: BenchOptions,
  conns: Conn[],
  h: hdr.Histogram,
  more: () => boolean,
  issue: () => void,
  finish: (ok: boolean) => void,
): Promise<void> {
  await Promise.all(
    Array.from({ length: opts.clients }, async (_, c) => {
      const conn = conns[c % conns.length] as Conn;
      const grant = await conn.unary("Lease", "LeaseGrant", { TTL: 60 });
      const id = grant["ID"];
      const s = conn.bidi("Lease", "LeaseKeepAlive", "LeaseKeepAliveRequest", "LeaseKeepAliveResponse");
      s.on("error", () => {});
      while (more()) {
        issue();
        const t = performance.now();
        const answered = new Promise<boolean>((resolve) => {
          s.once("data", () => resolve(true));
          s.once("error", () => resolve(false));
        });
        s.write({ ID: id });
        const ok = await answered;
        if (ok) h.recordValue(Math.max(1, Math.round((performance.now() - t) * 1000)));
        finish(ok);
        if (!ok) break;
      }
      s.cancel();
    }),
  );
}

export function formatReport(r: BenchReport): string {
  const lines = [
    `Summary (${r.workload}, ${r.clients} clients over ${r.conns} connections to ${r.endpoints.join(",")}${r.procs !== undefined ? ` from ${r.procs} processes` : ""}):`,
    `  Total:        ${r.seconds.toFixed(4)} secs`,
    `  Requests:     ${r.requests} (${r.errors} errors)`,
    `  Requests/sec: ${r.perSecond.toFixed(1)}`,
    `  Latency ms:   p50 ${r.latencyMs.p50.toFixed(3)}  p90 ${r.latencyMs.p90.toFixed(3)}  p99 ${r.latencyMs.p99.toFixed(3)}  p99.9 ${r.latencyMs.p999.toFixed(3)}  max ${r.latencyMs.max.toFixed(3)}  mean ${r.latencyMs.mean.toFixed(3)}`,
    "",
    "Response time histogram (ms):",
  ];
  const most = Math.max(1, ...r.histogram.map((b) => b.count));
  for (const b of r.histogram) {
    lines.push(
      `  ${b.upToMs.toFixed(3).padStart(10)} [${String(b.count).padStart(7)}]\t|${"∎".repeat(Math.round((b.count / most) * 40))}`,
    );
  }
  return lines.join("\n");
}

function int(name: string, min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be a whole number of at least ${min}`);
    return n;
  };
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("benchmark an etcd v3 endpoint (Kvorum or etcd) over gRPC")
    .argument("<workload>", WORKLOADS.join(" | "))
    .option("--endpoints <list>", "comma-separated endpoints", "127.0.0.1:2379")
    .option("--conns <n>", "gRPC connections", int("--conns", 1), 1)
    .option("--clients <n>", "concurrent requests in flight (watch: watchers)", int("--clients", 1), 1)
    .option("--total <n>", "requests to send", int("--total", 1), 10_000)
    .option("--duration <seconds>", "run for this long instead of --total", int("--duration", 0), 0)
    .option("--key-size <bytes>", "key size", int("--key-size", 1), 8)
    .option("--val-size <bytes>", "value size", int("--val-size", 0), 8)
    .option("--key-space-size <n>", "distinct keys", int("--key-space-size", 1), 1)
    .option("--sequential-keys", "use keys in order instead of at random", false)
    .option("--consistency <l|s>", "range consistency: l (linearizable) or s (serializable)", "l")
    .option("--target-leader", "send everything to the leader", false)
    .option("--procs <n>", "client processes sharing the clients and requests", int("--procs", 1), 1)
    .option("--json", "print the report as JSON", false)
    .addOption(new Option("--child-report", "internal: run as one of --procs' processes").hideHelp())
    .action(async (workload: string, o: Record<string, unknown>) => {
      if (!(WORKLOADS as readonly string[]).includes(workload)) {
        program.error(`error: unknown workload "${workload}" (choose from ${WORKLOADS.join(", ")})`);
      }
      if (o["consistency"] !== "l" && o["consistency"] !== "s")
        program.error("error: --consistency must be l or s");
      const opts: BenchOptions = {
        endpoints: String(o["endpoints"])
          .split(",")
          .map((e) => e.trim())
          .filter((e) => e !== ""),
        conns: o["conns"] as number,
        clients: o["clients"] as number,
        total: o["total"] as number,
        durationSec: o["duration"] as number,
        keySize: o["keySize"] as number,
        valSize: o["valSize"] as number,
        keySpaceSize: o["keySpaceSize"] as number,
        sequentialKeys: o["sequentialKeys"] === true,
        consistency: o["consistency"] as "l" | "s",
        targetLeader: o["targetLeader"] === true,
        json: o["json"] === true,
        progress: o["json"] !== true && process.stderr.isTTY === true,
      };
      if (o["childReport"] === true) {
        opts.rawHistogram = true;
        opts.onProgress = (done, errors) => void process.stderr.write(`progress ${done} ${errors}\n`);
      }
      const procs = o["procs"] as number;
      let report: BenchReport;
      try {
        report =
          procs > 1
            ? await runBenchInProcesses(workload as Workload, opts, procs)
            : await runBench(workload as Workload, opts);
      } catch (err) {
        program.error(`error: ${err instanceof Error ? err.message : String(err)}`);
      }
      process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : formatReport(report)) + "\n");
    });
}
