// End-to-end harness: starts a real server process (Kvorum or, for comparison, etcd 3.4) on
// loopback with a temp data dir, and runs etcd's own CLI against it. Every process started here
// is tracked so a test's `after` (or process exit) can kill it even when the test failed.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { findPackageRoot } from "../../src/proto/load.js";
import { freeLoopbackPort } from "../../src/cli/local-cluster.js";
import assert from "node:assert/strict";

export type ServerKind = "kvorum" | "etcd";

/** Repository root (this file lives in test/e2e/). */
/** The repository (the directory with package.json), whether this runs from test/ or dist/test/. */
export const REPO_ROOT = findPackageRoot(resolve(dirname(fileURLToPath(import.meta.url))));

/** Which server the e2e tests drive: env KVORUM_E2E_TARGET=etcd|kvorum (default kvorum). */
export function e2eTarget(): ServerKind {
  const raw = process.env.KVORUM_E2E_TARGET ?? "kvorum";
  if (raw !== "etcd" && raw !== "kvorum")
    throw new Error(`KVORUM_E2E_TARGET must be etcd or kvorum, got ${raw}`);
  return raw;
}

function commandExists(name: string): boolean {
  const result = spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
  return result.status === 0;
}

/** etcdctl on PATH? Tests that need it pass this to `test(..., { skip })`. */
export const ETCDCTL_MISSING: string | false = commandExists("etcdctl")
  ? false
  : "etcdctl is not installed (CI installs Debian's etcd-client); skipping etcdctl tests";

/** The etcd server binary is needed only when KVORUM_E2E_TARGET=etcd. */
export const ETCD_MISSING: string | false = commandExists("etcd") ? false : "etcd is not installed";

/** Every child process started by this harness, so cleanup can reach them all. */
const liveChildren = new Set<ChildProcess>();

/** Puts a process a test started itself under the harness's cleanup (killAll, exit). */
export function registerChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
}
process.on("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

/** A free loopback TCP port, below the ephemeral range (see freeLoopbackPort). */
export async function freePort(): Promise<number> {
  return freeLoopbackPort();
}

export interface StartOptions {
  /** Reuse an existing data dir (restart tests); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Extra server flags appended after the standard ones. */
  extraArgs?: string[];
  /** How long to wait for /health, ms. */
  readyTimeoutMs?: number;
  /** The ports of the first attempt instead of free ones (tests of the harness itself). */
  firstPorts?: { client: number; peer: number };
  /** The server's working directory (default: the repository root). */
  cwd?: string;
}

export interface RunningServer {
  readonly kind: ServerKind;
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly dataDir: string;
  /** Output captured so far (stdout + stderr), for failure messages. */
  log(): string;
  /** Send a signal and wait for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start again on the same ports and data dir (after kill). */
  restart(): Promise<void>;
  /** Kill (SIGTERM, then SIGKILL) and remove the data dir if the harness created it. */
  stop(): Promise<void>;
}

/** How to run Kvorum: KVORUM_E2E_BIN, else the build when it is fresh, else the sources via tsx. */
export function kvorumCommand(): { cmd: string; args: string[] } {
  const override = process.env.KVORUM_E2E_BIN;
  if (override !== undefined && override !== "") {
    // A path to a .js/.ts entry point, or an executable.
    if (override.endsWith(".ts")) return { cmd: process.execPath, args: ["--import", "tsx", override] };
    if (override.endsWith(".js")) return { cmd: process.execPath, args: [override] };
    return { cmd: override, args: [] };
  }
  const source = join(REPO_ROOT, "src", "cli", "kvorum.ts");
  const built = join(REPO_ROOT, "dist", "src", "cli", "kvorum.js");
  // The build is used only when it is newer than every source file, so tests never run stale code.
  // (tsc rewrites only what changed, so the newest compiled file is compared, not kvorum.js itself.)
  if (
    existsSync(built) &&
    newestMtime(join(REPO_ROOT, "dist", "src"), ".js") >= newestMtime(join(REPO_ROOT, "src"))
  ) {
    return { cmd: process.execPath, args: ["--enable-source-maps", built] };
  }
  return { cmd: process.execPath, args: ["--import", "tsx", source] };
}

/** Newest modification time of any .ts file under `dir`. */
/** The newest modification time of the files under dir whose names end with `suffix`. */
function newestMtime(dir: string, suffix = ".ts"): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, suffix));
    else if (entry.name.endsWith(suffix)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The flags of one member on loopback with its own data dir (the same for etcd and Kvorum). */
export function memberFlags(
  name: string,
  dataDir: string,
  ports: { client: number; peer: number },
  initialCluster: string,
): string[] {
  const client = `http://127.0.0.1:${ports.client}`;
  const peer = `http://127.0.0.1:${ports.peer}`;
  return [
    "--name",
    name,
    "--data-dir",
    dataDir,
    "--listen-client-urls",
    client,
    "--advertise-client-urls",
    client,
    "--listen-peer-urls",
    peer,
    "--initial-advertise-peer-urls",
    peer,
    "--initial-cluster",
    initialCluster,
  ];
}

function serverArgs(clientPort: number, peerPort: number, dataDir: string): string[] {
  return memberFlags(
    "e2e",
    dataDir,
    { client: clientPort, peer: peerPort },
    `e2e=http://127.0.0.1:${peerPort}`,
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether the server at endpoint answers /health with health "true" (within a second). */
export async function healthy(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    if (!response.ok) return false;
    const body = (await response.json()) as { health?: unknown };
    return body.health === "true";
  } catch {
    return false;
  }
}

/** Does something accept TCP connections on this loopback port? */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolveAccepts) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolveAccepts(true);
    });
    socket.once("error", () => resolveAccepts(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolveAccepts(false);
    });
  });
}

/** Start a single-member server of the given kind and wait until it is ready to serve. */
export async function startServer(
  kind: ServerKind = e2eTarget(),
  opts: StartOptions = {},
): Promise<RunningServer> {
  let clientPort = opts.firstPorts?.client ?? (await freePort());
  let peerPort = opts.firstPorts?.peer ?? (await freePort());
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? join(mkdtempSync(join(tmpdir(), `kvorum-e2e-${kind}-`)), "data");
  let endpoint = `http://127.0.0.1:${clientPort}`;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  let output = "";
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const args = [...serverArgs(clientPort, peerPort, dataDir), ...(opts.extraArgs ?? [])];
    const { cmd, args: prefix } = kind === "etcd" ? { cmd: "etcd", args: [] } : kvorumCommand();
    // Whether this launch (not an earlier one) logged etcd's readiness line.
    let readyLogged = false;
    let logTail = "";
    const proc = spawn(cmd, [...prefix, ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    liveChildren.add(proc);
    let exitInfo: string | undefined;
    exited = new Promise<void>((r) =>
      proc.once("exit", (code, signal) => {
        exitInfo = `exit code ${code} signal ${signal}`;
        liveChildren.delete(proc);
        r();
      }),
    );
    const append = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output += text;
      if (!readyLogged) {
        logTail = (logTail + text).slice(-4096);
        readyLogged = logTail.includes("ready to serve client requests");
      }
      // Bound memory on long runs: keep the tail.
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    proc.stdout?.on("data", append);
    proc.stderr?.on("data", append);
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline) {
      if (exitInfo !== undefined) {
        throw new Error(`${kind} exited before it was ready (${exitInfo}):\n${output.slice(-4000)}`);
      }
      // /health answering true is the signal; etcd's "ready to serve" log line (printed by this
      // launch, not an earlier one) plus an accepting port is the fallback.
      if (await healthy(endpoint)) return;
      if (readyLogged && (await accepts(clientPort))) return;
      await sleep(100);
    }
    proc.kill("SIGKILL");
    await exited;
    throw new Error(
      `${kind} not healthy at ${endpoint} within ${readyTimeoutMs} ms:\n${output.slice(-4000)}`,
    );
  };

  const kill = async (signal: NodeJS.Signals = "SIGKILL"): Promise<void> => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };

  try {
    // A port found free can be taken before the server binds it (another process, or an outgoing
    // connection's local port): on EADDRINUSE, a server with its own fresh data dir starts over
    // on new ports.
    for (let attempt = 1; ; attempt++) {
      try {
        await launch();
        break;
      } catch (err) {
        if (!ownsDataDir || attempt >= 3 || !String(err).includes("EADDRINUSE")) throw err;
        rmSync(dataDir, { recursive: true, force: true });
        clientPort = await freePort();
        peerPort = await freePort();
        endpoint = `http://127.0.0.1:${clientPort}`;
        output = "";
      }
    }
  } catch (err) {
    if (ownsDataDir) rmSync(dirname(dataDir), { recursive: true, force: true });
    throw err;
  }
  return {
    kind,
    endpoint,
    dataDir,
    log: () => output,
    kill,
    restart: async () => {
      await kill("SIGKILL");
      await launch();
    },
    stop: async () => {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        const proc = child;
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (ownsDataDir) rmSync(dirname(dataDir), { recursive: true, force: true });
    },
  };
}

export interface EtcdctlResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export interface EtcdctlOptions {
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Endpoints override (default: the server's). */
  endpoints?: string;
}

/** Run `ETCDCTL_API=3 etcdctl --endpoints <endpoint> ...args` to completion, bounded in time. */
export async function etcdctl(
  server: { endpoint: string },
  args: string[],
  opts: EtcdctlOptions = {},
): Promise<EtcdctlResult> {
  const proc = spawnEtcdctl(server, args, opts);
  if (opts.input !== undefined) proc.child.stdin?.end(opts.input);
  else proc.child.stdin?.end();
  return proc.done;
}

export interface EtcdctlProcess {
  child: ChildProcess;
  /** Everything printed to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout contains `pattern` (or rejects after timeoutMs). */
  waitFor(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  done: Promise<EtcdctlResult>;
  /** Kill (SIGTERM then SIGKILL) and wait for exit. */
  stop(): Promise<EtcdctlResult>;
}

/** Start etcdctl in the background (watch, lock, elect); stdin stays open for `-i` modes. */
export function spawnEtcdctl(
  server: { endpoint: string },
  args: string[],
  opts: EtcdctlOptions = {},
): EtcdctlProcess {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const child = spawn("etcdctl", ["--endpoints", opts.endpoints ?? server.endpoint, ...args], {
    env: { ...process.env, ETCDCTL_API: "3", ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  liveChildren.add(child);
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    for (const l of listeners) l();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  // stdin errors (EPIPE after the child exits) are not test failures.
  child.stdin?.on("error", () => {});
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<EtcdctlResult>((r) => {
    child.once("close", (code) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      for (const l of listeners) l();
      r({ stdout, stderr, code });
    });
  });
  const exitedYet = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    waitFor: (pattern, waitMs = 10_000) =>
      new Promise<string>((resolveWait, reject) => {
        const matches = () => (typeof pattern === "string" ? stdout.includes(pattern) : pattern.test(stdout));
        if (matches()) {
          resolveWait(stdout);
          return;
        }
        const check = () => {
          if (matches()) {
            cleanup();
            resolveWait(stdout);
          } else if (exitedYet()) {
            cleanup();
            reject(
              new Error(
                `etcdctl ${args.join(" ")} exited before printing ${String(pattern)}:\n${stdout}\n${stderr}`,
              ),
            );
          }
        };
        const timeout = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `timed out waiting for ${String(pattern)} from etcdctl ${args.join(" ")}:\n${stdout}\n${stderr}`,
            ),
          );
        }, waitMs);
        const cleanup = () => {
          clearTimeout(timeout);
          listeners.delete(check);
        };
        listeners.add(check);
      }),
    stop: async () => {
      if (!exitedYet()) {
        child.kill("SIGTERM");
        const hard = setTimeout(() => child.kill("SIGKILL"), 3000);
        const result = await done;
        clearTimeout(hard);
        return result;
      }
      return done;
    },
  };
}

/** Kill every process the harness started (use in a top-level `after`). */
export async function killAll(): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const child of liveChildren) {
    waits.push(new Promise<void>((r) => child.once("exit", () => r())));
    child.kill("SIGKILL");
  }
  await Promise.all(waits);
}

export { sleep };

// ---------------------------------------------------------------------------------------------
// Golden files: etcd's outputs captured once (KVORUM_E2E_TARGET=etcd KVORUM_E2E_UPDATE_GOLDEN=1)
// and compared against whatever server runs now, after normalising legitimately differing fields.

export const GOLDEN_DIR = join(REPO_ROOT, "test", "fixtures", "etcdctl");

/** Replace values that legitimately differ between servers and runs (ids, terms, timings). */
export function normalise(text: string): string {
  return (
    text
      // JSON headers and bodies: cluster/member ids, raft term, leader id.
      .replace(/"cluster_id":\s*"?\d+"?/g, '"cluster_id":"<ID>"')
      .replace(/"member_id":\s*"?\d+"?/g, '"member_id":"<ID>"')
      .replace(/"raft_term":\s*"?\d+"?/g, '"raft_term":"<TERM>"')
      .replace(/"ID":\s*"?\d+"?/g, '"ID":"<ID>"')
      .replace(/"leader":\s*"?\d+"?/g, '"leader":"<ID>"')
      // -w fields output.
      .replace(/^"ClusterID" : \d+$/gm, '"ClusterID" : <ID>')
      .replace(/^"MemberID" : \d+$/gm, '"MemberID" : <ID>')
      .replace(/^"RaftTerm" : \d+$/gm, '"RaftTerm" : <TERM>')
      // Remaining lease time depends on timing; its bounds are asserted separately.
      .replace(/remaining\(-?\d+s\)/g, "remaining(<N>s)")
      // Durations.
      .replace(/took = [0-9.]+[a-zµ]+/g, "took = <DURATION>")
      .replace(/"took":"[0-9.]+[a-zµ]+"/g, '"took":"<DURATION>"')
      // Loopback ports (client and peer URLs).
      .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<PORT>")
      // Hex member ids in lists and tables (etcdctl prints member ids without zero padding).
      .replace(/^[0-9a-f]{1,16}(?=, (started|unstarted),)/gm, "<HEX>")
      .replace(/\b[0-9a-f]{16}\b/g, "<HEX>")
  );
}

/**
 * Assert that `actual` (after normalise) equals the golden file `name`, or write the golden file
 * when capturing from etcd (KVORUM_E2E_TARGET=etcd KVORUM_E2E_UPDATE_GOLDEN=1).
 */
export function assertGolden(name: string, actual: string): void {
  const path = join(GOLDEN_DIR, name);
  const normalised = normalise(actual);
  // Keep what this run printed, for diffing by hand against the golden file.
  const actualDir = process.env.KVORUM_E2E_ACTUAL_DIR;
  if (actualDir !== undefined && actualDir !== "") {
    mkdirSync(actualDir, { recursive: true });
    writeFileSync(join(actualDir, name), normalised);
  }
  if (process.env.KVORUM_E2E_UPDATE_GOLDEN === "1") {
    if (e2eTarget() !== "etcd")
      throw new Error("golden files are captured from etcd only (KVORUM_E2E_TARGET=etcd)");
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, normalised);
    return;
  }
  if (!existsSync(path)) {
    throw new Error(
      `missing golden file ${path}; capture it with KVORUM_E2E_TARGET=etcd KVORUM_E2E_UPDATE_GOLDEN=1`,
    );
  }
  assert.equal(normalised, readFileSync(path, "utf8"), `output differs from etcd's golden file ${name}`);
}

/**
 * A transcript of etcdctl invocations and their output, compared as a whole with a golden file.
 * Values that differ per run (lease ids, temp paths) are registered with `alias` and printed as
 * stable placeholders, so the transcript still shows which lease is which.
 */
export class Transcript {
  private readonly parts: string[] = [];
  private readonly aliases: Array<[string, string]> = [];

  constructor(private readonly server: RunningServer) {}

  alias(value: string, placeholder: string): void {
    this.aliases.push([value, placeholder]);
    // Longest first, so a decimal id is not partly replaced by a shorter alias.
    this.aliases.sort((a, b) => b[0].length - a[0].length);
  }

  /** Add a lease id (hex as etcdctl prints it) and its decimal form. */
  aliasLease(hexId: string, placeholder: string): void {
    this.alias(hexId, placeholder);
    this.alias(BigInt(`0x${hexId}`).toString(10), placeholder);
  }

  private substitute(text: string): string {
    let out = text;
    for (const [value, placeholder] of this.aliases) out = out.split(value).join(placeholder);
    return out;
  }

  note(line: string): void {
    this.parts.push(`# ${this.substitute(line)}\n`);
  }

  /** Record a finished etcdctl run; etcdctl's JSON log lines on stderr are dropped (timestamps). */
  record(args: string[], result: EtcdctlResult): void {
    const stderr = result.stderr
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith('{"level"'))
      .map((line) => `${line}\n`)
      .join("");
    let entry = `$ etcdctl ${args.join(" ")}\n${result.stdout}`;
    if (stderr !== "") entry += `[stderr]\n${stderr}`;
    if (result.code !== 0) entry += `[exit ${result.code}]\n`;
    this.parts.push(this.substitute(entry));
  }

  async run(args: string[], opts: EtcdctlOptions = {}): Promise<EtcdctlResult> {
    const result = await etcdctl(this.server, args, opts);
    this.record(args, result);
    return result;
  }

  text(): string {
    return this.parts.join("");
  }
}
