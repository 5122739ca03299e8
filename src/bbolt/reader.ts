// Reads a bbolt database file held in memory: picks the newest meta page whose magic, version and
// checksum are valid (as bbolt does when it opens a file), then walks buckets and iterates keys
// in order. check() verifies what `bbolt check` verifies about page usage: every page below the
// high-water mark is reachable exactly once or free, and every tree page is a branch or a leaf.

import {
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  ELEMENT_SIZE,
  metaProblem,
  NO_FREELIST,
  PAGE_HEADER_SIZE,
  PageFlag,
  readMeta,
  readPageHeader,
  type Meta,
} from "./layout.js";

export interface BoltItem {
  key: Buffer;
  value: Buffer;
  /** True when the value is a nested bucket's header. */
  isBucket: boolean;
}

/** A bucket's tree: its root page id, or (root 0) the image of an inline leaf page. */
type BucketRef = { root: number } | { inline: Buffer };

export class BoltReader {
  readonly meta: Meta;
  readonly pageSize: number;

  private constructor(
    private readonly data: Buffer,
    meta: Meta,
  ) {
    this.meta = meta;
    this.pageSize = meta.pageSize;
  }

  /** Opens a database image; throws bbolt's error text when no meta page is valid. */
  static open(data: Uint8Array): BoltReader {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (buf.length < 2 * PAGE_HEADER_SIZE) throw new Error("file size too small");
    // The page size is in meta 0; if meta 0 is damaged, bbolt tries the default page size.
    const first =
      metaProblem(buf, PAGE_HEADER_SIZE) === undefined ? readMeta(buf, PAGE_HEADER_SIZE) : undefined;
    const pageSize = first?.pageSize ?? 4096;
    const metas: Meta[] = [];
    let problem: string | undefined;
    for (const at of [0, pageSize]) {
      if (at + PAGE_HEADER_SIZE + 64 > buf.length) continue;
      const p = metaProblem(buf, at + PAGE_HEADER_SIZE);
      if (p === undefined) metas.push(readMeta(buf, at + PAGE_HEADER_SIZE));
      else problem ??= p;
    }
    if (metas.length === 0) throw new Error(problem ?? "invalid database");
    metas.sort((a, b) => (a.txid > b.txid ? -1 : a.txid < b.txid ? 1 : 0));
    const meta = metas[0]!;
    if (buf.length < meta.pgid * meta.pageSize)
      throw new Error(`file size ${buf.length} below high-water mark of ${meta.pgid} pages`);
    return new BoltReader(buf, meta);
  }

  /** Total bytes of the database as bbolt's Tx.Size() reports them: high-water pages x page size. */
  get size(): number {
    return this.meta.pgid * this.pageSize;
  }

  /** Names of the top-level buckets, in order. */
  bucketNames(): Buffer[] {
    const out: Buffer[] = [];
    for (const item of this.iterate({ root: this.meta.root })) if (item.isBucket) out.push(item.key);
    return out;
  }

  /** Entries of the top-level bucket `name` (nested buckets show as items with isBucket). */
  entries(name: Uint8Array | string): Iterable<BoltItem> {
    const ref = this.findBucket({ root: this.meta.root }, name);
    if (ref === undefined) throw new Error(`bbolt: bucket ${String(name)} not found`);
    return this.iterate(ref);
  }

  /** Entries of the bucket at path (names from the top), or undefined if there is no such bucket. */
  bucketAt(path: (Uint8Array | string)[]): Iterable<BoltItem> | undefined {
    let ref: BucketRef | undefined = { root: this.meta.root };
    for (const name of path) {
      ref = this.findBucket(ref, name);
      if (ref === undefined) return undefined;
    }
    return this.iterate(ref);
  }

  /** Levels of the top-level bucket's tree: 0 for an inline bucket, 1 for a single leaf page. */
  depth(name: Uint8Array | string): number {
    const ref = this.findBucket({ root: this.meta.root }, name);
    if (ref === undefined) throw new Error(`bbolt: bucket ${String(name)} not found`);
    if (!("root" in ref)) return 0;
    let levels = 1;
    for (let id = ref.root; (this.header(id).flags & PageFlag.branch) !== 0; levels++)
      id = this.branchChildren(id)[0]!.pgid;
    return levels;
  }

  /** Whether the top-level bucket is stored inline in the root bucket's leaf. */
  isInline(name: Uint8Array | string): boolean {
    return this.depth(name) === 0;
  }

  /** Every top-level bucket with its plain key/value entries, in order. */
  *walk(): Iterable<{ bucket: Buffer; key: Buffer; value: Buffer }> {
    for (const bucket of this.bucketNames())
      for (const item of this.entries(bucket))
        if (!item.isBucket) yield { bucket, key: item.key, value: item.value };
  }

  /** Problems with page usage, as bbolt's consistency check words them (empty when sound). */
  check(): string[] {
    const problems: string[] = [];
    const freed = new Set<number>();
    for (const id of this.freePages()) {
      if (freed.has(id)) problems.push(`page ${id}: already freed`);
      freed.add(id);
    }
    const reachable = new Set<number>([0, 1]);
    if (this.meta.freelist !== NO_FREELIST) {
      const fl = Number(this.meta.freelist);
      const h = this.header(fl);
      for (let i = 0; i <= h.overflow; i++) reachable.add(fl + i);
    }
    const visitBucket = (ref: BucketRef): void => {
      if (!("root" in ref)) {
        for (const item of this.iterate(ref)) if (item.isBucket) visitBucket(this.bucketRef(item.value));
        return;
      }
      const visitPage = (id: number): void => {
        const h = this.header(id);
        if (h.id > this.meta.pgid) problems.push(`page ${h.id}: out of bounds: ${this.meta.pgid}`);
        for (let i = 0; i <= h.overflow; i++) {
          if (reachable.has(h.id + i)) problems.push(`page ${h.id + i}: multiple references`);
          reachable.add(h.id + i);
        }
        if (freed.has(h.id)) problems.push(`page ${h.id}: reachable freed`);
        else if ((h.flags & PageFlag.branch) !== 0) {
          for (const child of this.branchChildren(id)) visitPage(child.pgid);
        } else if ((h.flags & PageFlag.leaf) === 0) problems.push(`page ${h.id}: invalid type`);
      };
      visitPage(ref.root);
      for (const item of this.iterate(ref)) if (item.isBucket) visitBucket(this.bucketRef(item.value));
    };
    visitBucket({ root: this.meta.root });
    // Without a stored freelist, bbolt treats every unreachable page as free.
    if (this.meta.freelist !== NO_FREELIST)
      for (let i = 0; i < this.meta.pgid; i++)
        if (!reachable.has(i) && !freed.has(i)) problems.push(`page ${i}: unreachable unfreed`);
    return problems;
  }

  /** The page ids the freelist page lists. */
  freePages(): number[] {
    if (this.meta.freelist === NO_FREELIST) return [];
    const at = Number(this.meta.freelist) * this.pageSize;
    const h = readPageHeader(this.data, at);
    if ((h.flags & PageFlag.freelist) === 0) throw new Error(`invalid freelist page: ${h.id}`);
    let count = h.count;
    let first = at + PAGE_HEADER_SIZE;
    if (count === 0xffff) {
      count = Number(this.data.readBigUInt64LE(first));
      first += 8;
    }
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push(Number(this.data.readBigUInt64LE(first + 8 * i)));
    return ids;
  }

  private header(id: number): ReturnType<typeof readPageHeader> {
    const at = id * this.pageSize;
    if (at + PAGE_HEADER_SIZE > this.data.length) throw new Error(`bbolt: page ${id} beyond the file`);
    return readPageHeader(this.data, at);
  }

  private bucketRef(value: Buffer): BucketRef {
    const root = Number(value.readBigUInt64LE(0));
    return root === 0 ? { inline: value.subarray(BUCKET_HEADER_SIZE) } : { root };
  }

  private findBucket(parent: BucketRef, name: Uint8Array | string): BucketRef | undefined {
    const want = typeof name === "string" ? Buffer.from(name, "utf8") : Buffer.from(name);
    for (const item of this.iterate(parent)) {
      const c = Buffer.compare(item.key, want);
      if (c === 0) return item.isBucket ? this.bucketRef(item.value) : undefined;
      if (c > 0) return undefined;
    }
    return undefined;
  }

  private *iterate(ref: BucketRef): Iterable<BoltItem> {
    if ("inline" in ref) {
      yield* leafItems(ref.inline, 0);
      return;
    }
    yield* this.iteratePage(ref.root);
  }

  private *iteratePage(id: number): Iterable<BoltItem> {
    const h = this.header(id);
    const at = id * this.pageSize;
    if ((h.flags & PageFlag.leaf) !== 0) {
      yield* leafItems(this.data, at);
    } else if ((h.flags & PageFlag.branch) !== 0) {
      for (const child of this.branchChildren(id)) yield* this.iteratePage(child.pgid);
    } else {
      throw new Error(`bbolt: page ${id} is neither branch nor leaf (flags ${h.flags})`);
    }
  }

  private branchChildren(id: number): { key: Buffer; pgid: number }[] {
    const at = id * this.pageSize;
    const h = readPageHeader(this.data, at);
    const out: { key: Buffer; pgid: number }[] = [];
    for (let i = 0; i < h.count; i++) {
      const e = at + PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
      const pos = this.data.readUInt32LE(e);
      const ksize = this.data.readUInt32LE(e + 4);
      const pgid = Number(this.data.readBigUInt64LE(e + 8));
      out.push({ key: this.data.subarray(e + pos, e + pos + ksize), pgid });
    }
    return out;
  }
}

function* leafItems(buf: Buffer, at: number): Iterable<BoltItem> {
  const h = readPageHeader(buf, at);
  if ((h.flags & PageFlag.leaf) === 0) throw new Error(`bbolt: expected a leaf page, flags ${h.flags}`);
  for (let i = 0; i < h.count; i++) {
    const e = at + PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
    const flags = buf.readUInt32LE(e);
    const pos = buf.readUInt32LE(e + 4);
    const ksize = buf.readUInt32LE(e + 8);
    const vsize = buf.readUInt32LE(e + 12);
    const k = e + pos;
    yield {
      key: buf.subarray(k, k + ksize),
      value: buf.subarray(k + ksize, k + ksize + vsize),
      isBucket: (flags & BUCKET_LEAF_FLAG) !== 0,
    };
  }
}
