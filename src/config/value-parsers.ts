// Parsers for etcd flag values: Go-style booleans, unsigned integers, Go durations, URL lists,
// --initial-cluster maps and --auto-compaction-retention. Each throws a plain Error whose message
// is the reason; the caller adds the flag name.

const TRUE_WORDS = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE_WORDS = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** Go's strconv.ParseBool. */
export function parseBool(text: string): boolean {
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  throw new Error("parse error");
}

/** A non-negative decimal integer that fits a safe JS number. */
export function parseUint(text: string): number {
  if (!/^\d+$/.test(text)) throw new Error("parse error");
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error("value out of range");
  return n;
}

/** Go's strconv.ParseUint(text, 0, 32), as etcd's uint32 flags parse (0x, 0o, 0b, 0 prefixes). */
export function parseUint32(text: string): number {
  let digits = text;
  let base = 10;
  const prefix = /^0([xXoObB])/.exec(text);
  if (prefix !== null) {
    base = { x: 16, o: 8, b: 2 }[prefix[1]!.toLowerCase() as "x"];
    digits = text.slice(2);
  } else if (text.length > 1 && text.startsWith("0")) {
    base = 8;
    digits = text.slice(1);
  }
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^\d+$/, 16: /^[0-9a-fA-F]+$/ }[base as 10];
  const fail = (why: string): Error =>
    new Error(`strconv.ParseUint: parsing ${JSON.stringify(text)}: ${why}`);
  if (!valid.test(digits)) throw fail("invalid syntax");
  const n = parseInt(digits, base);
  if (n > 0xffff_ffff) throw fail("value out of range");
  return n;
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration, returned in milliseconds (may be fractional). */
export function parseGoDurationMs(text: string): number {
  if (text === "0") return 0;
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest.startsWith("-")) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "") throw new Error(`time: invalid duration "${text}"`);
  let total = 0;
  const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest.length > 0) {
    const m = part.exec(rest);
    if (m === null) throw new Error(`time: invalid duration "${text}"`);
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

const URL_SCHEMES = new Set(["http:", "https:", "unix:", "unixs:"]);

/** One URL as etcd's types.NewURLs accepts it: http(s)/unix(s), host:port, no path. */
export function parseOneUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text.trim());
  } catch {
    throw new Error(`URL scheme must be http, https, unix, or unixs: ${text}`);
  }
  if (!URL_SCHEMES.has(u.protocol)) {
    throw new Error(`URL scheme must be http, https, unix, or unixs: ${text}`);
  }
  // etcd asks host:port of unix URLs too: that text is the socket's path (unix://localhost:2379).
  if (u.hostname === "" || u.port === "") {
    throw new Error(`URL address does not have the form "host:port": ${text}`);
  }
  if (u.pathname !== "" && u.pathname !== "/") {
    throw new Error(`URL must not contain a path: ${text}`);
  }
  return text.trim();
}

/** A comma-separated URL list, duplicates removed, order kept. Empty text gives []. */
export function parseUrlList(text: string): string[] {
  if (text.trim() === "") return [];
  const out: string[] = [];
  for (const piece of text.split(",")) {
    const url = parseOneUrl(piece);
    if (!out.includes(url)) out.push(url);
  }
  return out;
}

/** --initial-cluster "a=http://h:2380,a=http://h2:2380,b=..." into name → URLs. */
export function parseInitialCluster(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (text.trim() === "") return out;
  for (const piece of text.split(",")) {
    const eq = piece.indexOf("=");
    if (eq <= 0) throw new Error(`missing "=" or member name in ${JSON.stringify(piece)}`);
    const name = piece.slice(0, eq).trim();
    const url = parseOneUrl(piece.slice(eq + 1));
    const urls = out[name] ?? [];
    if (urls.includes(url)) throw new Error(`duplicate URL ${url} for member ${name}`);
    urls.push(url);
    out[name] = urls;
  }
  return out;
}

export type AutoCompactionMode = "periodic" | "revision";

/**
 * etcd's parseCompactionRetention: a bare integer is hours (periodic) or revisions (revision);
 * anything else must be a Go duration. Returns milliseconds (periodic) or a revision count.
 */
export function parseCompactionRetention(mode: AutoCompactionMode, text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return mode === "periodic" ? n * 3_600_000 : n;
  }
  if (mode === "revision") {
    throw new Error(`error parsing CompactionRetention: revision mode needs an integer, got "${text}"`);
  }
  try {
    return parseGoDurationMs(text);
  } catch (err) {
    throw new Error(`error parsing CompactionRetention: ${(err as Error).message}`, { cause: err });
  }
}
