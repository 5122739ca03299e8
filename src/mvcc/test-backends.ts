// Test support: the two Backend implementations behind one factory, so suites run on both.
// LMDB instances live in temp dirs removed by cleanup().

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Backend } from "./backend.js";
import { openLmdbBackend, type LmdbBackendOptions } from "./lmdb-backend.js";
import { MemoryBackend } from "./memory-backend.js";

export interface TestBackend {
  backend: Backend;
  /** Closes and reopens the same data (LMDB only; memory returns the same instance). */
  reopen(): Promise<Backend>;
  cleanup(): Promise<void>;
}

export interface BackendKind {
  name: string;
  create(): Promise<TestBackend>;
}

function lmdbKind(name: string, opts: LmdbBackendOptions): BackendKind {
  return {
    name,
    create: async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-mvcc-"));
      const t: TestBackend = {
        backend: openLmdbBackend(dir, opts),
        reopen: async () => {
          await t.backend.close();
          t.backend = openLmdbBackend(dir, opts);
          return t.backend;
        },
        cleanup: async () => {
          await t.backend.close();
          await fs.rm(dir, { recursive: true, force: true });
        },
      };
      return t;
    },
  };
}

export const BACKEND_KINDS: BackendKind[] = [
  {
    name: "memory",
    create: () => {
      const backend = new MemoryBackend();
      return Promise.resolve({
        backend,
        reopen: () => Promise.resolve(backend),
        cleanup: () => backend.close(),
      });
    },
  },
  lmdbKind("lmdb", { durability: "lazy" }),
  // Batched as the server runs it, but committing every 3 writes or 5 ms so tests cross commits.
  lmdbKind("lmdb-batched", { durability: "lazy", batch: { intervalMs: 5, limit: 3 } }),
];

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
