// The crash test's child process: opens the durable store in --data-dir, then appends entries as
// fast as it can with several saves in flight, printing "ack <lastIndex> <term>" once each save is
// durable, and takes a snapshot now and then. It runs until the parent kills it with SIGKILL.

import { Command } from "commander";
import { DurableLogStore } from "../../src/storage/raft-log-store.js";
import {
  CRASH_CATCH_UP,
  CRASH_CONF,
  CRASH_SEGMENT_SIZE,
  crashEntry,
  prng,
  snapshotPayload,
} from "./workload.js";
import type { Entry } from "../../src/raft/types.js";

const opts = new Command()
  .requiredOption("--data-dir <dir>")
  .requiredOption("--term <n>", "term for this run's entries", Number)
  .requiredOption("--seed <n>", "random seed", Number)
  .parse(process.argv)
  .opts<{ dataDir: string; term: number; seed: number }>();

const random = prng(opts.seed);
const store = await DurableLogStore.open(opts.dataDir, {
  bootstrap: CRASH_CONF,
  segmentSize: CRASH_SEGMENT_SIZE,
  catchUpEntries: CRASH_CATCH_UP,
  snapshotsToKeep: 3,
  logger: { warn: (m) => process.stderr.write(`child: ${m}\n`) },
});
const term = opts.term;
let next = store.lastIndex() + 1;
let acked = store.lastIndex();
let lastSnapshot = store.snapshot().metadata.index;
const inFlightLimit = 1 + Math.floor(random() * 16);
let inFlight = 0;

function pump(): void {
  while (inFlight < inFlightLimit) {
    const count = 1 + Math.floor(random() * 16);
    const entries: Entry[] = [];
    for (let i = 0; i < count; i++) entries.push(crashEntry(next + i, term));
    next += count;
    const last = next - 1;
    inFlight++;
    store
      .save({ entries, hardState: { term, vote: "n1", commit: acked } }, true)
      .then(async () => {
        inFlight--;
        acked = last;
        process.stdout.write(`ack ${last} ${term}\n`);
        if (acked - lastSnapshot > 1500 + Math.floor(random() * 1000)) {
          lastSnapshot = acked;
          await store.createSnapshot(acked, CRASH_CONF, snapshotPayload(acked, store.term(acked)));
        }
        pump();
      })
      .catch((err: unknown) => {
        process.stderr.write(`child: save failed: ${String(err)}\n`);
        process.exit(3);
      });
  }
}

process.stdout.write(`ready ${store.lastIndex()}\n`);
pump();
