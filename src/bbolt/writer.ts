// Builds a whole bbolt database file in one pass from buckets given in key order: no free pages,
// no in-place updates. Pages are allocated in the order they are completed, so the file is the
// concatenation of the allocated pages behind three reserved ones (meta 0, meta 1, freelist).
//
// Each bucket's tree is built bottom-up as its sorted entries arrive: leaf pages are filled up to
// one page (an entry that alone exceeds a page gets a page with overflow pages), and every
// finished page hands its first key and page id to the branch level above, which fills its pages
// the same way. A bucket small enough (and without nested buckets) is stored inline in its
// parent's leaf instead, as bbolt does: its value is the bucket header with root 0, followed by
// the image of its single leaf page.

import {
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  DEFAULT_PAGE_SIZE,
  ELEMENT_SIZE,
  MAGIC,
  PAGE_HEADER_SIZE,
  PageFlag,
  VERSION,
  writeMeta,
  writePageHeader,
} from "./layout.js";

export interface BoltEntry {
  key: Uint8Array;
  value: Uint8Array;
}

interface Element {
  key: Uint8Array;
  value: Uint8Array;
  flags: number;
}

interface BranchElement {
  key: Uint8Array;
  pgid: number;
}

/** The result of building a bucket: an inline leaf image, or the page id of its root. */
type BuiltBucket = { inline: Buffer } | { root: number };

const FIRST_DATA_PAGE = 3;

/** Bytewise order, as bbolt compares keys. */
function compare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/**
 * Receives each finished page (with its overflow pages) and its byte offset in the file as soon as
 * it is written, in file order from page 3 on. Pages 0-2 come from finish().
 */
export type PageSink = (pages: Buffer, offset: number) => void;

export interface BoltWriterOptions {
  pageSize?: number;
  /** Where finished pages go; without one they are kept and finish() returns them all. */
  sink?: PageSink;
}

/** The file being built: whole pages in page-id order from page FIRST_DATA_PAGE on. */
class PageFile {
  readonly chunks: Buffer[] = [];
  next = FIRST_DATA_PAGE;

  constructor(
    readonly pageSize: number,
    private readonly sink: PageSink | undefined,
  ) {}

  /** Allocates enough consecutive pages for size bytes; returns the zeroed buffer and its id. */
  allocate(size: number): { buf: Buffer; id: number; overflow: number } {
    const count = Math.max(1, Math.ceil(size / this.pageSize));
    const buf = Buffer.alloc(count * this.pageSize);
    const id = this.next;
    this.next += count;
    return { buf, id, overflow: count - 1 };
  }

  /** Hands a written page on (pages are committed in allocation order). */
  commit(buf: Buffer, id: number): void {
    if (this.sink !== undefined) this.sink(buf, id * this.pageSize);
    else this.chunks.push(buf);
  }
}

/** Writes a leaf page image (header + elements + keys/values) into buf at offset. */
function writeLeaf(buf: Buffer, offset: number, id: number, overflow: number, elems: Element[]): void {
  writePageHeader(buf, offset, { id, flags: PageFlag.leaf, count: elems.length, overflow });
  let data = offset + PAGE_HEADER_SIZE + ELEMENT_SIZE * elems.length;
  elems.forEach((e, i) => {
    const at = offset + PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
    buf.writeUInt32LE(e.flags, at);
    buf.writeUInt32LE(data - at, at + 4);
    buf.writeUInt32LE(e.key.length, at + 8);
    buf.writeUInt32LE(e.value.length, at + 12);
    buf.set(e.key, data);
    buf.set(e.value, data + e.key.length);
    data += e.key.length + e.value.length;
  });
}

function writeBranch(buf: Buffer, id: number, overflow: number, elems: BranchElement[]): void {
  writePageHeader(buf, 0, { id, flags: PageFlag.branch, count: elems.length, overflow });
  let data = PAGE_HEADER_SIZE + ELEMENT_SIZE * elems.length;
  elems.forEach((e, i) => {
    const at = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
    buf.writeUInt32LE(data - at, at);
    buf.writeUInt32LE(e.key.length, at + 4);
    buf.writeBigUInt64LE(BigInt(e.pgid), at + 8);
    buf.set(e.key, data);
    data += e.key.length;
  });
}

/** Builds one bucket's B+tree from entries added in strictly ascending key order. */
export class TreeBuilder {
  private leaf: Element[] = [];
  private leafBytes = PAGE_HEADER_SIZE;
  private leafPages = 0;
  private containsBuckets = false;
  private last: Uint8Array | undefined;
  /** levels[i]: pending elements of the branch pages i + 1 levels above the leaves. */
  private readonly levels: { elems: BranchElement[]; bytes: number }[] = [];

  constructor(
    private readonly file: PageFile,
    private readonly inlineAllowed: boolean,
  ) {}

  add(key: Uint8Array, value: Uint8Array, flags = 0): void {
    if (key.length === 0) throw new Error("bbolt: empty key");
    if (this.last !== undefined && compare(this.last, key) >= 0)
      throw new Error("bbolt: keys must be added in strictly ascending order");
    this.last = key;
    if ((flags & BUCKET_LEAF_FLAG) !== 0) this.containsBuckets = true;
    const size = ELEMENT_SIZE + key.length + value.length;
    if (this.leaf.length > 0 && this.leafBytes + size > this.file.pageSize) this.flushLeaf();
    this.leaf.push({ key, value, flags });
    this.leafBytes += size;
  }

  finish(): BuiltBucket {
    const inlineLimit = this.file.pageSize / 4;
    if (
      this.inlineAllowed &&
      this.leafPages === 0 &&
      !this.containsBuckets &&
      this.leafBytes <= inlineLimit
    ) {
      const image = Buffer.alloc(this.leafBytes);
      writeLeaf(image, 0, 0, 0, this.leaf);
      return { inline: image };
    }
    if (this.leaf.length > 0 || this.leafPages === 0) this.flushLeaf();
    for (let i = 0; ; i++) {
      const level = this.levels[i]!;
      if (i === this.levels.length - 1 && level.elems.length === 1) return { root: level.elems[0]!.pgid };
      this.flushBranch(i);
    }
  }

  private flushLeaf(): void {
    const { buf, id, overflow } = this.file.allocate(this.leafBytes);
    writeLeaf(buf, 0, id, overflow, this.leaf);
    this.file.commit(buf, id);
    const first = this.leaf[0]?.key ?? new Uint8Array(0);
    this.leaf = [];
    this.leafBytes = PAGE_HEADER_SIZE;
    this.leafPages++;
    this.pushBranch(0, { key: first, pgid: id });
  }

  private pushBranch(levelIndex: number, elem: BranchElement): void {
    const level = (this.levels[levelIndex] ??= { elems: [], bytes: PAGE_HEADER_SIZE });
    const size = ELEMENT_SIZE + elem.key.length;
    if (level.elems.length > 0 && level.bytes + size > this.file.pageSize) this.flushBranch(levelIndex);
    level.elems.push(elem);
    level.bytes += size;
  }

  private flushBranch(levelIndex: number): void {
    const level = this.levels[levelIndex]!;
    const { buf, id, overflow } = this.file.allocate(level.bytes);
    writeBranch(buf, id, overflow, level.elems);
    this.file.commit(buf, id);
    const first = level.elems[0]!.key;
    level.elems = [];
    level.bytes = PAGE_HEADER_SIZE;
    this.pushBranch(levelIndex + 1, { key: first, pgid: id });
  }
}

/** The value a parent leaf stores for a bucket. */
function bucketValue(built: BuiltBucket): Uint8Array {
  if ("root" in built) {
    const v = Buffer.alloc(BUCKET_HEADER_SIZE);
    v.writeBigUInt64LE(BigInt(built.root), 0);
    return v;
  }
  const v = Buffer.alloc(BUCKET_HEADER_SIZE + built.inline.length);
  built.inline.copy(v, BUCKET_HEADER_SIZE);
  return v;
}

/**
 * Writes a database of top-level buckets. Call bucket() for each bucket in ascending name order,
 * add its entries in ascending key order, then finish() for the file.
 */
export class BoltWriter {
  private readonly file: PageFile;
  private readonly buckets: Element[] = [];
  private open: { name: Uint8Array; tree: TreeBuilder } | undefined;
  private finished = false;

  constructor(opts: BoltWriterOptions = {}) {
    const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1024 || (pageSize & (pageSize - 1)) !== 0)
      throw new RangeError(`bbolt: bad page size ${pageSize}`);
    this.file = new PageFile(pageSize, opts.sink);
  }

  get pageSize(): number {
    return this.file.pageSize;
  }

  /** Pages allocated so far (after finish(): the high-water mark, so the file is this many pages). */
  get pages(): number {
    return this.file.next;
  }

  /** Starts the next bucket; the previous one is complete. */
  bucket(name: Uint8Array | string): { add(key: Uint8Array, value: Uint8Array): void } {
    if (this.finished) throw new Error("bbolt: writer finished");
    const nameBytes = typeof name === "string" ? Buffer.from(name, "utf8") : name;
    this.closeBucket();
    const prev = this.buckets[this.buckets.length - 1];
    if (prev !== undefined && compare(prev.key, nameBytes) >= 0)
      throw new Error("bbolt: buckets must be added in strictly ascending name order");
    if (nameBytes.length === 0) throw new Error("bbolt: empty bucket name");
    const tree = new TreeBuilder(this.file, true);
    this.open = { name: nameBytes, tree };
    return { add: (key, value) => tree.add(key, value) };
  }

  /**
   * Completes the file. Returns pages 0-2 (metas and freelist) followed by every other page, in
   * order, when there is no sink; with a sink, only pages 0-2 (for offset 0): the sink has had the
   * rest. The database's size is `pages x pageSize` (see the pages getter).
   */
  finish(): Buffer[] {
    if (this.finished) throw new Error("bbolt: writer finished");
    this.closeBucket();
    this.finished = true;
    const root = new TreeBuilder(this.file, false);
    for (const b of this.buckets) root.add(b.key, b.value, b.flags);
    const built = root.finish();
    if (!("root" in built)) throw new Error("bbolt: root bucket cannot be inline");
    const pageSize = this.file.pageSize;
    const head = Buffer.alloc(FIRST_DATA_PAGE * pageSize);
    for (const txid of [0, 1]) {
      const at = txid * pageSize;
      writePageHeader(head, at, { id: txid, flags: PageFlag.meta, count: 0, overflow: 0 });
      writeMeta(head, at + PAGE_HEADER_SIZE, {
        magic: MAGIC,
        version: VERSION,
        pageSize,
        flags: 0,
        root: built.root,
        sequence: 0n,
        freelist: 2n,
        pgid: this.file.next,
        txid: BigInt(txid),
      });
    }
    // An empty freelist: every page below the high-water mark is in use.
    writePageHeader(head, 2 * pageSize, { id: 2, flags: PageFlag.freelist, count: 0, overflow: 0 });
    return [head, ...this.file.chunks];
  }

  private closeBucket(): void {
    if (this.open === undefined) return;
    const built = this.open.tree.finish();
    this.buckets.push({ key: this.open.name, value: bucketValue(built), flags: BUCKET_LEAF_FLAG });
    this.open = undefined;
  }
}

/** Writes buckets given as name -> entries (entries in any order) into one file buffer. */
export function writeBoltFile(
  buckets: ReadonlyMap<string, readonly BoltEntry[]> | Iterable<[string, readonly BoltEntry[]]>,
  opts: BoltWriterOptions = {},
): Buffer {
  const w = new BoltWriter(opts);
  const named = [...buckets].map(([n, e]) => [Buffer.from(n, "utf8"), e] as const);
  named.sort((a, b) => compare(a[0], b[0]));
  for (const [name, entries] of named) {
    const b = w.bucket(name);
    for (const e of [...entries].sort((x, y) => compare(x.key, y.key))) b.add(e.key, e.value);
  }
  return Buffer.concat(w.finish());
}
