// Loads Kvorum's etcd-compatible .proto files at runtime with protobufjs.
// tsc does not copy .proto files to dist/, so the directory is found from the
// package root (nearest package.json above this module), not from this file's folder.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

/** Proto files loaded so far (the remaining etcd files are still to be written). */
export const PROTO_FILES: readonly string[] = ["kv.proto", "health.proto"];

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

/** Parses the .proto files under <package root>/src/proto into one resolved Root. */
export function loadEtcdProtos(): protobuf.Root {
  const protoDir = join(findPackageRoot(), "src", "proto");
  const root = new protobuf.Root();
  root.loadSync(PROTO_FILES.map((name) => join(protoDir, name)));
  root.resolveAll();
  return root;
}
