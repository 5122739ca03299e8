// The watch checker on small cases: a clean pair of watchers, then one defect at a time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkWatches, type SeenEvent, type WatcherRecord } from "./watch-check.js";

const put = (revision: number, key: string, value: string, prevValue?: string | null): SeenEvent => ({
  revision,
  type: "PUT",
  key,
  value,
  ...(prevValue !== undefined ? { prevValue } : {}),
});
const del = (revision: number, key: string, prevValue?: string | null): SeenEvent => ({
  revision,
  type: "DELETE",
  key,
  value: null,
  ...(prevValue !== undefined ? { prevValue } : {}),
});

const writes = {
  acknowledged: [
    { key: "a", value: "1", revision: 2 },
    { key: "b", value: "2", revision: 3 },
    { key: "a", value: null, revision: 4 },
  ],
  attemptedValues: new Set(["1", "2", "3"]),
};

function watcher(id: number, responses: SeenEvent[][], startRevision = 1, prefix = ""): WatcherRecord {
  return { id, prefix, startRevision, prevKv: true, responses };
}

const clean = () => [
  watcher(1, [[put(2, "a", "1", null)], [put(3, "b", "2", null), del(4, "a", "1")]]),
  watcher(2, [[put(3, "b", "2", null)], [del(4, "a", "1")]], 3),
];

test("watchers that saw the same complete history pass", () => {
  const r = checkWatches(clean(), writes);
  assert.deepEqual(r.violations, []);
  assert.deepEqual(r.lost, []);
  assert.equal(r.events, 5);
});

test("a gap, a duplicate, reordering and a split revision are reported", () => {
  const gap = clean();
  gap[1] = watcher(2, [[del(4, "a", "1")]], 3);
  assert.match(checkWatches(gap, writes).violations.join("\n"), /watcher 2: missed b at revision 3 \(gap\)/);

  const dup = clean();
  dup[0]!.responses.push([del(4, "a", "1")]);
  assert.match(checkWatches(dup, writes).violations.join("\n"), /duplicate event for a at revision 4/);

  const order = [watcher(1, [[put(3, "b", "2", null)], [put(2, "a", "1", null)], [del(4, "a", "1")]])];
  assert.match(checkWatches(order, writes).violations.join("\n"), /revision 2 after 3 \(out of order\)/);

  const split = [
    watcher(1, [
      [put(2, "a", "1", null)],
      [put(3, "b", "2", null)],
      [put(3, "c", "3", null), del(4, "a", "1")],
    ]),
  ];
  assert.match(
    checkWatches(split, { ...writes }).violations.join("\n"),
    /revision 3 split across two responses/,
  );
});

test("wrong prev_kv, a value never written, disagreement and a lost write are reported", () => {
  const prev = clean();
  prev[0] = watcher(1, [[put(2, "a", "1", null)], [put(3, "b", "2", null), del(4, "a", "0")]]);
  assert.match(
    checkWatches(prev, writes).violations.join("\n"),
    /prev_kv of a at revision 4 is 0, the history says 1/,
  );

  const ghost = [watcher(1, [[put(2, "a", "ghost", null)]])];
  assert.match(
    checkWatches(ghost, writes).violations.join("\n"),
    /a = ghost at revision 2 was never written/,
  );

  const disagree = clean();
  disagree[1] = watcher(2, [[put(3, "b", "3", null)], [del(4, "a", "1")]], 3);
  assert.match(checkWatches(disagree, writes).violations.join("\n"), /watchers disagree at revision 3 on b/);

  const lostWrite = [watcher(1, [[put(2, "a", "1", null)], [del(4, "a", "1")]])];
  const r = checkWatches(lostWrite, writes);
  assert.deepEqual(r.lost, [{ key: "b", value: "2", revision: 3 }]);
});
