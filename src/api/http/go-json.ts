// Reads a gateway request body the way etcd's gateway (Go's json.Decoder) does, so a malformed
// body is answered with the same error text: "invalid character 'g' looking for beginning of
// value", "unexpected EOF", ... As with Decoder.Decode, only the first JSON value counts; bytes
// after it are ignored.
//
// The result is a syntax tree, not JavaScript values: a number stays the text it was written as
// and a string keeps its undecoded bytes, so the schema-driven decoder (src/proto/gateway-json.ts)
// can read a 64-bit integer exactly and treat a quoted number the way etcd's gateway does.
// readGoJsonValue is the same reader in the mode of Go's json.Unmarshal (the whole input is one
// value; its error texts differ at the end of the input).

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

/** One JSON value as read; `raw` is its exact source bytes. */
export type JsonValue =
  | { kind: "object"; raw: Uint8Array; fields: Map<string, JsonValue> }
  | { kind: "array"; raw: Uint8Array; items: JsonValue[] }
  | { kind: "string"; raw: Uint8Array; value: string }
  | { kind: "number"; raw: Uint8Array; text: string }
  | { kind: "bool"; raw: Uint8Array; value: boolean }
  | { kind: "null"; raw: Uint8Array };

/** Where Go's json.Unmarshal, which sees the end of its input as one more space, reports ' '. */
const SPACE_IS_INVALID =
  /^(in numeric literal|after decimal point|in exponent|in string escape|in \\u|in literal)/;

class Scanner {
  pos = 0;
  /**
   * @param unmarshal true for json.Unmarshal's messages: the end of the input inside a token is
   *   "invalid character ' ' ...", elsewhere "unexpected end of JSON input"; json.Decoder (false)
   *   says "unexpected EOF".
   */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly unmarshal = false,
  ) {}

  /** The byte at pos, or -1 at the end. */
  private peek(): number {
    return this.pos < this.bytes.length ? (this.bytes[this.pos] as number) : -1;
  }

  fail(context: string): never {
    const c = this.peek();
    if (c >= 0) throw new GoJsonSyntaxError(`invalid character ${quoteByte(c)} ${context}`);
    if (!this.unmarshal) throw new GoJsonSyntaxError("unexpected EOF");
    if (SPACE_IS_INVALID.test(context)) throw new GoJsonSyntaxError(`invalid character ' ' ${context}`);
    throw new GoJsonSyntaxError("unexpected end of JSON input");
  }

  skipSpace(): void {
    while (isSpace(this.peek())) this.pos++;
  }

  atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  private slice(start: number): Uint8Array {
    return this.bytes.subarray(start, this.pos);
  }

  private text(start: number): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, this.pos - start).toString("utf8");
  }

  value(): JsonValue {
    this.skipSpace();
    const c = this.peek();
    if (c === 0x7b) return this.object();
    if (c === 0x5b) return this.array();
    if (c === 0x22) {
      const start = this.pos;
      this.string();
      return { kind: "string", raw: this.slice(start), value: JSON.parse(this.text(start)) as string };
    }
    if (c === 0x2d || isDigit(c)) {
      const start = this.pos;
      this.number();
      return { kind: "number", raw: this.slice(start), text: this.text(start) };
    }
    const start = this.pos;
    if (c === 0x74) this.literal("true");
    else if (c === 0x66) this.literal("false");
    else if (c === 0x6e) this.literal("null");
    else this.fail("looking for beginning of value");
    const raw = this.slice(start);
    return c === 0x6e ? { kind: "null", raw } : { kind: "bool", raw, value: c === 0x74 };
  }

  private object(): JsonValue {
    const start = this.pos;
    const fields = new Map<string, JsonValue>();
    this.pos++;
    this.skipSpace();
    if (this.peek() === 0x7d) {
      this.pos++;
      return { kind: "object", raw: this.slice(start), fields };
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() !== 0x22) this.fail("looking for beginning of object key string");
      const keyStart = this.pos;
      this.string();
      const key = JSON.parse(this.text(keyStart)) as string;
      this.skipSpace();
      if (this.peek() !== 0x3a) this.fail("after object key");
      this.pos++;
      // A repeated key: the last one wins, as in a Go map.
      fields.delete(key);
      fields.set(key, this.value());
      this.skipSpace();
      const c = this.peek();
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x7d) {
        this.pos++;
        return { kind: "object", raw: this.slice(start), fields };
      }
      this.fail("after object key:value pair");
    }
  }

  private array(): JsonValue {
    const start = this.pos;
    const items: JsonValue[] = [];
    this.pos++;
    this.skipSpace();
    if (this.peek() === 0x5d) {
      this.pos++;
      return { kind: "array", raw: this.slice(start), items };
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      const c = this.peek();
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x5d) {
        this.pos++;
        return { kind: "array", raw: this.slice(start), items };
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
export function decodeFirstJsonValue(body: Uint8Array): JsonValue | undefined {
  return decodeJsonPrefix(body)?.value;
}

/**
 * The first JSON value in `bytes` and the offset just after it (json.Decoder's next read starts
 * there); undefined when there is only whitespace. A value cut off by the end of `bytes` throws
 * GoJsonSyntaxError("unexpected EOF"); a number that reaches the end may not be complete yet.
 */
export function decodeJsonPrefix(bytes: Uint8Array): { value: JsonValue; end: number } | undefined {
  const scanner = new Scanner(bytes);
  scanner.skipSpace();
  if (scanner.atEnd()) return undefined;
  const value = scanner.value();
  return { value, end: scanner.pos };
}

/** `bytes` as Go's json.Unmarshal reads them: exactly one value, only whitespace around it. */
export function readGoJsonValue(bytes: Uint8Array): JsonValue {
  const scanner = new Scanner(bytes, true);
  const value = scanner.value();
  scanner.skipSpace();
  if (!scanner.atEnd()) scanner.fail("after top-level value");
  return value;
}

/** The JavaScript value of a tree (numbers as doubles: for tests and logs, not for requests). */
export function jsonValueToJs(value: JsonValue): unknown {
  switch (value.kind) {
    case "object":
      return Object.fromEntries([...value.fields].map(([k, v]) => [k, jsonValueToJs(v)]));
    case "array":
      return value.items.map(jsonValueToJs);
    case "number":
      return Number(value.text);
    case "null":
      return null;
    default:
      return value.value;
  }
}
