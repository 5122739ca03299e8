// Splits a streaming request body into the JSON values it carries, as Go's json.Decoder reads
// successive values: `{...}{...}` or `{...}\n{...}` both give two requests. Each value is parsed
// as soon as its closing brace arrives, so a watch or keep-alive request is served without waiting
// for the body to end.
import { StringDecoder } from "node:string_decoder";

export class JsonStreamSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private buffer = "";
  /** Where scanning resumes in `buffer`, and the state there. */
  private scanned = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;

  /** @param maxValueChars a single value longer than this is an error (bounds memory). */
  constructor(private readonly maxValueChars: number) {}

  /** Feeds bytes; returns the values completed by them. Throws on malformed input. */
  push(chunk: Buffer): unknown[] {
    this.buffer += this.decoder.write(chunk);
    const values: unknown[] = [];
    let start = 0;
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c /* \ */) this.escaped = true;
        else if (c === 0x22 /* " */) this.inString = false;
        continue;
      }
      if (this.depth === 0) {
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
          start = i + 1;
          continue;
        }
        if (c !== 0x7b /* { */ && c !== 0x5b /* [ */) {
          throw new SyntaxError(
            `invalid character ${JSON.stringify(this.buffer[i])} looking for beginning of value`,
          );
        }
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d || c === 0x5d) {
        this.depth--;
        if (this.depth === 0) {
          values.push(JSON.parse(this.buffer.slice(start, i + 1)));
          start = i + 1;
        }
      }
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.length;
    if (this.buffer.length > this.maxValueChars) throw new RangeError("request message too large");
    return values;
  }

  /** True when the body ended in the middle of a value. */
  hasPartialValue(): boolean {
    return this.buffer.trim().length > 0;
  }
}
