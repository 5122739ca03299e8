// Bytes received in chunks, consumed from the front: what a length-prefixed framing reader
// needs. Reads within one chunk are views of it; a read across chunks merges them once.

export class ByteQueue {
  private chunks: Buffer[] = [];
  private size = 0;

  /** Bytes held. */
  get length(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The first n bytes (n <= length), left in the queue. */
  peek(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    const merged = Buffer.concat(this.chunks);
    this.chunks = [merged];
    return merged.subarray(0, n);
  }

  /** Removes and returns the first n bytes (n <= length). */
  take(n: number): Buffer {
    const out = this.peek(n);
    let left = n;
    while (left > 0) {
      const first = this.chunks[0] as Buffer;
      if (first.length > left) {
        this.chunks[0] = first.subarray(left);
        break;
      }
      this.chunks.shift();
      left -= first.length;
    }
    this.size -= n;
    return out;
  }
}
