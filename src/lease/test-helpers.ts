// Helpers shared by the lease tests: byte keys from strings, a lessor on a manual clock, and the
// two MVCC backends (re-exported from the MVCC test support).

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

// The backend factory is the MVCC module's own test support, so both modules' suites run on the
// same two backends.
export { BACKEND_KINDS as BACKENDS, type TestBackend } from "../mvcc/test-backends.js";
