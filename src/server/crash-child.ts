// Child process of crash.test.ts: starts a member on disk and writes forever (a few concurrent
// writers, puts and lease grants with attached keys; keys carry the round so rounds do not overlap), printing one line per acknowledged
// request, until the parent kills it with SIGKILL.
import { parseServerConfig } from "../config/server-config.js";
import { startMember } from "./member.js";

const [dataDir, round = "0", writersArg] = process.argv.slice(2);
if (dataDir === undefined) throw new Error("usage: crash-child <data-dir> [round] [writers]");
const writers = Number(writersArg ?? "4");
const { config } = parseServerConfig(
  [
    "--data-dir",
    dataDir,
    "--heartbeat-interval",
    "10",
    "--election-timeout",
    "100",
    "--snapshot-count",
    "300",
    // Backend batches commit only at snapshots (or 10000 writes): every kill loses an open batch
    // that the restart must replay from the WAL, and the WAL is released only behind a commit.
    "--backend-batch-interval",
    "1h",
  ],
  {},
);
const member = await startMember({ config, storage: "disk" });
const enc = (s: string) => new TextEncoder().encode(s);
const out = (line: string) => process.stdout.write(`${line}\n`);
out("ready");

async function writer(w: number): Promise<never> {
  for (let i = 0; ; i++) {
    if (i % 10 === 0) {
      const g = await member.leaseGrant({ id: 0n, ttl: 3600 });
      await member.put({ key: enc(`lease/${round}/${w}/${i}`), value: enc(String(g.id)), lease: g.id });
      out(`lease ${round}/${w}/${i} ${g.id}`);
    } else {
      const r = await member.put({ key: enc(`k/${round}/${w}/${i}`), value: enc(`v${i}`) });
      out(`put ${round}/${w}/${i} ${r.header.revision}`);
    }
  }
}

await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
