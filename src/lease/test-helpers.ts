// Helpers shared by the lease tests: byte keys from strings and a lessor on a manual clock.

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
  const clock = new ManualClock(1_000_000);
  const store = opts.store ?? new MemoryLeaseStore();
  const lessor = new Lessor({ clock, ...opts, store });
  return { lessor, clock, store };
}
