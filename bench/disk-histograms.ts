// The disk-latency histograms that etcd and Kvorum both export on /metrics
// (etcd_disk_wal_fsync_duration_seconds, etcd_disk_backend_commit_duration_seconds), read from
// Prometheus text and compared between two scrapes, so a benchmark can say how each server's
// WAL fdatasyncs and backend commits behaved during its own runs only.

export const DISK_HISTOGRAMS = {
  walFsync: "etcd_disk_wal_fsync_duration_seconds",
  backendCommit: "etcd_disk_backend_commit_duration_seconds",
} as const;

/** One histogram as exported: cumulative counts per upper bound (seconds), and the sum. */
export interface HistogramScrape {
  /** [upper bound in seconds, observations at or under it], in increasing bound order; +Inf last. */
  buckets: Array<[number, number]>;
  count: number;
  sumSeconds: number;
}

/**
 * The histogram `name` in Prometheus text `text`, or undefined when it is not there. For a
 * histogram without labels other than `le`, as etcd's disk histograms are.
 */
export function parseHistogram(text: string, name: string): HistogramScrape | undefined {
  const buckets: Array<[number, number]> = [];
  let count: number | undefined;
  let sumSeconds = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest.startsWith("_bucket{")) {
      const le = /le="([^"]+)"/.exec(rest)?.[1];
      const value = Number(rest.slice(rest.lastIndexOf(" ") + 1));
      if (le === undefined || !Number.isFinite(value)) continue;
      buckets.push([le === "+Inf" ? Infinity : Number(le), value]);
    } else if (rest.startsWith("_sum ")) {
      sumSeconds = Number(rest.slice(5));
    } else if (rest.startsWith("_count ")) {
      count = Number(rest.slice(7));
    }
  }
  if (buckets.length === 0) return undefined;
  buckets.sort((x, y) => x[0] - y[0]);
  return { buckets, count: count ?? buckets[buckets.length - 1]![1], sumSeconds };
}

/** What happened between two scrapes of one histogram (same buckets). */
export function histogramDelta(before: HistogramScrape | undefined, after: HistogramScrape): HistogramScrape {
  if (before === undefined) return after;
  const earlier = new Map(before.buckets);
  return {
    buckets: after.buckets.map(([le, n]) => [le, n - (earlier.get(le) ?? 0)]),
    count: after.count - before.count,
    sumSeconds: after.sumSeconds - before.sumSeconds,
  };
}

export interface DiskSummary {
  count: number;
  meanMs: number;
  /** Share (0..1) of observations at or under each bound that the histogram has, by bound in ms. */
  shareAtMostMs: Map<number, number>;
}

/** Count, mean and the share of observations at or under each of `boundsMs` (bounds it has). */
export function summarizeHistogram(h: HistogramScrape, boundsMs: readonly number[]): DiskSummary {
  const shareAtMostMs = new Map<number, number>();
  for (const ms of boundsMs) {
    const bucket = h.buckets.find(([le]) => Math.abs(le * 1000 - ms) < 1e-9);
    if (bucket !== undefined && h.count > 0) shareAtMostMs.set(ms, bucket[1] / h.count);
  }
  return { count: h.count, meanMs: h.count > 0 ? (h.sumSeconds / h.count) * 1000 : 0, shareAtMostMs };
}

/** Fetches a server's /metrics text; undefined if it cannot be read. */
export async function scrapeMetrics(endpoint: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}
