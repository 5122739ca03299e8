// Test support: the two Backend implementations behind one factory, so suites run on both.
// LMDB instances live in temp dirs removed by cleanup().

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Backend } from "./backend.js";
import { openLmdbBackend } from "./lmdb-backend.js";
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
  {
    name: "lmdb",
    create: async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-mvcc-"));
      const t: TestBackend = {
        backend: openLmdbBackend(dir, { durability: "lazy" }),
        reopen: async () => {
          await t.backend.close();
          t.backend = openLmdbBackend(dir, { durability: "lazy" });
          return t.backend;
        },
        cleanup: async () => {
          await t.backend.close();
          await fs.rm(dir, { recursive: true, force: true });
        },
      };
      return t;
    },
  },
];

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
