// A set of byte-string keys (the keys attached to one lease). Keys are indexed by their latin1
// string form, which maps bytes one-to-one, so membership is a Map lookup.

export class KeySet {
  private readonly byName = new Map<string, Uint8Array>();

  get size(): number {
    return this.byName.size;
  }

  add(key: Uint8Array): void {
    const name = nameOf(key);
    if (!this.byName.has(name)) this.byName.set(name, Uint8Array.from(key));
  }

  delete(key: Uint8Array): void {
    this.byName.delete(nameOf(key));
  }

  has(key: Uint8Array): boolean {
    return this.byName.has(nameOf(key));
  }

  /** Copies of the keys in byte order (the order etcd deletes them in when revoking). */
  sorted(): Uint8Array[] {
    return [...this.byName.values()].sort(Buffer.compare).map((k) => Uint8Array.from(k));
  }
}

const nameOf = (key: Uint8Array): string =>
  Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
