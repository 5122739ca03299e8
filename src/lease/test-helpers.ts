// Helpers shared by the lease tests: byte keys from strings, a lessor on a manual clock, and the
// two MVCC backends (in memory; LMDB in a temp dir that cleanup() removes) behind one factory.

import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { MemoryBackend, openLmdbBackend, type Backend } from "../mvcc/index.js";
import { ManualClock } from "./clock.js";
import { MemoryLeaseStore, type LeaseStore } from "./lease-store.js";
import { Lessor, type LessorOptions } from "./lessor.js";

export const k = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array): string => new TextDecoder().decode(b);

export function manualLessor(opts: Partial<LessorOptions> = {}): {
  lessor: Lessor;
  clock: ManualClock;
  store: LeaseStore;
} {
  const clock = opts.clock instanceof ManualClock ? opts.clock : new ManualClock(1_000_000);
  const store = opts.store ?? new MemoryLeaseStore();
  const lessor = new Lessor({ ...opts, clock, store });
  return { lessor, clock, store };
}

export interface TestBackend {
  backend: Backend;
  /** Closes and opens the same data again (memory: the same instance, nothing to reload). */
  reopen(): Promise<Backend>;
  cleanup(): Promise<void>;
}

export const BACKENDS: { name: string; create(): Promise<TestBackend> }[] = [
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
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), "kvorum-lease-"));
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
