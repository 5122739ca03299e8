// Child process of crash.test.ts: opens the LMDB store in argv[2] and applies workload entries
// after its applied index until killed. Prints "ready" once it has applied its first entry.

import { applyEntry } from "./crash-workload.js";
import { openLmdbBackend } from "./lmdb-backend.js";
import { MvccStore } from "./store.js";

const dir = process.argv[2];
if (dir === undefined) throw new Error("usage: crash-child <dir> [sync|lazy]");
const durability = process.argv[3] === "lazy" ? "lazy" : "sync";
const store = MvccStore.open(openLmdbBackend(dir, { durability }));
let next = store.appliedIndex() + 1;
applyEntry(store, next++);
process.stdout.write("ready\n");
// Apply in bursts so the kill can land anywhere, including inside a write transaction.
const burst = (): void => {
  for (let n = 0; n < 50; n++) applyEntry(store, next++);
  setImmediate(burst);
};
burst();
