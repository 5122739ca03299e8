// Starts an N-member Kvorum cluster of separate `kvorum` processes on loopback, for people to try
// (`kvorumctl cluster up N`) and for the multi-process tests. Each member gets its own data dir
// under one base directory and its own client and peer ports; the cluster is bootstrapped with
// --initial-cluster-state new. Handles kill (any signal), restart on the same ports and data,
// and stop; every process is killed when this process exits.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { findPackageRoot } from "../proto/load.js";

export interface LocalClusterOptions {
  size: number;
  /** Where the members' data dirs go (created if missing). */
  baseDir: string;
  /** First client port; member i uses clientPort + 2i (client) and +1 (peer). 0 = free ports. */
  basePort?: number;
  /** Extra flags for every member. */
  extraArgs?: string[];
  /** Extra environment for every member. */
  env?: Record<string, string>;
  token?: string;
  /** "https" for peer TLS (pass --peer-auto-tls or the --peer-*-file flags in extraArgs). */
  peerScheme?: "http" | "https";
  /** Called with each output line of each member. */
  onOutput?: (member: string, line: string) => void;
}

export interface LocalMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  running(): boolean;
  /** Sends a signal and waits for the process to exit (SIGSTOP/SIGCONT return at once). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the member again on its ports and data dir (it must not be running). */
  start(): void;
  /** Resolves once /health answers true, within timeoutMs. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** The last lines the process printed. */
  output(): string;
  /** Resolves when the current process exits. */
  waitExit(): Promise<void>;
  /** The current process's pid (undefined when not running). */
  pid(): number | undefined;
}

export interface LocalCluster {
  readonly members: LocalMember[];
  readonly endpoints: string[];
  /**
   * Starts a new member that joins the running cluster (--initial-cluster-state existing); add it
   * first with MemberAdd using its peerUrl (see newMemberPorts).
   */
  join(name: string, ports: { client: number; peer: number }): LocalMember;
  /** Kills every member (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Ports this process has handed out, so two members of one run never get the same one. */
const handedOut = new Set<number>();

/**
 * The first port of the kernel's ephemeral range (outgoing connections take their local ports
 * from it), or Linux's default where the range cannot be read.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A free loopback port below the ephemeral range. A port the kernel picks with listen(0) comes
 * from the same range as the local ports of outgoing connections, so between the check and the
 * member's own listen, a client or peer connection could take it (EADDRINUSE); ports below the
 * range are only ever taken by listeners.
 */
export async function freeLoopbackPort(): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = Math.max(1024, high - 12_000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port between ${low} and ${high}`);
}

/** The kvorum entry point next to this module (dist/src/cli/kvorum.js when built). */
function kvorumEntry(): { cmd: string; args: string[] } {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith(".ts")) {
    return {
      cmd: process.execPath,
      args: ["--import", "tsx", join(findPackageRoot(), "src", "cli", "kvorum.ts")],
    };
  }
  return { cmd: process.execPath, args: ["--enable-source-maps", new URL("./kvorum.js", here).pathname] };
}

export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  const names = Array.from({ length: opts.size }, (_, i) => `kvorum-${i + 1}`);
  const ports: Array<{ client: number; peer: number }> = [];
  for (let i = 0; i < opts.size; i++) {
    if (opts.basePort !== undefined && opts.basePort > 0) {
      ports.push({ client: opts.basePort + 2 * i, peer: opts.basePort + 2 * i + 1 });
    } else {
      ports.push({ client: await freeLoopbackPort(), peer: await freeLoopbackPort() });
    }
  }
  const peerScheme = opts.peerScheme ?? "http";
  const peerUrl = (i: number) => `${peerScheme}://127.0.0.1:${(ports[i] as { peer: number }).peer}`;
  const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(",");
  const entry = kvorumEntry();
  mkdirSync(opts.baseDir, { recursive: true });

  const members: LocalMember[] = names.map((name, i) =>
    makeMember(opts, entry, name, ports[i] as { client: number; peer: number }, initialCluster, "new"),
  );
  for (const m of members) m.start();
  return {
    members,
    endpoints: members.map((m) => m.clientUrl),
    join(name, memberPorts) {
      const peer = `${opts.peerScheme ?? "http"}://127.0.0.1:${memberPorts.peer}`;
      const cluster = [...members.map((m) => `${m.name}=${m.peerUrl}`), `${name}=${peer}`].join(",");
      const m = makeMember(opts, entry, name, memberPorts, cluster, "existing");
      members.push(m);
      m.start();
      return m;
    },
    async stop() {
      await Promise.all(
        members.map(async (m) => {
          if (!m.running()) return;
          await m.kill("SIGCONT");
          const timer = setTimeout(() => void m.kill("SIGKILL"), 5000);
          await m.kill("SIGTERM");
          clearTimeout(timer);
        }),
      );
    },
  };
}

function makeMember(
  opts: LocalClusterOptions,
  entry: { cmd: string; args: string[] },
  name: string,
  ports: { client: number; peer: number },
  initialCluster: string,
  state: "new" | "existing",
): LocalMember {
  const clientUrl = `http://127.0.0.1:${ports.client}`;
  const peerUrl = `${opts.peerScheme ?? "http"}://127.0.0.1:${ports.peer}`;
  const dataDir = join(opts.baseDir, `${name}.kvorum`);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let tail: string[] = [];
  const args = [
    ...entry.args,
    "--name",
    name,
    "--data-dir",
    dataDir,
    "--listen-client-urls",
    clientUrl,
    "--advertise-client-urls",
    clientUrl,
    "--listen-peer-urls",
    peerUrl,
    "--initial-advertise-peer-urls",
    peerUrl,
    "--initial-cluster",
    initialCluster,
    "--initial-cluster-state",
    state,
    "--initial-cluster-token",
    opts.token ?? "kvorum-local-cluster",
    ...(opts.extraArgs ?? []),
  ];
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const member: LocalMember = {
    name,
    clientUrl,
    peerUrl,
    dataDir,
    running,
    start() {
      if (running()) throw new Error(`${name} is already running`);
      const proc = spawn(entry.cmd, args, {
        env: { ...process.env, ...opts.env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      child = proc;
      live.add(proc);
      exited = new Promise((resolve) =>
        proc.once("exit", () => {
          live.delete(proc);
          resolve();
        }),
      );
      let partial = "";
      const onData = (chunk: Buffer) => {
        const text = partial + chunk.toString("utf8");
        const lines = text.split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          tail.push(line);
          opts.onOutput?.(name, line);
        }
        if (tail.length > 400) tail = tail.slice(-200);
      };
      proc.stdout?.on("data", onData);
      proc.stderr?.on("data", onData);
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (!running() || child === undefined) return;
      child.kill(signal);
      if (signal !== "SIGSTOP" && signal !== "SIGCONT") await exited;
    },
    async waitHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (!running()) throw new Error(`${name} exited:\n${tail.slice(-30).join("\n")}`);
        try {
          const r = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
          const body = (await r.json()) as { health?: string };
          if (body.health === "true") return;
        } catch {
          // not up yet
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${name} not healthy within ${timeoutMs} ms:\n${tail.slice(-30).join("\n")}`);
    },
    output: () => tail.join("\n"),
    waitExit: () => exited,
    pid: () => (running() ? child?.pid : undefined),
  };
  return member;
}
