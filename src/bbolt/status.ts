// What `etcdctl snapshot status` reports about a snapshot file (clientv3/snapshot Status): after
// bbolt's page check, a CRC-32C (Castagnoli) over every bucket name followed by that bucket's keys
// and values in order, the main revision of the last row of the "key" bucket, the number of rows
// in all buckets, and the database size (high-water pages x page size). Printed as etcdctl's
// simple, table and JSON printers do.

import { crc32c } from "../common/crc32c.js";
import { BoltReader } from "./reader.js";

export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

export function snapshotStatus(file: Uint8Array): SnapshotStatus {
  const db = BoltReader.open(file);
  const problems = db.check();
  if (problems.length > 0)
    throw new Error(
      `snapshot file integrity check failed. ${problems.length} errors found.\n${problems.join("\n")}`,
    );
  let hash = 0;
  let revision = 0;
  let totalKey = 0;
  for (const name of db.bucketNames()) {
    hash = crc32c(name, hash);
    const isKeyBucket = name.toString("latin1") === "key";
    for (const item of db.entries(name)) {
      hash = crc32c(item.value, crc32c(item.key, hash));
      if (isKeyBucket) revision = Number(item.key.readBigInt64BE(0));
      totalKey++;
    }
  }
  return { hash, revision, totalKey, totalSize: db.size };
}

/** go-humanize's Bytes: SI units, one decimal below 10, Go's rounding of the printed value. */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / Math.pow(1000, e)) * 10 + 0.5) / 10;
  return `${val < 10 ? val.toFixed(1) : roundHalfEven(val)} ${sizes[e]}`;
}

/** %.0f as Go prints it: the nearest integer, ties to even. */
function roundHalfEven(x: number): string {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return String(f + 1);
  if (diff < 0.5) return String(f);
  return String(f % 2 === 0 ? f : f + 1);
}

function statusRow(s: SnapshotStatus): string[] {
  return [s.hash.toString(16), String(s.revision), String(s.totalKey), humanizeBytes(s.totalSize)];
}

/** etcdctl's printers for `snapshot status`: "simple" (default), "table", "json", "fields". */
export function formatSnapshotStatus(s: SnapshotStatus, format: string): string {
  switch (format) {
    case "simple":
      return statusRow(s).join(", ") + "\n";
    case "json":
      return `{"hash":${s.hash},"revision":${s.revision},"totalKey":${s.totalKey},"totalSize":${s.totalSize}}\n`;
    case "fields":
      return `"Hash" : ${s.hash}\n"Revision" : ${s.revision}\n"Keys" : ${s.totalKey}\n"Size" : ${s.totalSize}\n`;
    case "table":
      return table(["hash", "revision", "total keys", "total size"], [statusRow(s)]);
    default:
      throw new Error(`unsupported output format ${JSON.stringify(format)}`);
  }
}

/** A table as etcdctl's tablewriter draws it with right-aligned cells and centred headers. */
function table(header: string[], rows: string[][]): string {
  const title = header.map((h) => h.toUpperCase());
  const widths = title.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const rule = "+" + widths.map((w) => "-".repeat(w + 2)).join("+") + "+\n";
  const centre = (s: string, w: number): string => {
    const gap = w - s.length;
    const left = Math.floor(gap / 2);
    return " ".repeat(left) + s + " ".repeat(gap - left);
  };
  const line = (cells: string[]): string => "| " + cells.join(" | ") + " |\n";
  let out = rule + line(title.map((h, i) => centre(h, widths[i]!))) + rule;
  for (const r of rows) out += line(r.map((c, i) => c.padStart(widths[i]!)));
  return out + rule;
}
