// The member's side of etcd's server metrics that need more than one addition: whether a
// snapshot install or a defragmentation is running, and slow applies. Counts go to
// common/etcd-counts.ts, which the metrics layer reads at scrape time.
import { counts, observe, timed } from "../common/etcd-counts.js";

/** etcd's warnApplyDuration: an apply slower than this counts as slow. */
export const SLOW_APPLY_MS = 100;

/** Runs one entry's apply, counting it in etcd_server_slow_apply_total when it is slow. */
export function countSlowApply<T>(apply: () => T): T {
  const start = performance.now();
  const out = apply();
  if (performance.now() - start > SLOW_APPLY_MS) counts.slowApplies++;
  return out;
}

/** etcd_server_snapshot_apply_in_progress_total is 1 while `install` runs. */
export async function whileApplyingSnapshot(install: () => Promise<void>): Promise<void> {
  counts.snapshotApplyInProgress = 1;
  try {
    await install();
  } finally {
    counts.snapshotApplyInProgress = 0;
  }
}

/** etcd_disk_defrag_inflight is 1 while `defrag` runs; its duration goes to the defrag histogram. */
export async function defragmenting(defrag: () => Promise<void>): Promise<void> {
  counts.defragInflight = 1;
  try {
    await timed(observe.defragSeconds, defrag);
  } finally {
    counts.defragInflight = 0;
  }
}
