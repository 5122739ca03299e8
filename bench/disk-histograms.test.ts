import { test } from "node:test";
import assert from "node:assert/strict";
import { histogramDelta, parseHistogram, summarizeHistogram } from "./disk-histograms.js";

// Two scrapes of a server's /metrics in Prometheus text, with a neighbouring family whose name
// starts the same way (it must not be mixed in).
const scrape = (
  b1: number,
  b2: number,
  b4: number,
  all: number,
  sum: number,
): string => `# HELP etcd_disk_wal_fsync_duration_seconds WAL fsync latency
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} ${b1}
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"} ${b2}
etcd_disk_wal_fsync_duration_seconds_bucket{le="0.004"} ${b4}
etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} ${all}
etcd_disk_wal_fsync_duration_seconds_sum ${sum}
etcd_disk_wal_fsync_duration_seconds_count ${all}
etcd_disk_wal_fsync_duration_seconds_extra_bucket{le="0.001"} 999
process_resident_memory_bytes 1234
`;

test("a histogram is read from Prometheus text, and other families are left out", () => {
  const h = parseHistogram(scrape(90, 95, 99, 100, 0.05), "etcd_disk_wal_fsync_duration_seconds");
  assert.deepEqual(h, {
    buckets: [
      [0.001, 90],
      [0.002, 95],
      [0.004, 99],
      [Infinity, 100],
    ],
    count: 100,
    sumSeconds: 0.05,
  });
  assert.equal(parseHistogram(scrape(1, 1, 1, 1, 0), "etcd_disk_backend_commit_duration_seconds"), undefined);
});

test("the difference of two scrapes describes only what happened between them", () => {
  const name = "etcd_disk_wal_fsync_duration_seconds";
  const before = parseHistogram(scrape(90, 95, 99, 100, 0.05), name);
  const after = parseHistogram(scrape(1080, 1090, 1098, 1100, 0.65), name)!;
  const during = summarizeHistogram(histogramDelta(before, after), [1, 2, 4, 3]);
  assert.equal(during.count, 1000);
  assert.ok(Math.abs(during.meanMs - 0.6) < 1e-9, `mean ${during.meanMs}`);
  assert.deepEqual(
    [...during.shareAtMostMs],
    [
      [1, 0.99],
      [2, 0.995],
      [4, 0.999],
    ],
  );
  // With no earlier scrape, everything counts.
  assert.equal(summarizeHistogram(histogramDelta(undefined, after), [1]).count, 1100);
});
