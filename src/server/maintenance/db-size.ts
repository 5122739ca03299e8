// Status.dbSize and Status.dbSizeInUse. etcd reports the bolt file size and that size minus the
// free pages. For LMDB: dbSize = the pages up to the environment's highest used page (what the
// data file occupies, since LMDB grows it page by page); dbSizeInUse = the pages reachable from
// the two meta pages: the main and free-list trees and every named table's tree (branch, leaf and
// overflow pages), except that a table whose tree is one leaf page counts only its overflow pages.
// That exception mirrors bolt, which keeps a small bucket inline in its parent's page instead of
// giving it a page of its own: without it the handful of nearly empty tables Kvorum keeps (one
// per kind of state) would count several pages that an etcd of the same content does not have,
// which matters for small --quota-backend-bytes values (the quota compares this figure).
// Freed pages still count in dbSize but not in dbSizeInUse; LMDB reuses them for later writes.
// A MemoryBackend has no pages: both figures are its stored key and value bytes.
import type { Database, RootDatabase } from "lmdb";
import type { Backend } from "../../mvcc/backend.js";
import { lmdbEnvironmentOf } from "./backend-access.js";

export interface DbSize {
  dbSize: number;
  dbSizeInUse: number;
}

interface TreeStats {
  treeBranchPageCount?: number;
  treeLeafPageCount?: number;
  overflowPages?: number;
}

interface EnvStats extends TreeStats {
  pageSize?: number;
  lastPageNumber?: number;
  free?: TreeStats;
}

const treePages = (s: TreeStats | undefined): number =>
  (s?.treeBranchPageCount ?? 0) + (s?.treeLeafPageCount ?? 0) + (s?.overflowPages ?? 0);

/** LMDB's meta pages: page 0 and page 1. */
const META_PAGES = 2;

const tableHandles = new WeakMap<RootDatabase, Map<string, Database>>();

function tableHandle(env: RootDatabase, name: string): Database {
  let handles = tableHandles.get(env);
  if (handles === undefined) {
    handles = new Map();
    tableHandles.set(env, handles);
  }
  let db = handles.get(name);
  if (db === undefined) {
    db = env.openDB(name, { keyEncoding: "binary", encoding: "binary" });
    handles.set(name, db);
  }
  return db;
}

/** The named tables of an LMDB environment (the keys of its main database). */
function tableNames(env: RootDatabase): string[] {
  const names: string[] = [];
  for (const key of env.getKeys()) if (typeof key === "string") names.push(key);
  return names;
}

export function lmdbDbSize(env: RootDatabase): DbSize {
  const stats = env.getStats() as EnvStats;
  const pageSize = stats.pageSize ?? 4096;
  const dbSize = ((stats.lastPageNumber ?? 0) + 1) * pageSize;
  let pages = META_PAGES + treePages(stats) + treePages(stats.free);
  for (const name of tableNames(env)) {
    const t = tableHandle(env, name).getStats() as TreeStats;
    const rootOnly = (t.treeBranchPageCount ?? 0) === 0 && (t.treeLeafPageCount ?? 0) === 1;
    pages += treePages(t) - (rootOnly ? 1 : 0);
  }
  return { dbSize, dbSizeInUse: Math.min(dbSize, pages * pageSize) };
}

/** Both figures for any backend (see the file comment). */
export function backendDbSize(backend: Backend): DbSize {
  const env = lmdbEnvironmentOf(backend);
  if (env !== undefined) return lmdbDbSize(env);
  const size = backend.sizeBytes();
  return { dbSize: size, dbSizeInUse: size };
}

/**
 * backendDbSize with the result reused for `maxAgeMs` (LMDB's figure takes tens of microseconds:
 * one stat per table), for checks on every request such as the space quota.
 */
export function cachedDbSize(backend: Backend, maxAgeMs = 100, now: () => number = Date.now): () => DbSize {
  let cached: DbSize | undefined;
  let at = 0;
  return () => {
    const t = now();
    if (cached === undefined || t - at >= maxAgeMs) {
      cached = backendDbSize(backend);
      at = t;
    }
    return cached;
  };
}
