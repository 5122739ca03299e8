// Starting etcd or Kvorum members with exactly the flags a test gives (each its own certificate
// or working directory), for the multi-member TLS and unix socket tests. Every process is
// registered with the harness, so killAll() reaches it.
import { spawn, type ChildProcess } from "node:child_process";
import { kvorumCommand, registerChild, type ServerKind } from "./harness.js";

export interface SpawnedMember {
  readonly name: string;
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
  readonly exited: Promise<void>;
}

export function spawnMember(kind: ServerKind, name: string, args: string[], cwd: string): SpawnedMember {
  const { cmd, args: prefix } = kind === "etcd" ? { cmd: "etcd", args: [] } : kvorumCommand();
  const proc: ChildProcess = spawn(cmd, [...prefix, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  registerChild(proc);
  let output = "";
  const append = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (output.length > 400_000) output = output.slice(-200_000);
  };
  proc.stdout?.on("data", append);
  proc.stderr?.on("data", append);
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    name,
    output: () => output,
    exited,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
