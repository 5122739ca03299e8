// Finds the watchers whose range contains a key without scanning all of them: single-key watchers
// in a map by key, prefix watchers in a map by prefix (probed once per distinct prefix length in
// use), and general ranges and from-key watchers in a sorted range list (range-list.ts).
import type { KeyRange } from "./key-range.js";
import { RangeList } from "./range-list.js";

export interface Indexed {
  readonly range: KeyRange;
}

export class WatcherIndex<W extends Indexed> {
  private readonly byKey = new Map<string, Set<W>>();
  private readonly byPrefix = new Map<string, Set<W>>();
  /** prefix length → number of prefix watchers with that length. */
  private readonly prefixLengths = new Map<number, number>();
  private readonly others = new RangeList<W>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(w: W): void {
    const r = w.range;
    if (r.kind === "single") addTo(this.byKey, r.startString, w);
    else if (r.kind === "prefix") {
      addTo(this.byPrefix, r.startString, w);
      const len = r.start.length;
      this.prefixLengths.set(len, (this.prefixLengths.get(len) ?? 0) + 1);
    } else this.others.add(r.start, r.kind === "fromKey" ? null : r.end, w);
    this.count++;
  }

  remove(w: W): void {
    const r = w.range;
    let removed: boolean;
    if (r.kind === "single") removed = removeFrom(this.byKey, r.startString, w);
    else if (r.kind === "prefix") {
      removed = removeFrom(this.byPrefix, r.startString, w);
      if (removed) {
        const len = r.start.length;
        const left = (this.prefixLengths.get(len) ?? 1) - 1;
        if (left === 0) this.prefixLengths.delete(len);
        else this.prefixLengths.set(len, left);
      }
    } else removed = this.others.remove(r.start, w);
    if (removed) this.count--;
  }

  /** Calls `visit` once for every indexed watcher whose range contains `key`. */
  forEachMatch(key: Uint8Array, keyStr: string, visit: (w: W) => void): void {
    const exact = this.byKey.get(keyStr);
    if (exact) for (const w of exact) visit(w);
    if (this.prefixLengths.size > 0) {
      for (const len of this.prefixLengths.keys()) {
        if (len > keyStr.length) continue;
        const set = this.byPrefix.get(len === keyStr.length ? keyStr : keyStr.slice(0, len));
        if (set) for (const w of set) visit(w);
      }
    }
    this.others.forEachContaining(key, visit);
  }
}

function addTo<W>(map: Map<string, Set<W>>, k: string, w: W): void {
  let set = map.get(k);
  if (!set) map.set(k, (set = new Set()));
  set.add(w);
}

function removeFrom<W>(map: Map<string, Set<W>>, k: string, w: W): boolean {
  const set = map.get(k);
  if (!set || !set.delete(w)) return false;
  if (set.size === 0) map.delete(k);
  return true;
}
