import { test } from "node:test";
import assert from "node:assert/strict";
import { delayTable, parseTimehist } from "./sched-delays.js";

// The shape of `perf sched timehist` output: a header, then time [cpu] task wait sch-delay run.
const TIMEHIST = `           time    cpu  task name                       wait time  sch delay   run time
                        [tid/pid]                          (msec)     (msec)     (msec)
--------------- ------  ------------------------------  ---------  ---------  ---------
   45534.281541 [0000]  node[100]                           0.000      0.081      3.427
   45534.284394 [0001]  node[101/100]                       0.006      1.500      2.845
   45534.284430 [0000]  node[100]                           0.000      2.500      0.036
   45534.289562 [0000]  etcd[200/199]                       0.036      0.000      5.131
   45534.289572 [0001]  kworker/1:1H-kb[58]                 8.014      0.009      0.010
`;

test("timehist lines become per-thread scheduling delays and CPU time, filtered by process", () => {
  const all = parseTimehist(TIMEHIST, new Set());
  assert.deepEqual([...all.keys()], ["node[100]", "node[101/100]", "etcd[200/199]", "kworker/1:1H-kb[58]"]);
  assert.deepEqual(all.get("node[100]"), { delays: [0.081, 2.5], runMs: 3.463 });
  const server = parseTimehist(TIMEHIST, new Set(["100"]));
  assert.deepEqual([...server.keys()], ["node[100]", "node[101/100]"]);
  const table = delayTable(server).split("\n");
  assert.equal(table.length, 4);
  // Busiest first; node[100] had one delay over 1 ms and over 2 ms, node[101/100] one over 1 ms.
  assert.equal(table[2], "| node[100] | 2 | 3 | 2.500 | 2.500 | 2.50 | 1 | 1 |");
  assert.equal(table[3], "| node[101/100] | 1 | 3 | 1.500 | 1.500 | 1.50 | 1 | 0 |");
});
