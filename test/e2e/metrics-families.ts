// The metrics-parity workload and the Prometheus text parsing shared by the etcd recorder
// (scripts/record-etcd-metrics.ts) and the parity test (parity-metrics.e2e.ts): both run the same
// etcdctl workload, then reduce each /metrics page to its families (name, type, label names).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { etcdctl, type EtcdctlOptions, REPO_ROOT, spawnEtcdctl } from "./harness.js";

export const FIXTURE_PATH = join(REPO_ROOT, "test", "fixtures", "etcd-metrics-3.4.txt");
export const ABSENT_PATH = join(REPO_ROOT, "test", "fixtures", "metrics-absent.json");

export interface Family {
  name: string;
  type: string;
  /** Sorted label names over all of the family's samples (without histogram `le` / summary `quantile`). */
  labels: string[];
  help: string;
}

/** One sample line: metric name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The families of one exposition page: TYPE and HELP lines, and label names from the samples. */
export function parseFamilies(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) {
      f = { name, type: "untyped", labels: [], help: "" };
      families.set(name, f);
    }
    return f;
  };
  for (const line of text.split("\n")) {
    const meta = /^# (TYPE|HELP) (\S+) ?(.*)$/.exec(line);
    if (meta === null) continue;
    if (meta[1] === "TYPE") family(meta[2] as string).type = meta[3] as string;
    else family(meta[2] as string).help = meta[3] as string;
  }
  const owner = (sample: string): Family | undefined => {
    const exact = families.get(sample);
    if (exact !== undefined) return exact;
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      if (sample.endsWith(suffix)) return families.get(sample.slice(0, -suffix.length));
    }
    return undefined;
  };
  const seen = new Map<string, Set<string>>();
  for (const s of parseSamples(text)) {
    const f = owner(s.name);
    if (f === undefined) continue;
    let names = seen.get(f.name);
    if (names === undefined) seen.set(f.name, (names = new Set()));
    for (const l of Object.keys(s.labels)) if (l !== "le" && l !== "quantile") names.add(l);
  }
  for (const f of families.values()) f.labels = [...(seen.get(f.name) ?? [])].sort();
  // A family with no samples is not exposed by etcd's client library; drop it here too.
  for (const name of [...families.keys()]) if (!seen.has(name)) families.delete(name);
  return families;
}

/** Merges pages (several members) into one family list; label names are unioned. */
export function mergeFamilies(pages: Array<Map<string, Family>>): Map<string, Family> {
  const out = new Map<string, Family>();
  for (const page of pages) {
    for (const f of page.values()) {
      const prev = out.get(f.name);
      if (prev === undefined) out.set(f.name, { ...f, labels: [...f.labels] });
      else prev.labels = [...new Set([...prev.labels, ...f.labels])].sort();
    }
  }
  return new Map([...out.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** Fixture line: `name<TAB>type<TAB>label,label<TAB>help`. */
export function formatFixture(families: Map<string, Family>, header: string[]): string {
  const lines = header.map((h) => `# ${h}`);
  for (const f of families.values()) lines.push([f.name, f.type, f.labels.join(","), f.help].join("\t"));
  return lines.join("\n") + "\n";
}

export function readFixture(path = FIXTURE_PATH): Map<string, Family> {
  const out = new Map<string, Family>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [name = "", type = "", labels = "", help = ""] = line.split("\t");
    out.set(name, { name, type, labels: labels === "" ? [] : labels.split(","), help });
  }
  return out;
}

/** Family name -> why Kvorum does not expose it. */
export function readAbsentReasons(path = ABSENT_PATH): Record<string, string> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
}

export async function scrape(endpoint: string): Promise<string> {
  const response = await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET ${endpoint}/metrics: ${response.status}`);
  return response.text();
}

async function ok(endpoint: string, args: string[], opts: EtcdctlOptions = {}): Promise<string> {
  const result = await etcdctl({ endpoint }, args, opts);
  if (result.code !== 0) {
    throw new Error(`etcdctl ${args.join(" ")} failed (${result.code}): ${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

/**
 * The fixed workload, through etcdctl against `endpoint`: puts, gets, a txn, a delete, a lease
 * grant / keep-alive / revoke, a watch that sees two events, a compaction, a defrag and a status.
 * `all` are every member's endpoints (for the status call).
 */
export async function runWorkload(endpoint: string, all: string[] = [endpoint]): Promise<void> {
  for (let i = 1; i <= 5; i++) await ok(endpoint, ["put", `mk${i}`, `v${i}`]);
  await ok(endpoint, ["get", "mk1"]);
  await ok(endpoint, ["get", "mk", "--prefix"]);
  await ok(endpoint, ["get", "mk", "--prefix", "--keys-only", "--consistency=s"]);
  await ok(endpoint, ["txn"], { input: 'value("mk1") = "v1"\n\nput mk1 t1\nput mk6 t6\n\nget mk1\n\n' });
  await ok(endpoint, ["del", "mk2"]);

  const granted = await ok(endpoint, ["lease", "grant", "60"]);
  const lease = /lease ([0-9a-f]+) granted/.exec(granted)?.[1];
  if (lease === undefined) throw new Error(`no lease ID in: ${granted}`);
  await ok(endpoint, ["put", "mlease", "x", `--lease=${lease}`]);
  await ok(endpoint, ["lease", "keep-alive", "--once", lease]);
  await ok(endpoint, ["lease", "timetolive", lease, "--keys"]);
  await ok(endpoint, ["lease", "revoke", lease]);

  // The watch starts at the put's revision, so it sees both events however late it registers
  // and the workload stays the same from run to run.
  const put = JSON.parse(await ok(endpoint, ["put", "mw", "mw-seen", "-w", "json"])) as {
    header: { revision: number };
  };
  await ok(endpoint, ["del", "mw"]);
  const watch = spawnEtcdctl({ endpoint }, ["watch", "mw", "--prefix", `--rev=${put.header.revision}`]);
  try {
    await watch.waitFor(/DELETE/);
  } finally {
    await watch.stop();
  }

  const header = JSON.parse(await ok(endpoint, ["get", "mk1", "-w", "json"])) as {
    header: { revision: number };
  };
  await ok(endpoint, ["compaction", String(header.header.revision - 2), "--physical"]);
  await ok(endpoint, ["defrag"]);
  await ok(endpoint, ["endpoint", "status"], { endpoints: all.join(",") });
  await ok(endpoint, ["endpoint", "health"], { endpoints: all.join(",") });
}
