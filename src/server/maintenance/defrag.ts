// Maintenance.Defragment.
//
// Decision: on a live backend it is a documented no-op (it reports the sizes, changes nothing);
// the compacting copy-and-swap exists only offline, as defragmentLmdbDirectory(), for a data dir
// no process has open (e.g. before the member opens its backend, like `etcdctl defrag --data-dir`).
// Why:
// - LMDB reuses freed pages for later writes on its own, so a compacted store stops growing;
//   what bolt's defrag adds (a smaller file) needs the data file replaced.
// - Replacing it under an open environment is unsafe: the file is memory-mapped, and every
//   BackendTable handle the store, lessor and alarm store hold belongs to that environment.
//   Swapping would need the backend to close, swap and reopen with all handles rebound while no
//   transaction runs, which the Backend port cannot do today.
// - dbSizeInUse (db-size.ts) already shows what a defrag would leave.
import fs from "node:fs/promises";
import path from "node:path";
import { open } from "lmdb";
import type { Backend } from "../../mvcc/backend.js";
import { backendDbSize, type DbSize } from "./db-size.js";

export interface DefragResult {
  /** Whether the data file was rewritten. */
  performed: boolean;
  before: DbSize;
  after: DbSize;
  /** Why nothing was rewritten, for the log. */
  reason?: string;
}

/** What the member's defragment() does: nothing to the live backend (see the file comment). */
export function defragmentBackend(backend: Backend): Promise<DefragResult> {
  const size = backendDbSize(backend);
  return Promise.resolve({
    performed: false,
    before: size,
    after: size,
    reason: "the backend is open; LMDB reuses its free pages, the file is compacted only offline",
  });
}

/**
 * Rewrites the LMDB data file in `dir` as a compacted copy (free pages dropped) and swaps it in
 * atomically (rename over data.mdb). Only while no process has the environment open.
 */
export async function defragmentLmdbDirectory(
  dir: string,
): Promise<{ beforeBytes: number; afterBytes: number }> {
  const dataFile = path.join(dir, "data.mdb");
  const beforeBytes = (await fs.stat(dataFile)).size;
  const work = await fs.mkdtemp(path.join(dir, ".defrag-"));
  try {
    const env = open({ path: dir, maxDbs: 16 });
    try {
      await env.backup(work, true);
    } finally {
      await env.close();
    }
    const copy = path.join(work, "data.mdb");
    const handle = await fs.open(copy, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(copy, dataFile);
    const dirHandle = await fs.open(dir, "r");
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
    return { beforeBytes, afterBytes: (await fs.stat(dataFile)).size };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
