// Reads a gateway request body the way etcd's gateway (Go's json.Decoder) does, so a malformed
// body is answered with the same error text: "invalid character 'g' looking for beginning of
// value", "unexpected EOF", ... As with Decoder.Decode, only the first JSON value counts; bytes
// after it are ignored.

export class GoJsonSyntaxError extends SyntaxError {}

/** Go's quoteChar: the offending byte in single quotes, escaped as strconv.Quote would. */
function quoteByte(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return "'\"'";
  const named: Record<number, string> = {
    7: "\\a",
    8: "\\b",
    9: "\\t",
    10: "\\n",
    11: "\\v",
    12: "\\f",
    13: "\\r",
  };
  if (named[c] !== undefined) return `'${named[c]}'`;
  if (c === 0x5c) return "'\\\\'";
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, "0")}'`;
  // Go turns the byte into the rune of the same number (Latin-1); the unprintable ones are \u-escaped.
  if ((c >= 0x80 && c <= 0xa0) || c === 0xad) return `'\\u${c.toString(16).padStart(4, "0")}'`;
  return `'${String.fromCharCode(c)}'`;
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

class Scanner {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  /** The byte at pos, or -1 at the end (which Go reports as "unexpected EOF"). */
  private peek(): number {
    return this.pos < this.bytes.length ? (this.bytes[this.pos] as number) : -1;
  }

  private fail(context: string): never {
    const c = this.peek();
    if (c < 0) throw new GoJsonSyntaxError("unexpected EOF");
    throw new GoJsonSyntaxError(`invalid character ${quoteByte(c)} ${context}`);
  }

  private skipSpace(): void {
    while (isSpace(this.peek())) this.pos++;
  }

  value(): void {
    this.skipSpace();
    const c = this.peek();
    if (c === 0x7b) this.object();
    else if (c === 0x5b) this.array();
    else if (c === 0x22) this.string();
    else if (c === 0x2d || isDigit(c)) this.number();
    else if (c === 0x74) this.literal("true");
    else if (c === 0x66) this.literal("false");
    else if (c === 0x6e) this.literal("null");
    else this.fail("looking for beginning of value");
  }

  private object(): void {
    this.pos++;
    this.skipSpace();
    if (this.peek() === 0x7d) {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() !== 0x22) this.fail("looking for beginning of object key string");
      this.string();
      this.skipSpace();
      if (this.peek() !== 0x3a) this.fail("after object key");
      this.pos++;
      this.value();
      this.skipSpace();
      const c = this.peek();
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x7d) {
        this.pos++;
        return;
      }
      this.fail("after object key:value pair");
    }
  }

  private array(): void {
    this.pos++;
    this.skipSpace();
    if (this.peek() === 0x5d) {
      this.pos++;
      return;
    }
    for (;;) {
      this.value();
      this.skipSpace();
      const c = this.peek();
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x5d) {
        this.pos++;
        return;
      }
      this.fail("after array element");
    }
  }

  private string(): void {
    this.pos++;
    for (;;) {
      const c = this.peek();
      if (c === 0x22) {
        this.pos++;
        return;
      }
      if (c < 0x20) this.fail("in string literal");
      this.pos++;
      if (c !== 0x5c) continue;
      const e = this.peek();
      if (e === 0x75) {
        this.pos++;
        for (let i = 0; i < 4; i++) {
          if (!isHex(this.peek())) this.fail("in \\u hexadecimal character escape");
          this.pos++;
        }
      } else if ([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74].includes(e)) {
        this.pos++;
      } else {
        this.fail("in string escape code");
      }
    }
  }

  private digits(): void {
    while (isDigit(this.peek())) this.pos++;
  }

  private number(): void {
    if (this.peek() === 0x2d) {
      this.pos++;
      if (!isDigit(this.peek())) this.fail("in numeric literal");
    }
    if (this.peek() === 0x30) this.pos++;
    else this.digits();
    if (this.peek() === 0x2e) {
      this.pos++;
      if (!isDigit(this.peek())) this.fail("after decimal point in numeric literal");
      this.digits();
    }
    const e = this.peek();
    if (e === 0x65 || e === 0x45) {
      this.pos++;
      const s = this.peek();
      if (s === 0x2b || s === 0x2d) this.pos++;
      if (!isDigit(this.peek())) this.fail("in exponent of numeric literal");
      this.digits();
    }
  }

  private literal(word: string): void {
    this.pos++;
    for (let i = 1; i < word.length; i++) {
      if (this.peek() !== word.charCodeAt(i)) this.fail(`in literal ${word} (expecting '${word[i]}')`);
      this.pos++;
    }
  }
}

/**
 * The first JSON value in `body`, or undefined when the body is empty or only whitespace (Go's
 * io.EOF, which the gateway treats as an all-defaults request). Throws GoJsonSyntaxError.
 */
export function decodeFirstJsonValue(body: Uint8Array): unknown {
  const scanner = new Scanner(body);
  let start = 0;
  while (start < body.length && isSpace(body[start] as number)) start++;
  if (start === body.length) return undefined;
  scanner.value();
  return JSON.parse(Buffer.from(body.buffer, body.byteOffset + start, scanner.pos - start).toString("utf8"));
}
