// The manual scheduler twin: deferred tasks run only on demand; periodic tasks fire with time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualScheduler } from "./manual-scheduler.js";

test("deferred tasks wait for runOnce/runAll; periodic tasks follow advance()", () => {
  const s = new ManualScheduler();
  const log: string[] = [];
  s.defer(() => {
    log.push("a");
    s.defer(() => log.push("b"));
  });
  assert.equal(log.length, 0);
  assert.equal(s.runOnce(), 1);
  assert.deepEqual(log, ["a"]);
  s.runAll();
  assert.deepEqual(log, ["a", "b"]);
  const stop = s.every(100, () => log.push(`t${s.now}`));
  s.advance(250);
  assert.deepEqual(log.slice(2), ["t100", "t200"]);
  stop();
  s.advance(1000);
  assert.equal(log.length, 4);
});

test("runAll reports a livelock instead of spinning forever", () => {
  const s = new ManualScheduler();
  const again = (): void => s.defer(again);
  s.defer(again);
  assert.throws(() => s.runAll(50), /still pending/);
});
