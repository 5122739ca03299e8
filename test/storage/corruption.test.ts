// Corruption tests: damage copies of a data dir (flip bytes, zero a sector, truncate, plant a stale
// record) and check that recovery either repairs a torn tail or refuses with a precise error
// naming the file, and never returns data that differs from what was written.
// Random trials are seeded: replay with KVORUM_SEED=<seed>.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cp, open, readdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import {
  SnapshotCorruptionError,
  StorageInconsistentError,
  WalCorruptionError,
} from "../../src/storage/errors.js";
import { DurableLogStore, storagePaths } from "../../src/storage/raft-log-store.js";
import { tempDir } from "../../src/storage/store-factories.test-util.js";
import { EntryType, type Entry, type HardState } from "../../src/raft/types.js";

const seed = process.env.KVORUM_SEED ? Number(process.env.KVORUM_SEED) : Date.now() % 2 ** 31;
console.log(`corruption test seed: ${seed} (replay with KVORUM_SEED=${seed})`);

const SEGMENT = 4096;
const conf = { voters: ["a", "b", "c"], learners: [] };

interface Truth {
  final: Map<number, Entry>;
  snapshots: Map<number, Uint8Array>;
  hardStates: Set<string>;
  lastIndex: number;
}

/** Deterministic pseudo-random bytes with no zero byte (so damage never looks like a torn write). */
function payload(index: number, term: number): Uint8Array {
  const len = 20 + ((index * 37 + term * 11) % 180);
  const out = new Uint8Array(len);
  let x = (index * 2654435761 + term) >>> 0;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = 1 + ((x >>> 16) % 255);
  }
  return out;
}

function ent(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: payload(index, term) };
}

async function buildDataDir(dir: string): Promise<Truth> {
  const truth: Truth = { final: new Map(), snapshots: new Map(), hardStates: new Set(), lastIndex: 0 };
  const hs = (h: HardState): HardState => {
    truth.hardStates.add(JSON.stringify(h));
    return h;
  };
  truth.hardStates.add(JSON.stringify({ term: 0, vote: "", commit: 0 }));
  const s = await DurableLogStore.open(dir, {
    bootstrap: conf,
    segmentSize: SEGMENT,
    catchUpEntries: 20,
    logger: { warn() {} },
  });
  const put = async (from: number, to: number, term: number, commit: number): Promise<void> => {
    const es: Entry[] = [];
    for (let i = from; i <= to; i++) es.push(ent(i, term));
    for (const e of es) truth.final.set(e.index, e);
    for (let i = to + 1; i <= truth.lastIndex; i++) truth.final.delete(i);
    truth.lastIndex = to;
    await s.save({ entries: es, hardState: hs({ term, vote: "a", commit }) }, true);
  };
  for (let i = 1; i <= 300; i += 5) await put(i, i + 4, 1, i - 1);
  truth.snapshots.set(150, (await s.createSnapshot(150, conf, payload(150, 99))).data);
  await put(290, 320, 2, 289);
  truth.snapshots.set(250, (await s.createSnapshot(250, conf, payload(250, 99))).data);
  for (let i = 321; i <= 500; i += 3) await put(i, i + 2, 2, i - 1);
  await s.close();
  return truth;
}

/** Opening `dir` must either fail with a storage error naming a file, or return only true data. */
async function checkRecovery(dir: string, truth: Truth, what: string): Promise<"ok" | "refused"> {
  let s: DurableLogStore;
  try {
    s = await DurableLogStore.open(dir, { segmentSize: SEGMENT, logger: { warn() {} } });
  } catch (err) {
    if (err instanceof WalCorruptionError) {
      assert.match(err.message, /\.wal at offset \d+/, what);
      return "refused";
    }
    if (err instanceof SnapshotCorruptionError || err instanceof StorageInconsistentError) return "refused";
    throw new Error(`${what}: unexpected error ${String(err)}`, { cause: err });
  }
  try {
    assert.ok(s.lastIndex() <= truth.lastIndex, `${what}: last index grew`);
    if (s.lastIndex() >= s.firstIndex()) {
      for (const e of s.entries(s.firstIndex(), s.lastIndex() + 1)) {
        assert.deepEqual(e, truth.final.get(e.index), `${what}: entry ${e.index} differs`);
      }
    }
    const snap = s.snapshot();
    assert.deepEqual(snap.data, truth.snapshots.get(snap.metadata.index), `${what}: snapshot differs`);
    assert.ok(
      truth.hardStates.has(JSON.stringify(s.initialState().hardState)),
      `${what}: unknown hard state`,
    );
    assert.ok(s.initialState().hardState.commit <= s.lastIndex(), `${what}: commit beyond the log`);
  } finally {
    await s.close();
  }
  return "ok";
}

async function files(dir: string): Promise<string[]> {
  const { walDir, snapDir } = storagePaths(dir);
  const wal = (await readdir(walDir))
    .filter((n) => n.endsWith(".wal"))
    .sort()
    .map((n) => join(walDir, n));
  const snap = (await readdir(snapDir))
    .filter((n) => n.endsWith(".snap"))
    .sort()
    .map((n) => join(snapDir, n));
  return [...wal, ...snap];
}

/** Offset just past the last nonzero byte of a file. */
async function dataEnd(path: string): Promise<number> {
  const buf = await readFile(path);
  let i = buf.length;
  while (i > 0 && buf[i - 1] === 0) i--;
  return i;
}

describe("recovery from damaged data dirs", () => {
  let root: { dir: string; remove: () => Promise<void> };
  let pristine: string;
  let truth: Truth;
  let copies = 0;
  const copy = async (): Promise<string> => {
    const d = join(root.dir, `copy-${copies++}`);
    await cp(pristine, d, { recursive: true });
    return d;
  };

  before(async () => {
    root = await tempDir("kvorum-corrupt-");
    pristine = join(root.dir, "pristine");
    truth = await buildDataDir(pristine);
  });
  after(() => root.remove());

  test("the undamaged dir recovers everything", async () => {
    const d = await copy();
    assert.equal(await checkRecovery(d, truth, "pristine"), "ok");
    const s = await DurableLogStore.open(d, { segmentSize: SEGMENT, logger: { warn() {} } });
    assert.equal(s.lastIndex(), 500);
    assert.equal(s.snapshot().metadata.index, 250);
    await s.close();
  });

  test("a torn final record is truncated with a warning naming file and offset", async () => {
    const d = await copy();
    const wal = (await files(d)).filter((f) => f.endsWith(".wal"));
    const last = wal[wal.length - 1]!;
    const end = await dataEnd(last);
    await truncate(last, end - 40); // into the last entry (the hard state record after it is 33 bytes)
    const warnings: string[] = [];
    const s = await DurableLogStore.open(d, {
      segmentSize: SEGMENT,
      logger: { warn: (m) => warnings.push(m) },
    });
    assert.equal(s.lastIndex(), 499, "only the last entry (a torn write) is lost");
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.includes(last) && /offset \d+/.test(warnings[0]!), warnings[0]);
    await s.save({ entries: [ent(500, 2), ent(501, 2)] }, true);
    await s.close();
    const again = await DurableLogStore.open(d, {
      segmentSize: SEGMENT,
      logger: { warn: (m) => warnings.push(m) },
    });
    assert.equal(again.lastIndex(), 501);
    assert.equal(warnings.length, 1, "the repair is durable: no second warning");
    await again.close();
  });

  test("an unwritten sector inside the last record counts as torn", async () => {
    const d = await copy();
    const wal = (await files(d)).filter((f) => f.endsWith(".wal"));
    const last = wal[wal.length - 1]!;
    const end = await dataEnd(last);
    const fh = await open(last, "r+");
    const sector = Math.floor((end - 1) / 512) * 512;
    await fh.write(Buffer.alloc(end - sector), 0, end - sector, sector);
    await fh.close();
    assert.equal(await checkRecovery(d, truth, "zeroed sector"), "ok");
  });

  test("a checksum failure before the end stops recovery with file and offset", async () => {
    const d = await copy();
    const wal = (await files(d)).filter((f) => f.endsWith(".wal"));
    const victim = wal[1]!;
    const buf = await readFile(victim);
    buf[200] ^= 0x01;
    await writeFile(victim, buf);
    await assert.rejects(
      DurableLogStore.open(d, { segmentSize: SEGMENT, logger: { warn() {} } }),
      (err: unknown) => {
        assert.ok(err instanceof WalCorruptionError);
        assert.equal(err.file, victim);
        assert.ok(err.offset <= 200 && err.offset > 0, `offset ${err.offset}`);
        return true;
      },
    );
  });

  test("a stale record copied from an older segment is not accepted as new", async () => {
    const d = await copy();
    const wal = (await files(d)).filter((f) => f.endsWith(".wal"));
    const old = await readFile(wal[0]!);
    const last = wal[wal.length - 1]!;
    const end = await dataEnd(last);
    const fh = await open(last, "r+");
    // The first segment's bytes after its header: whole, valid records of an older position.
    await fh.write(old, 100, 1500, end);
    await fh.close();
    const outcome = await checkRecovery(d, truth, "stale record");
    if (outcome === "ok") {
      const s = await DurableLogStore.open(d, { segmentSize: SEGMENT, logger: { warn() {} } });
      assert.equal(s.lastIndex(), 500);
      await s.close();
    }
  });

  test("random byte flips and truncations never yield wrong data", async () => {
    let refused = 0;
    let repaired = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(1000),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 255 }),
        async (fileSel, where, mode, mask) => {
          const d = await copy();
          const all = await files(d);
          const target = all[fileSel % all.length]!;
          const size = (await stat(target)).size;
          const end = mode === 2 ? size : await dataEnd(target);
          const at = Math.min(Math.floor(where * end), Math.max(0, end - 1));
          let what: string;
          if (mode === 0 || mode === 2) {
            const buf = await readFile(target);
            buf[at] = buf[at]! ^ mask;
            await writeFile(target, buf);
            what = `flip ${mask} at ${target}:${at}`;
          } else {
            await truncate(target, at);
            what = `truncate ${target} to ${at}`;
          }
          const outcome = await checkRecovery(d, truth, what);
          if (outcome === "refused") refused++;
          else repaired++;
        },
      ),
      { seed, numRuns: 60 },
    );
    console.log(`corruption trials: ${refused} refused, ${repaired} recovered`);
    assert.ok(refused > 0);
  });
});
