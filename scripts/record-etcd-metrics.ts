#!/usr/bin/env node
// Records which metric families etcd 3.4 exposes after the parity workload, as the oracle for
// test/e2e/parity-metrics.e2e.ts. Starts a single-member etcd and a 3-member etcd cluster on
// loopback (peer metrics exist only with peers), runs the workload of test/e2e/metrics-families.ts
// against each, scrapes every member's /metrics and writes the union of the families:
//
//   node --import tsx scripts/record-etcd-metrics.ts        # writes test/fixtures/etcd-metrics-3.4.txt
//
// Needs etcd and etcdctl 3.4 on the PATH.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { startTarget } from "../bench/targets.js";
import { killAll, sleep } from "../test/e2e/harness.js";
import {
  FIXTURE_PATH,
  formatFixture,
  mergeFamilies,
  parseFamilies,
  runWorkload,
  scrape,
  type Family,
} from "../test/e2e/metrics-families.js";

/** etcd probes its peers' round trip first 5 s after it adds them; wait past that. */
const PEER_PROBE_WAIT_MS = 7_000;

async function record(members: number): Promise<Array<Map<string, Family>>> {
  const target = await startTarget("etcd", members, { processes: members > 1 });
  try {
    await runWorkload(target.endpoints[0] as string, target.endpoints);
    if (members > 1) await sleep(PEER_PROBE_WAIT_MS);
    const pages = [];
    for (const e of target.endpoints) pages.push(parseFamilies(await scrape(e)));
    return pages;
  } finally {
    await target.stop();
  }
}

const version = spawnSync("etcd", ["--version"], { encoding: "utf8" }).stdout.split("\n")[0] ?? "";
try {
  const families = mergeFamilies([...(await record(1)), ...(await record(3))]);
  writeFileSync(
    FIXTURE_PATH,
    formatFixture(families, [
      `Metric families of ${version.trim()} after the workload of test/e2e/metrics-families.ts,`,
      "single member and 3-member cluster, every member scraped; written by",
      "`node --import tsx scripts/record-etcd-metrics.ts`.",
      "Columns (tab-separated): name, type, label names (sorted, without le/quantile), help.",
    ]),
  );
  console.log(`wrote ${families.size} families to ${FIXTURE_PATH}`);
} finally {
  await killAll();
}
