// `kvorumctl cluster up N`: starts an N-member local cluster of kvorum processes on loopback,
// prints how to reach it, and runs until Ctrl-C (then stops every member). Data stays in
// --data-dir (default ./local-cluster) so the same command restarts the same cluster.
import type { Command } from "commander";
import { resolve } from "node:path";
import { startLocalCluster } from "./local-cluster.js";

export function registerClusterUp(program: Command): void {
  const cluster = program
    .command("cluster")
    .description("run a local multi-member cluster for trying Kvorum");
  cluster
    .command("up")
    .description("start N kvorum processes on 127.0.0.1 as one cluster; Ctrl-C stops them")
    .argument("[size]", "number of members (1-9)", "3")
    .option("--data-dir <dir>", "where the members keep their data", "local-cluster")
    .option(
      "--base-port <port>",
      "first client port; member i uses base+2i (client) and base+2i+1 (peer)",
      "32379",
    )
    .option("--verbose", "print every member's log lines", false)
    .action(async (sizeText: string, options: { dataDir: string; basePort: string; verbose: boolean }) => {
      const size = Number(sizeText);
      if (!Number.isInteger(size) || size < 1 || size > 9) {
        program.error(
          `error: cluster size must be a whole number from 1 to 9, got ${JSON.stringify(sizeText)}`,
        );
      }
      const basePort = Number(options.basePort);
      if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 2 * size > 65535) {
        program.error(`error: --base-port must leave room for ${2 * size} ports below 65536`);
      }
      const baseDir = resolve(options.dataDir);
      process.stdout.write(`starting ${size} members (data in ${baseDir}) ...\n`);
      const c = await startLocalCluster({
        size,
        baseDir,
        basePort,
        onOutput: options.verbose ? (name, line) => process.stdout.write(`[${name}] ${line}\n`) : undefined,
      });
      let stopping = false;
      const stop = async (code: number) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write("stopping the cluster ...\n");
        await c.stop();
        process.exit(code);
      };
      process.on("SIGINT", () => void stop(0));
      process.on("SIGTERM", () => void stop(0));
      try {
        await Promise.all(c.members.map((m) => m.waitHealthy(60_000)));
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        await stop(1);
        return;
      }
      const endpoints = c.members.map((m) => m.clientUrl.replace("http://", "")).join(",");
      process.stdout.write(
        [
          `cluster of ${size} is up:`,
          ...c.members.map((m) => `  ${m.name}  client ${m.clientUrl}  peer ${m.peerUrl}  data ${m.dataDir}`),
          "",
          "try:",
          `  etcdctl --endpoints ${endpoints} endpoint status -w table`,
          `  etcdctl --endpoints ${endpoints} put greeting hello`,
          `  etcdctl --endpoints ${endpoints} member list -w table`,
          "",
          "Ctrl-C stops every member.",
          "",
        ].join("\n"),
      );
      for (const m of c.members) {
        void m.waitExit().then(() => {
          if (!stopping)
            process.stdout.write(`${m.name} exited:\n${m.output().split("\n").slice(-10).join("\n")}\n`);
        });
      }
    });
}
