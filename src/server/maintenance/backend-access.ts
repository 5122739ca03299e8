// How maintenance reaches what the Backend port does not expose: the LMDB environment behind an
// LMDB backend, and the table names of a MemoryBackend. Both are read duck-typed from the
// implementations' fields (`env`, `tables`) because src/mvcc offers no accessor yet; a backend may
// instead provide the public methods named here (lmdbEnvironment(), tableNames()), which win.
import type { RootDatabase } from "lmdb";
import type { Backend, BackendTable } from "../../mvcc/backend.js";
import { MemoryBackend } from "../../mvcc/memory-backend.js";

interface MaybeLmdb {
  lmdbEnvironment?: () => RootDatabase;
  env?: unknown;
}

function looksLikeLmdbEnv(x: unknown): x is RootDatabase {
  if (typeof x !== "object" || x === null) return false;
  const env = x as Record<string, unknown>;
  return (
    typeof env.backup === "function" && typeof env.getStats === "function" && typeof env.openDB === "function"
  );
}

/** The LMDB environment of an LMDB backend, or undefined for any other backend. */
export function lmdbEnvironmentOf(backend: Backend): RootDatabase | undefined {
  const b = backend as unknown as MaybeLmdb;
  if (typeof b.lmdbEnvironment === "function") return b.lmdbEnvironment();
  return looksLikeLmdbEnv(b.env) ? b.env : undefined;
}

/** The tables of a MemoryBackend by name (created ones only), or undefined for other backends. */
export function memoryTablesOf(backend: Backend): Map<string, BackendTable> | undefined {
  if (!(backend instanceof MemoryBackend)) return undefined;
  const b = backend as unknown as { tableNames?: () => string[]; tables?: unknown };
  if (typeof b.tableNames === "function") return new Map(b.tableNames().map((n) => [n, backend.table(n)]));
  if (b.tables instanceof Map) return new Map(b.tables as Map<string, BackendTable>);
  return undefined;
}
