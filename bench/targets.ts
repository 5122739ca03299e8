// What the comparison benchmarks run against: etcd 3.4 or Kvorum, one member (the e2e harness's
// server) or a cluster of separate processes on loopback with fresh data dirs and default flags.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeLoopbackPort, startLocalCluster } from "../src/cli/local-cluster.js";
import type { BenchOptions } from "../src/cli/bench.js";
import { healthy, memberFlags, startServer, type ServerKind } from "../test/e2e/harness.js";

/** A `name=value` argument of a bench script (`npm run compare -- members=1,3`), else `fallback`. */
export function benchArg(name: string, fallback: string): string {
  const hit = process.argv.slice(2).find((a) => a.startsWith(`${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 1);
}

/** The comparison benchmarks' load: 8-byte keys over 10,000 keys, 256-byte values, quiet. */
export function loadOptions(
  endpoints: string[],
  load: { clients: number; conns: number; total: number; consistency?: "l" | "s" },
): BenchOptions {
  return {
    endpoints: endpoints.map((e) => e.replace("http://", "")),
    conns: load.conns,
    clients: load.clients,
    total: load.total,
    durationSec: 0,
    keySize: 8,
    valSize: 256,
    keySpaceSize: 10_000,
    sequentialKeys: false,
    consistency: load.consistency ?? "l",
    targetLeader: false,
    json: true,
    progress: false,
  };
}

/** Resident memory of a process in bytes (Linux /proc), 0 when unknown. */
export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

export interface Target {
  endpoints: string[];
  /** The server processes (for RSS); empty when not known. */
  pids(): number[];
  stop(): Promise<void>;
}

/** Waits until endpoint's /health says true; throws after the deadline or once `child` has exited. */
export async function waitHealthy(endpoint: string, deadline: number, child?: ChildProcess): Promise<void> {
  for (;;) {
    if (await healthy(endpoint)) return;
    if (child?.exitCode !== undefined && child.exitCode !== null) {
      throw new Error(`the server for ${endpoint} exited (code ${child.exitCode})`);
    }
    if (Date.now() > deadline) throw new Error(`${endpoint} not healthy`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stops a child process (SIGTERM) and waits for it to exit. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null
      ? r()
      : (child.once("exit", () => r()), child.kill()),
  );
}

/** etcd 3.4 as `size` processes, the way the local cluster starts Kvorum's. */
export async function startEtcdCluster(size: number): Promise<Target> {
  const base = mkdtempSync(join(tmpdir(), "bench-etcd-cluster-"));
  const ports = [];
  for (let i = 0; i < size; i++)
    ports.push({ client: await freeLoopbackPort(), peer: await freeLoopbackPort() });
  const cluster = ports.map((p, i) => `e${i}=http://127.0.0.1:${p.peer}`).join(",");
  const children: ChildProcess[] = ports.map((p, i) =>
    spawn("etcd", memberFlags(`e${i}`, join(base, `e${i}`), p, cluster), { stdio: "ignore" }),
  );
  const endpoints = ports.map((p) => `http://127.0.0.1:${p.client}`);
  const deadline = Date.now() + 60_000;
  for (const [i, e] of endpoints.entries()) await waitHealthy(e, deadline, children[i]);
  return {
    endpoints,
    pids: () => children.flatMap((c) => (c.pid !== undefined && c.exitCode === null ? [c.pid] : [])),
    stop: async () => {
      await Promise.all(children.map(stopChild));
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export async function startTarget(
  kind: ServerKind,
  members: number,
  opts: { processes?: boolean } = {},
): Promise<Target> {
  if (members <= 1 && opts.processes !== true) {
    const server = await startServer(kind, { readyTimeoutMs: 60_000 });
    return { endpoints: [server.endpoint], pids: () => [], stop: () => server.stop() };
  }
  if (kind === "etcd") return startEtcdCluster(members);
  const base = mkdtempSync(join(tmpdir(), "bench-kvorum-cluster-"));
  const cluster = await startLocalCluster({ size: members, baseDir: base });
  await Promise.all(cluster.members.map((m) => m.waitHealthy(60_000)));
  return {
    endpoints: cluster.endpoints,
    pids: () =>
      cluster.members.flatMap((m) => {
        const pid = m.pid();
        return pid === undefined ? [] : [pid];
      }),
    stop: async () => {
      await cluster.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
