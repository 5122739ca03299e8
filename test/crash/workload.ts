// The crash test's deterministic workload: entry and snapshot contents derived from (index, term),
// so any entry read back after a crash can be checked on its own, and a small seeded PRNG.

import { EntryType, type Entry } from "../../src/raft/types.js";

export const CRASH_CONF = { voters: ["n1"], learners: [] };
export const CRASH_SEGMENT_SIZE = 256 * 1024;
export const CRASH_CATCH_UP = 500;

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function entryPayload(index: number, term: number): Uint8Array {
  const rnd = prng(index * 7919 + term * 104729);
  const out = new Uint8Array(16 + Math.floor(rnd() * 400));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rnd() * 256);
  return out;
}

export function crashEntry(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: entryPayload(index, term) };
}

export function snapshotPayload(index: number, term: number): Uint8Array {
  return new TextEncoder().encode(`snapshot of ${index}@${term}`);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
