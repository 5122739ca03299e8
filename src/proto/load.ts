// Loads Kvorum's etcd-compatible .proto files at runtime with protobufjs.
// tsc does not copy .proto files to dist/, so the directory is found from the
// package root (nearest package.json above this module), not from this file's folder.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

/** Every .proto file the client port serves (imports between them resolve in the same directory). */
export const PROTO_FILES: readonly string[] = [
  "kv.proto",
  "auth.proto",
  "rpc.proto",
  "v3election.proto",
  "v3lock.proto",
  "health.proto",
];

/** Walks up from this module to the directory holding package.json. */
export function findPackageRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
}

let cached: protobuf.Root | undefined;

/**
 * Parses the .proto files under <package root>/src/proto into one resolved Root, once per process.
 * Field names stay exactly as in the .proto (keepCase: snake_case), the convention of the plain
 * messages handlers exchange (src/api/handler-types.ts).
 */
export function loadEtcdProtos(): protobuf.Root {
  if (cached !== undefined) return cached;
  const protoDir = join(findPackageRoot(), "src", "proto");
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(protoDir, target.replace(/^.*\//, ""));
  root.loadSync(
    PROTO_FILES.map((name) => join(protoDir, name)),
    { keepCase: true },
  );
  root.resolveAll();
  cached = root;
  return root;
}
