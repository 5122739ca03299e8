#!/usr/bin/env node
// Reads etcd 3.4's .proto files (Debian package golang-etcd-server-dev) and extracts the wire facts
// only: message, field, enum, service and rpc names, numbers, types and streaming flags.
//
//   node --import tsx scripts/extract-etcd-proto-schema.ts                 # writes test/fixtures/etcd-proto-schema.json
//   node --import tsx scripts/extract-etcd-proto-schema.ts --emit-proto    # also writes src/proto/{rpc,auth,v3election,v3lock}.proto
//
// The fixture lets CI (which has no etcd sources) check that Kvorum's own .proto files describe the
// same wire format. --emit-proto writes those files from the facts alone, in our own layout.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { schemaOf } from "../src/proto/schema.js";

const ETCD = process.env.ETCD_SRC ?? "/usr/share/gocode/src/go.etcd.io/etcd";
const REPO = join(dirname(fileURLToPath(import.meta.url)), "..");

/** etcd's files, and the file of ours each package goes to. */
const SOURCES = [
  { etcd: "mvcc/mvccpb/kv.proto", ours: "kv.proto", pkg: "mvccpb" },
  { etcd: "auth/authpb/auth.proto", ours: "auth.proto", pkg: "authpb" },
  { etcd: "etcdserver/etcdserverpb/rpc.proto", ours: "rpc.proto", pkg: "etcdserverpb" },
  {
    etcd: "etcdserver/api/v3election/v3electionpb/v3election.proto",
    ours: "v3election.proto",
    pkg: "v3electionpb",
  },
  { etcd: "etcdserver/api/v3lock/v3lockpb/v3lock.proto", ours: "v3lock.proto", pkg: "v3lockpb" },
];

/** Parses etcd's files into one Root; gogoproto/google.api imports are dropped (their options don't change the wire). */
export function loadEtcdRoot() {
  const root = new protobuf.Root();
  for (const src of SOURCES) {
    const text = readFileSync(join(ETCD, src.etcd), "utf8").replace(/^import .*;$/gm, "");
    protobuf.parse(text, root, { keepCase: true });
  }
  root.resolveAll();
  return root;
}

// ---- emitting .proto text from the facts -----------------------------------------------------

function emitEnum(e: protobuf.Enum, indent: string): string[] {
  const lines = [`${indent}enum ${e.name} {`];
  for (const [k, v] of Object.entries(e.values)) lines.push(`${indent}  ${k} = ${v};`);
  lines.push(`${indent}}`);
  return lines;
}

function fieldLine(f: protobuf.Field, pkg: string, indent: string): string {
  let t = f.resolvedType !== null ? f.resolvedType.fullName.slice(1) : f.type;
  if (f.resolvedType !== null && t.startsWith(`${pkg}.`)) t = t.slice(pkg.length + 1);
  else if (f.resolvedType !== null) t = `.${t}`;
  return `${indent}${f.repeated ? "repeated " : ""}${t} ${f.name} = ${f.id};`;
}

function emitMessage(m: protobuf.Type, pkg: string, indent: string): string[] {
  const lines = [`${indent}message ${m.name} {`];
  for (const nested of m.nestedArray) {
    if (nested instanceof protobuf.Enum) lines.push(...emitEnum(nested, `${indent}  `));
    else if (nested instanceof protobuf.Type) lines.push(...emitMessage(nested, pkg, `${indent}  `));
  }
  // Fields in etcd's declaration order (JSON output follows it); a oneof block where its first member is.
  const emittedOneofs = new Set<protobuf.OneOf>();
  for (const f of m.fieldsArray) {
    const o = f.partOf;
    if (o === null) {
      lines.push(fieldLine(f, pkg, `${indent}  `));
      continue;
    }
    if (emittedOneofs.has(o)) continue;
    emittedOneofs.add(o);
    lines.push(`${indent}  oneof ${o.name} {`);
    for (const member of o.fieldsArray) lines.push(fieldLine(member, pkg, `${indent}    `));
    lines.push(`${indent}  }`);
  }
  lines.push(`${indent}}`);
  return lines;
}

function emitService(s: protobuf.Service, pkg: string): string[] {
  const ref = (t: protobuf.Type): string => {
    const n = t.fullName.slice(1);
    return n.startsWith(`${pkg}.`) ? n.slice(pkg.length + 1) : `.${n}`;
  };
  const lines = [`service ${s.name} {`];
  for (const m of s.methodsArray) {
    m.resolve();
    const req = `${m.requestStream === true ? "stream " : ""}${ref(m.resolvedRequestType as protobuf.Type)}`;
    const resp = `${m.responseStream === true ? "stream " : ""}${ref(m.resolvedResponseType as protobuf.Type)}`;
    lines.push(`  rpc ${m.name}(${req}) returns (${resp});`);
  }
  lines.push("}");
  return lines;
}

const HEADERS: Record<string, string> = {
  "auth.proto": "Users and roles as etcd 3.4 stores them (authpb).",
  "rpc.proto":
    "etcd 3.4's v3 API (etcdserverpb): the KV, Watch, Lease, Cluster, Maintenance and Auth services.",
  "v3election.proto": "etcd 3.4's election service (v3electionpb), served on the client port.",
  "v3lock.proto": "etcd 3.4's lock service (v3lockpb), served on the client port.",
};

const IMPORTS: Record<string, string[]> = {
  "rpc.proto": ["kv.proto", "auth.proto"],
  "v3election.proto": ["rpc.proto", "kv.proto"],
  "v3lock.proto": ["rpc.proto"],
};

/**
 * Additions beyond etcd 3.4, written into our files only (never into the fixture): etcd 3.5's
 * Auth.AuthStatus, which etcd 3.5 clients call; the schema test lists them explicitly.
 */
const EXTRAS: Record<string, { service?: Record<string, string[]>; messages?: string[] }> = {
  "rpc.proto": {
    service: { Auth: ["  rpc AuthStatus(AuthStatusRequest) returns (AuthStatusResponse);"] },
    messages: [
      "message AuthStatusRequest {",
      "}",
      "",
      "message AuthStatusResponse {",
      "  ResponseHeader header = 1;",
      "  bool enabled = 2;",
      "  uint64 authRevision = 3;",
      "}",
    ],
  },
};

function emitFile(root: protobuf.Root, src: (typeof SOURCES)[number]): string {
  const ns = root.lookup(src.pkg) as protobuf.Namespace;
  const lines = [
    "// Generated from etcd 3.4's wire facts by scripts/extract-etcd-proto-schema.ts --emit-proto.",
    `// ${HEADERS[src.ours]}`,
    "// Names, numbers, types and streaming flags are etcd's; Go code-generation options are left out.",
    'syntax = "proto3";',
    "",
    `package ${src.pkg};`,
    "",
  ];
  for (const imp of IMPORTS[src.ours] ?? []) lines.push(`import "${imp}";`);
  if (IMPORTS[src.ours]) lines.push("");
  for (const obj of ns.nestedArray) {
    if (obj instanceof protobuf.Service) {
      const service = emitService(obj, src.pkg);
      const extra = EXTRAS[src.ours]?.service?.[obj.name] ?? [];
      lines.push(...service.slice(0, -1), ...extra, ...service.slice(-1));
    } else if (obj instanceof protobuf.Type) lines.push(...emitMessage(obj, src.pkg, ""));
    else if (obj instanceof protobuf.Enum) lines.push(...emitEnum(obj, ""));
    lines.push("");
  }
  lines.push(...(EXTRAS[src.ours]?.messages ?? []));
  return lines.join("\n") + "\n";
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = loadEtcdRoot();
  const schema = schemaOf(
    root,
    SOURCES.map((s) => s.pkg),
  );
  const out = join(REPO, "test", "fixtures", "etcd-proto-schema.json");
  writeFileSync(out, JSON.stringify(schema, null, 2) + "\n");
  console.log(
    `wrote ${out}: ${Object.keys(schema.messages).length} messages, ${Object.keys(schema.enums).length} enums, ${Object.keys(schema.services).length} services`,
  );
  if (process.argv.includes("--emit-proto")) {
    for (const src of SOURCES) {
      if (src.ours === "kv.proto") continue; // written by hand; the fixture test checks it
      const path = join(REPO, "src", "proto", src.ours);
      writeFileSync(path, emitFile(root, src));
      console.log(`wrote ${path}`);
    }
  }
}
