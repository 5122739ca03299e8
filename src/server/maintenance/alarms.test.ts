import { test } from "node:test";
import assert from "node:assert/strict";
import { BACKEND_KINDS } from "../../mvcc/test-backends.js";
import { AlarmAction, AlarmType } from "../member-api.js";
import { AlarmStore } from "./alarms.js";

for (const kind of BACKEND_KINDS) {
  test(
    `alarm store on ${kind.name}: activate, list, deactivate, survive reopen`,
    { timeout: 10_000 },
    async () => {
      const t = await kind.create();
      try {
        let store = new AlarmStore(t.backend);
        const r1 = t.backend.writeTxn(() =>
          store.apply({ action: AlarmAction.ACTIVATE, memberId: 7n, alarm: AlarmType.NOSPACE }),
        );
        assert.deepEqual(r1, {
          alarms: [{ memberId: 7n, alarm: AlarmType.NOSPACE }],
          raised: AlarmType.NOSPACE,
        });
        // A second member's NOSPACE is not "raised" again (etcd logs/switches only on the first).
        const r2 = t.backend.writeTxn(() =>
          store.apply({ action: AlarmAction.ACTIVATE, memberId: 3n, alarm: AlarmType.NOSPACE }),
        );
        assert.equal(r2.raised, undefined);
        t.backend.writeTxn(() => store.activate(2n ** 64n - 1n, AlarmType.CORRUPT));
        assert.equal(store.has(AlarmType.CORRUPT), true);
        assert.deepEqual(store.list(AlarmType.NOSPACE), [
          { memberId: 3n, alarm: AlarmType.NOSPACE },
          { memberId: 7n, alarm: AlarmType.NOSPACE },
        ]);
        assert.equal(store.list().length, 3);
        assert.deepEqual(store.statusErrors()[0], "memberID:3 alarm:NOSPACE ");

        const backend = await t.reopen();
        store = new AlarmStore(backend);
        assert.equal(store.list().length, 3);
        assert.deepEqual(store.list(AlarmType.CORRUPT), [
          { memberId: 2n ** 64n - 1n, alarm: AlarmType.CORRUPT },
        ]);

        const d1 = backend.writeTxn(() =>
          store.apply({ action: AlarmAction.DEACTIVATE, memberId: 7n, alarm: AlarmType.NOSPACE }),
        );
        assert.deepEqual(d1, { alarms: [{ memberId: 7n, alarm: AlarmType.NOSPACE }] });
        const d2 = backend.writeTxn(() =>
          store.apply({ action: AlarmAction.DEACTIVATE, memberId: 3n, alarm: AlarmType.NOSPACE }),
        );
        assert.equal(d2.cleared, AlarmType.NOSPACE);
        const d3 = backend.writeTxn(() =>
          store.apply({ action: AlarmAction.DEACTIVATE, memberId: 3n, alarm: AlarmType.NOSPACE }),
        );
        assert.deepEqual(d3, { alarms: [] });
        assert.equal(store.has(AlarmType.NOSPACE), false);
        assert.deepEqual(
          store.apply({ action: AlarmAction.GET, memberId: 0n, alarm: AlarmType.NONE }).alarms,
          [{ memberId: 2n ** 64n - 1n, alarm: AlarmType.CORRUPT }],
        );
      } finally {
        await t.cleanup();
      }
    },
  );

  test(
    `alarm store on ${kind.name}: an aborted apply txn is undone by reload()`,
    { timeout: 10_000 },
    async () => {
      const t = await kind.create();
      try {
        const store = new AlarmStore(t.backend);
        assert.throws(() =>
          t.backend.writeTxn(() => {
            store.activate(1n, AlarmType.NOSPACE);
            assert.equal(store.has(AlarmType.NOSPACE), true);
            throw new Error("apply failed");
          }),
        );
        store.reload();
        assert.equal(store.has(AlarmType.NOSPACE), false);
      } finally {
        await t.cleanup();
      }
    },
  );
}
