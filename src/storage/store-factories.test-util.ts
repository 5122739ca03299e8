// Test helpers shared by the storage test files: factories that open each RaftLogStore
// implementation the same way, so one contract suite runs against both, and a temp dir helper.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DurableLogStore, MemoryRaftLogStore, type RaftLogStore } from "./raft-log-store.js";
import { EntryType, type ConfState, type Entry } from "../raft/types.js";

export interface StoreFactory {
  name: string;
  open(bootstrap: ConfState, catchUpEntries: number): Promise<RaftLogStore>;
  /** Close and reopen (the durable store recovers from disk; the memory twin stays as it is). */
  restart(store: RaftLogStore): Promise<RaftLogStore>;
  cleanup(): Promise<void>;
}

export const quietLogger = { warn: (): void => undefined };

export function memoryFactory(): StoreFactory {
  return {
    name: "MemoryRaftLogStore",
    open: async (bootstrap, catchUpEntries) => new MemoryRaftLogStore(bootstrap, { catchUpEntries }),
    restart: async (store) => store,
    cleanup: async () => undefined,
  };
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function durableFactory(segmentSize = 4096): StoreFactory {
  const dirs: string[] = [];
  let opts = { catchUpEntries: 0, bootstrap: { voters: [], learners: [] } as ConfState };
  let dataDir = "";
  return {
    name: "DurableLogStore",
    async open(bootstrap, catchUpEntries) {
      const t = await tempDir("kvorum-store-");
      dirs.push(t.dir);
      dataDir = t.dir;
      opts = { catchUpEntries, bootstrap };
      return DurableLogStore.open(dataDir, { ...opts, segmentSize, logger: quietLogger });
    },
    async restart(store) {
      await store.close();
      return DurableLogStore.open(dataDir, { ...opts, segmentSize, logger: quietLogger });
    },
    async cleanup() {
      for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
    },
  };
}

export function entry(index: number, term: number, data?: Uint8Array): Entry {
  return {
    index,
    term,
    type: EntryType.Normal,
    data: data ?? new Uint8Array([index & 0xff, term & 0xff, 7]),
  };
}

export function range(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}
