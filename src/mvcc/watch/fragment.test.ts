// Encoded-size arithmetic (checked against hand-computed protobuf sizes) and etcd's fragment split.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventType, type MvccEvent } from "../types.js";
import { encodedSize, eventFieldSize, fragmentResponse } from "./fragment.js";
import { eventsResponse } from "./responses.js";

function put(key: string, valueLen: number, rev: number): MvccEvent {
  return {
    type: EventType.PUT,
    kv: {
      key: new TextEncoder().encode(key),
      createRevision: rev,
      modRevision: rev,
      version: 1,
      value: new Uint8Array(valueLen),
      lease: 0n,
    },
  };
}

test("event size follows the protobuf layout", () => {
  // kv: key (1+1+1) + create (1+1) + mod (1+1) + version (1+1) + value 200 (1+2+200) = 212
  // event: type PUT omitted, kv field 1+2+212 = 215; as a response field 1+2+215 = 218
  assert.equal(eventFieldSize(put("a", 200, 5)), 218);
  // header: revision 5 (1+1) + 33 bound = 35 -> 1+1+35 = 37; watch id 3 -> 2
  assert.equal(encodedSize(eventsResponse(3, 5, [])), 39);
});

test("no split below the limit or with a single event", () => {
  assert.equal(fragmentResponse(eventsResponse(1, 5, [put("a", 10, 5), put("b", 10, 5)]), 1000).length, 1);
  assert.equal(fragmentResponse(eventsResponse(1, 5, [put("a", 5000, 5)]), 1000).length, 1);
});

test("splits into parts under the limit, keeps order, marks all but the last", () => {
  const events = Array.from({ length: 10 }, (_, i) => put(`k${i}`, 200, 7));
  const parts = fragmentResponse(eventsResponse(1, 7, events), 1000);
  assert.ok(parts.length > 1);
  assert.deepEqual(
    parts.flatMap((p) => p.events),
    events,
  );
  assert.deepEqual(
    parts.map((p) => p.fragment),
    [...parts.slice(1).map(() => true), false],
  );
  for (const p of parts) assert.ok(encodedSize(p) < 1000 || p.events.length === 1);
  for (const p of parts) assert.equal(p.header.revision, 7);
});
