// Converts etcd's protobuf messages between three forms:
//   - wire bytes (gRPC),
//   - "plain" objects, the form every handler works on (src/api/handler-types.ts): snake_case
//     field names, int64 as decimal strings, bytes as Uint8Array, enums as numbers, defaults filled,
//   - the JSON of etcd's gateway (grpc-gateway with original field names): 64-bit integers as
//     strings, bytes as base64, enums by name, zero values left out.
import protobuf from "protobufjs";
import type { PlainMessage } from "../api/handler-types.js";
import type { JsonValue } from "../api/http/go-json.js";
import { messageFromGatewayJson } from "./gateway-json.js";
import { loadEtcdProtos } from "./load.js";

export interface ServiceMethod {
  /** "etcdserverpb.KV" */
  service: string;
  /** "Range" */
  method: string;
  /** "/etcdserverpb.KV/Range" */
  path: string;
  /** "etcdserverpb.RangeRequest" */
  requestType: string;
  responseType: string;
  requestStream: boolean;
  responseStream: boolean;
}

const TO_PLAIN: protobuf.IConversionOptions = {
  longs: String,
  enums: Number,
  defaults: true,
  arrays: true,
  oneofs: false,
};

const types = new Map<string, protobuf.Type>();

/** The message type by its full name without a leading dot ("etcdserverpb.RangeRequest"). */
export function messageType(typeName: string): protobuf.Type {
  let type = types.get(typeName);
  if (type === undefined) {
    type = loadEtcdProtos().lookupType(typeName);
    types.set(typeName, type);
  }
  return type;
}

/** Wire bytes → plain message. Garbage throws an Error saying what could not be read. */
export function decodePlain(typeName: string, bytes: Uint8Array): PlainMessage {
  const type = messageType(typeName);
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (err) {
    throw new Error(`cannot decode ${typeName}: ${(err as Error).message}`, { cause: err });
  }
  return type.toObject(message, TO_PLAIN) as PlainMessage;
}

/** Plain message (int64 as string, number or bigint; missing fields = defaults) → wire bytes. */
export function encodePlain(typeName: string, msg: PlainMessage): Uint8Array {
  const type = messageType(typeName);
  return type.encode(type.fromObject(withoutBigints(type, msg))).finish();
}

/** protobufjs takes int64 as string or number but not bigint: turn any bigint into its decimal string. */
function withoutBigints(type: protobuf.Type, msg: PlainMessage): PlainMessage {
  let copy: PlainMessage | undefined;
  for (const field of type.fieldsArray) {
    const v = msg[field.name];
    if (v === undefined || v === null) continue;
    let replaced: unknown = v;
    if (typeof v === "bigint") replaced = v.toString();
    else if (field.resolvedType instanceof protobuf.Type) {
      const sub = field.resolvedType;
      if (field.repeated && Array.isArray(v)) {
        const items = v.map((item) => withoutBigints(sub, item as PlainMessage));
        if (items.some((item, i) => item !== v[i])) replaced = items;
      } else if (typeof v === "object" && !(v instanceof Uint8Array)) {
        replaced = withoutBigints(sub, v as PlainMessage);
      }
    } else if (field.repeated && Array.isArray(v) && v.some((x) => typeof x === "bigint")) {
      replaced = v.map((x: unknown) => (typeof x === "bigint" ? x.toString() : x));
    }
    if (replaced !== v) {
      copy ??= { ...msg };
      copy[field.name] = replaced;
    }
  }
  return copy ?? msg;
}

/** Every rpc of every service in the loaded .proto files. */
export function serviceMethods(): ServiceMethod[] {
  const out: ServiceMethod[] = [];
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Service) {
        const service = obj.fullName.slice(1);
        for (const m of obj.methodsArray) {
          m.resolve();
          out.push({
            service,
            method: m.name,
            path: `/${service}/${m.name}`,
            requestType: (m.resolvedRequestType as protobuf.Type).fullName.slice(1),
            responseType: (m.resolvedResponseType as protobuf.Type).fullName.slice(1),
            requestStream: m.requestStream === true,
            responseStream: m.responseStream === true,
          });
        }
      } else if (obj instanceof protobuf.Namespace) {
        visit(obj);
      }
    }
  };
  visit(loadEtcdProtos());
  return out;
}

// ---- gateway JSON ------------------------------------------------------------------------------

const LONG_TYPES = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

/**
 * Gateway JSON request (the syntax tree of src/api/http/go-json.ts; undefined for an empty body)
 * → plain message with defaults filled, as if decoded from the wire. Throws GatewayJsonError with
 * etcd's gateway's message when a value does not fit its field.
 */
export function plainFromJson(typeName: string, json: JsonValue | undefined): PlainMessage {
  const type = messageType(typeName);
  const partial = json === undefined ? {} : messageFromGatewayJson(type, json);
  return type.toObject(type.fromObject(partial), TO_PLAIN) as PlainMessage;
}

function isZeroLong(v: unknown): boolean {
  return v === 0 || v === "0" || v === 0n;
}

function scalarToJson(field: protobuf.Field, v: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return plainObjectToJson(resolved, v as PlainMessage);
  if (resolved instanceof protobuf.Enum) {
    return typeof v === "number" ? (resolved.valuesById[v] ?? v) : v;
  }
  if (LONG_TYPES.has(field.type)) return typeof v === "string" ? v : String(v);
  if (field.type === "bytes") return Buffer.from(v as Uint8Array).toString("base64");
  return v;
}

function isDefault(field: protobuf.Field, v: unknown): boolean {
  if (field.resolvedType instanceof protobuf.Type) return false; // presence is what counts
  if (LONG_TYPES.has(field.type)) return isZeroLong(v);
  if (field.type === "bytes") return (v as Uint8Array).length === 0;
  return v === 0 || v === false || v === "";
}

function plainObjectToJson(type: protobuf.Type, msg: PlainMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const v = msg[field.name];
    if (v === undefined || v === null) continue;
    if (field.repeated) {
      if (!Array.isArray(v) || v.length === 0) continue;
      out[field.name] = v.map((item: unknown) => scalarToJson(field, item));
    } else if (field.partOf !== null || !isDefault(field, v)) {
      // A oneof member that is set is shown even when it holds its zero value.
      out[field.name] = scalarToJson(field, v);
    }
  }
  return out;
}

/** Plain message → the gateway's JSON (original field names, zero values left out). */
export function plainToJson(typeName: string, msg: PlainMessage): Record<string, unknown> {
  return plainObjectToJson(messageType(typeName), msg);
}
