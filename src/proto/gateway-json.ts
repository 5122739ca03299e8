// Reads a gateway request (a JSON syntax tree from src/api/http/go-json.ts) into a partial plain
// message, field by field as the .proto schema says, with the rules and error texts of etcd 3.4's
// gateway (grpc-gateway's JSONPb, i.e. golang/protobuf's jsonpb over Go's encoding/json):
//   - a message's fields are read in declaration order (so the first bad field in that order is
//     the one reported), each under its proto name or its lowerCamelCase name (the latter wins);
//     oneof members come after the other fields; unknown names are ignored; null means absent;
//   - a 64- or 32-bit integer, float or double may be a JSON number or a string holding one: the
//     quotes are dropped (the text between them is not unescaped) and the rest is read as one JSON
//     value, so "12", " 12 " and 12 are the same, "1e3", 1.5, "-1" into an unsigned field or
//     2^63 into an int64 are errors ("json: cannot unmarshal number 1e3 into Go value of type
//     int64"), never rounded;
//   - an enum is a name in quotes or a number that fits an int32;
//   - bytes are standard base64 with padding.
// Integers are kept as decimal text from the JSON to the plain message, so none loses precision.
import protobuf from "protobufjs";
import type { PlainMessage } from "../api/handler-types.js";
import { GoJsonSyntaxError, readGoJsonValue, type JsonValue } from "../api/http/go-json.js";

export class GatewayJsonError extends Error {}

interface IntKind {
  goType: string;
  min: bigint;
  max: bigint;
}

const INT_KINDS: Record<string, IntKind> = {
  int64: { goType: "int64", min: -(2n ** 63n), max: 2n ** 63n - 1n },
  sint64: { goType: "int64", min: -(2n ** 63n), max: 2n ** 63n - 1n },
  sfixed64: { goType: "int64", min: -(2n ** 63n), max: 2n ** 63n - 1n },
  uint64: { goType: "uint64", min: 0n, max: 2n ** 64n - 1n },
  fixed64: { goType: "uint64", min: 0n, max: 2n ** 64n - 1n },
  int32: { goType: "int32", min: -(2n ** 31n), max: 2n ** 31n - 1n },
  sint32: { goType: "int32", min: -(2n ** 31n), max: 2n ** 31n - 1n },
  sfixed32: { goType: "int32", min: -(2n ** 31n), max: 2n ** 31n - 1n },
  uint32: { goType: "uint32", min: 0n, max: 2n ** 32n - 1n },
  fixed32: { goType: "uint32", min: 0n, max: 2n ** 32n - 1n },
};

const LONG_TYPES = new Set(["int64", "sint64", "sfixed64", "uint64", "fixed64"]);

/** Go's name for a JSON value's kind in "json: cannot unmarshal <kind> into Go value of type T". */
function kindName(v: JsonValue): string {
  return v.kind; // "object", "array", "string", "number", "bool" (null never gets this far)
}

function cannotUnmarshal(what: string, goType: string): GatewayJsonError {
  return new GatewayJsonError(`json: cannot unmarshal ${what} into Go value of type ${goType}`);
}

/** The Go type name protoc-gen-gogo gives a nested enum or message: "etcdserverpb.RangeRequest_SortOrder". */
function goTypeName(obj: protobuf.ReflectionObject): string {
  const nested: string[] = [];
  let at: protobuf.ReflectionObject | null = obj;
  while (at !== null && (at === obj || at instanceof protobuf.Type)) {
    nested.unshift(at.name);
    at = at.parent;
  }
  return at !== null && at.name !== "" ? `${at.name}.${nested.join("_")}` : nested.join("_");
}

/**
 * Go's strconv.ParseInt/ParseUint(text, 10, 64) plus the target's overflow check: only an optional
 * '-' (signed only) and decimal digits, within range.
 */
function integerFromText(text: string, kind: IntKind): string {
  const signed = kind.min < 0n;
  if (!(signed ? /^-?\d+$/ : /^\d+$/).test(text)) throw cannotUnmarshal(`number ${text}`, kind.goType);
  const n = BigInt(text);
  if (n < kind.min || n > kind.max) throw cannotUnmarshal(`number ${text}`, kind.goType);
  return n.toString();
}

/** A quoted number loses its quotes, as jsonpb does, and the rest must be one JSON value. */
function unquotedNumber(v: JsonValue): JsonValue {
  if (v.kind !== "string") return v;
  try {
    return readGoJsonValue(v.raw.subarray(1, v.raw.length - 1));
  } catch (err) {
    if (err instanceof GoJsonSyntaxError) throw new GatewayJsonError(err.message);
    throw err;
  }
}

/** undefined = the value was JSON null, which leaves the field at its default. */
function integerFromJson(v: JsonValue, kind: IntKind): string | undefined {
  const inner = unquotedNumber(v);
  if (inner.kind === "null") return undefined;
  if (inner.kind !== "number") throw cannotUnmarshal(kindName(inner), kind.goType);
  return integerFromText(inner.text, kind);
}

const NON_FINITE: Record<string, number> = {
  '"NaN"': NaN,
  '"Infinity"': Infinity,
  '"-Infinity"': -Infinity,
};

function floatFromJson(v: JsonValue, type: "double" | "float"): number | undefined {
  const goType = type === "double" ? "float64" : "float32";
  if (v.kind === "string") {
    const named = NON_FINITE[Buffer.from(v.raw).toString("latin1")];
    if (named !== undefined) return named;
  }
  const inner = unquotedNumber(v);
  if (inner.kind === "null") return undefined;
  if (inner.kind !== "number") throw cannotUnmarshal(kindName(inner), goType);
  const n = Number(inner.text);
  const stored = type === "double" ? n : Math.fround(n);
  if (!Number.isFinite(stored)) throw cannotUnmarshal(`number ${inner.text}`, goType);
  return stored;
}

/** Go's %q of the bytes between an enum name's quotes (strconv.Quote's escapes). */
function goQuote(bytes: Uint8Array): string {
  const strict = new TextDecoder("utf-8", { fatal: true });
  let out = '"';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i] as number;
    const len = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
    let ch: string | undefined;
    try {
      if (len > 0 && i + len <= bytes.length) ch = strict.decode(bytes.subarray(i, i + len));
    } catch {
      ch = undefined;
    }
    if (ch === undefined) {
      out += `\\x${b.toString(16).padStart(2, "0")}`;
      i++;
      continue;
    }
    i += len;
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if ((c >= 0x80 && c <= 0xa0) || c === 0xad) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out + '"';
}

function enumFromJson(v: JsonValue, type: protobuf.Enum): number | undefined {
  const goName = goTypeName(type);
  if (v.kind === "string") {
    const name = v.raw.subarray(1, v.raw.length - 1);
    const text = Buffer.from(name).toString("utf8");
    // protobufjs's values object inherits the by-number map: only own keys are names.
    const n = Object.hasOwn(type.values, text) ? type.values[text] : undefined;
    if (n === undefined) throw new GatewayJsonError(`unknown value ${goQuote(name)} for enum ${goName}`);
    return n;
  }
  if (v.kind === "null") return undefined;
  if (v.kind !== "number") throw cannotUnmarshal(kindName(v), goName);
  return Number(integerFromText(v.text, { ...(INT_KINDS["int32"] as IntKind), goType: goName }));
}

/** Go's base64.StdEncoding.Decode: padding required, '\r' and '\n' skipped, the first bad byte's offset. */
export function goBase64Decode(src: Uint8Array): Uint8Array {
  const value = (c: number): number => {
    if (c >= 0x41 && c <= 0x5a) return c - 0x41;
    if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
    if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
    if (c === 0x2b) return 62;
    if (c === 0x2f) return 63;
    return -1;
  };
  const corrupt = (at: number): GatewayJsonError =>
    new GatewayJsonError(`illegal base64 data at input byte ${at}`);
  const isNewline = (c: number | undefined): boolean => c === 0x0a || c === 0x0d;
  const out: number[] = [];
  let si = 0;
  while (si < src.length) {
    const quantum = [0, 0, 0, 0];
    let len = 4;
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return Uint8Array.from(out);
        throw corrupt(si - j);
      }
      const c = src[si] as number;
      si++;
      const d = value(c);
      if (d >= 0) {
        quantum[j] = d;
        continue;
      }
      if (isNewline(c)) {
        j--;
        continue;
      }
      if (c !== 0x3d || j < 2) throw corrupt(si - 1);
      if (j === 2) {
        while (si < src.length && isNewline(src[si])) si++;
        if (si === src.length) throw corrupt(src.length);
        if (src[si] !== 0x3d) throw corrupt(si - 1);
        si++;
      }
      while (si < src.length && isNewline(src[si])) si++;
      if (si < src.length) throw corrupt(si);
      len = j;
      break;
    }
    const bits = (quantum[0]! << 18) | (quantum[1]! << 12) | (quantum[2]! << 6) | quantum[3]!;
    const bytes = [(bits >> 16) & 0xff, (bits >> 8) & 0xff, bits & 0xff];
    out.push(...bytes.slice(0, len - 1));
  }
  return Uint8Array.from(out);
}

function scalarFromJson(field: protobuf.Field, v: JsonValue): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    if (v.kind === "null") return undefined;
    if (v.kind !== "object") throw cannotUnmarshal(kindName(v), "map[string]json.RawMessage");
    return messageFromGatewayJson(resolved, v);
  }
  if (resolved instanceof protobuf.Enum) return enumFromJson(v, resolved);
  const intKind = INT_KINDS[field.type];
  if (intKind !== undefined) {
    const text = integerFromJson(v, intKind);
    return text === undefined || LONG_TYPES.has(field.type) ? text : Number(text);
  }
  if (field.type === "double" || field.type === "float") return floatFromJson(v, field.type);
  if (v.kind === "null") return undefined;
  switch (field.type) {
    case "bool":
      if (v.kind !== "bool") throw cannotUnmarshal(kindName(v), "bool");
      return v.value;
    case "string":
      if (v.kind !== "string") throw cannotUnmarshal(kindName(v), "string");
      return v.value;
    case "bytes":
      if (v.kind !== "string") throw cannotUnmarshal(kindName(v), "[]uint8");
      return goBase64Decode(Buffer.from(v.value, "utf8"));
    default:
      throw new GatewayJsonError(`unsupported field type ${field.type}`);
  }
}

/** The JSON value for a field: its proto name or its lowerCamelCase name, the latter winning. */
function fieldValue(field: protobuf.Field, json: Map<string, JsonValue>): JsonValue | undefined {
  return json.get(jsonName(field.name)) ?? json.get(field.name);
}

/** lowerCamelCase of a proto field name, as protoc computes a field's JSON name. */
export function jsonName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function readField(field: protobuf.Field, v: JsonValue, out: PlainMessage): void {
  if (field.repeated) {
    if (v.kind === "null") return;
    // jsonpb tries a quoted enum name before it looks at the field being a list.
    if (v.kind === "string" && field.resolvedType instanceof protobuf.Enum) {
      enumFromJson(v, field.resolvedType);
      throw new GatewayJsonError(`invalid target "slice" for enum ${goTypeName(field.resolvedType)}`);
    }
    if (v.kind !== "array") throw cannotUnmarshal(kindName(v), "[]json.RawMessage");
    const items = v.items.map((item) => scalarFromJson(field, item));
    // A null element is that element's zero value.
    out[field.name] = items.map((item) => item ?? zeroOf(field));
    return;
  }
  const value = scalarFromJson(field, v);
  if (value !== undefined) out[field.name] = value;
}

function zeroOf(field: protobuf.Field): unknown {
  if (field.resolvedType instanceof protobuf.Type) return {};
  if (field.resolvedType instanceof protobuf.Enum) return 0;
  if (LONG_TYPES.has(field.type)) return "0";
  if (field.type === "bytes") return new Uint8Array(0);
  if (field.type === "string") return "";
  if (field.type === "bool") return false;
  return 0;
}

/** Gateway JSON object → partial plain message (only the fields present, int64 as decimal text). */
export function messageFromGatewayJson(type: protobuf.Type, json: JsonValue): PlainMessage {
  if (json.kind === "null") return {};
  if (json.kind !== "object") throw cannotUnmarshal(kindName(json), "map[string]json.RawMessage");
  const out: PlainMessage = {};
  const fields = type.fieldsArray;
  for (const inOneof of [false, true]) {
    for (const field of fields) {
      if ((field.partOf !== null) !== inOneof) continue;
      const v = fieldValue(field, json.fields);
      if (v !== undefined) readField(field, v, out);
    }
  }
  return out;
}
