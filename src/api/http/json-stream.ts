// Splits a streaming request body into the JSON values it carries, as Go's json.Decoder reads
// successive values: `{...}{...}` or `{...}\n{...}` both give two requests. Each value (a syntax
// tree, src/api/http/go-json.ts, with numbers kept exact) is read as soon as it is complete, so a
// watch or keep-alive request is served without waiting for the body to end.
import { decodeJsonPrefix, GoJsonSyntaxError, type JsonValue } from "./go-json.js";

export class JsonStreamSplitter {
  private buffer: Buffer = Buffer.alloc(0);
  /**
   * The first read error (Go's json.Decoder message); nothing after it is read. Values complete
   * before it in the same chunk are still returned.
   */
  error: Error | undefined;

  /** @param maxValueBytes a single value longer than this is an error (bounds memory). */
  constructor(private readonly maxValueBytes: number) {}

  /** Feeds bytes; returns the values completed by them. */
  push(chunk: Buffer): JsonValue[] {
    if (this.error !== undefined) return [];
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const values = this.take(false);
    if (this.error === undefined && this.buffer.length > this.maxValueBytes) {
      this.error = new RangeError("request message too large");
    }
    return values;
  }

  /** The body ended: a number left at the very end is complete; a cut-off value is an error. */
  end(): JsonValue[] {
    if (this.error !== undefined) return [];
    return this.take(true);
  }

  private take(atEnd: boolean): JsonValue[] {
    const values: JsonValue[] = [];
    let start = 0;
    while (start < this.buffer.length) {
      let read: ReturnType<typeof decodeJsonPrefix>;
      try {
        read = decodeJsonPrefix(this.buffer.subarray(start));
      } catch (err) {
        const cutOff = err instanceof GoJsonSyntaxError && err.message === "unexpected EOF";
        if (!cutOff || atEnd) this.error = err as Error;
        break;
      }
      if (read === undefined) {
        start = this.buffer.length;
        break;
      }
      // More digits may follow in the next chunk.
      if (read.value.kind === "number" && start + read.end === this.buffer.length && !atEnd) break;
      values.push(read.value);
      start += read.end;
    }
    this.buffer = this.buffer.subarray(start);
    return values;
  }

  /** True when the body so far ends in the middle of a value. */
  hasPartialValue(): boolean {
    return this.buffer.some((c) => c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d);
  }
}
