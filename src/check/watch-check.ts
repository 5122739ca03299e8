// Checks what watchers saw against each other and against the writes clients made:
// - each watcher's events are in revision order, with no duplicate and no revision split across
//   two responses, and none before the revision it asked to start from;
// - no gap: every change under a watcher's prefix between its start and the last revision it saw
//   (as any other watcher or an acknowledged write shows it) reached it, including across resumes;
// - all watchers agree on what happened at each revision;
// - prev_kv is the key's previous value in that agreed history;
// - every event is a write some client made (a put of that value, or a delete), and every
//   acknowledged write appears at the revision its response named (otherwise it is counted lost).

export interface SeenEvent {
  revision: number;
  type: "PUT" | "DELETE";
  key: string;
  /** The value put (PUT) or null (DELETE). */
  value: string | null;
  /** With prev_kv: the previous value, null when the key did not exist; undefined when not asked. */
  prevValue?: string | null;
}

export interface WatcherRecord {
  id: number;
  prefix: string;
  /** The revision the watcher (re)started from. */
  startRevision: number;
  prevKv: boolean;
  /** Responses in arrival order (a resume continues the same list). */
  responses: SeenEvent[][];
}

export interface AcknowledgedWrite {
  key: string;
  /** null for a delete. */
  value: string | null;
  /** Revision from the response header. */
  revision: number;
}

export interface WatchCheckResult {
  violations: string[];
  /** Acknowledged writes missing from the agreed history (where a watcher covered them). */
  lost: AcknowledgedWrite[];
  events: number;
}

export function checkWatches(
  watchers: WatcherRecord[],
  writes: { acknowledged: AcknowledgedWrite[]; attemptedValues: ReadonlySet<string> },
): WatchCheckResult {
  const violations: string[] = [];
  const truth = new Map<number, Map<string, SeenEvent>>();
  let events = 0;

  for (const w of watchers) {
    let lastRev = 0;
    const seen = new Set<string>();
    const revisionInResponse = new Map<number, number>();
    w.responses.forEach((resp, ri) => {
      for (const ev of resp) {
        events++;
        if (ev.revision < w.startRevision) {
          violations.push(
            `watcher ${w.id}: event at revision ${ev.revision} before its start ${w.startRevision}`,
          );
        }
        if (ev.revision < lastRev) {
          violations.push(`watcher ${w.id}: revision ${ev.revision} after ${lastRev} (out of order)`);
        }
        lastRev = Math.max(lastRev, ev.revision);
        const id = `${ev.revision}/${ev.key}`;
        if (seen.has(id))
          violations.push(`watcher ${w.id}: duplicate event for ${ev.key} at revision ${ev.revision}`);
        seen.add(id);
        const where = revisionInResponse.get(ev.revision);
        if (where !== undefined && where !== ri) {
          violations.push(`watcher ${w.id}: revision ${ev.revision} split across two responses`);
        }
        revisionInResponse.set(ev.revision, ri);
        if (!ev.key.startsWith(w.prefix))
          violations.push(`watcher ${w.id}: event for ${ev.key} outside ${w.prefix}`);
        let atRev = truth.get(ev.revision);
        if (atRev === undefined) truth.set(ev.revision, (atRev = new Map()));
        const other = atRev.get(ev.key);
        if (other === undefined) atRev.set(ev.key, ev);
        else if (other.type !== ev.type || other.value !== ev.value) {
          violations.push(
            `watchers disagree at revision ${ev.revision} on ${ev.key}: ${other.type} ${other.value} vs ${ev.type} ${ev.value}`,
          );
        }
        if (ev.type === "PUT" && ev.value !== null && !writes.attemptedValues.has(ev.value)) {
          violations.push(
            `watcher ${w.id}: ${ev.key} = ${ev.value} at revision ${ev.revision} was never written`,
          );
        }
      }
    });
  }

  // Acknowledged writes belong in the agreed history at their revision.
  const lost: AcknowledgedWrite[] = [];
  const covered = (key: string, revision: number): boolean =>
    watchers.some(
      (w) => key.startsWith(w.prefix) && w.startRevision <= revision && lastRevisionOf(w) >= revision,
    );
  for (const a of writes.acknowledged) {
    if (!covered(a.key, a.revision)) continue;
    const ev = truth.get(a.revision)?.get(a.key);
    if (ev === undefined) lost.push(a);
    else if (ev.value !== a.value) {
      violations.push(
        `revision ${a.revision}: ${a.key} acknowledged as ${a.value} but watched as ${ev.value}`,
      );
    }
  }

  // No gaps: each watcher has every agreed event in its prefix between its start and its last revision.
  for (const w of watchers) {
    const last = lastRevisionOf(w);
    const mine = new Set(w.responses.flat().map((e) => `${e.revision}/${e.key}`));
    for (const [rev, byKey] of truth) {
      if (rev < w.startRevision || rev > last) continue;
      for (const key of byKey.keys()) {
        if (key.startsWith(w.prefix) && !mine.has(`${rev}/${key}`)) {
          violations.push(`watcher ${w.id}: missed ${key} at revision ${rev} (gap)`);
        }
      }
    }
  }

  // prev_kv: the previous value in the agreed history, when that history reaches back far enough.
  const earliest = Math.min(...watchers.map((w) => w.startRevision), Infinity);
  const revisions = [...truth.keys()].sort((a, b) => a - b);
  const before = new Map<string, Map<number, string | null>>();
  const current = new Map<string, string | null>();
  for (const rev of revisions) {
    for (const [key, ev] of truth.get(rev) as Map<string, SeenEvent>) {
      let m = before.get(key);
      if (m === undefined) before.set(key, (m = new Map()));
      m.set(rev, current.has(key) ? (current.get(key) as string | null) : null);
      current.set(key, ev.value);
    }
  }
  if (earliest <= 1) {
    for (const w of watchers) {
      if (!w.prevKv) continue;
      for (const ev of w.responses.flat()) {
        if (ev.prevValue === undefined) continue;
        const expected = before.get(ev.key)?.get(ev.revision);
        if (expected !== undefined && expected !== ev.prevValue) {
          violations.push(
            `watcher ${w.id}: prev_kv of ${ev.key} at revision ${ev.revision} is ${ev.prevValue}, the history says ${expected}`,
          );
        }
      }
    }
  }
  return { violations, lost, events };
}

function lastRevisionOf(w: WatcherRecord): number {
  let last = 0;
  for (const resp of w.responses) for (const e of resp) last = Math.max(last, e.revision);
  return last;
}
