// The wire schema of a set of protobuf packages as plain JSON: every message's fields (name,
// number, type, repeated, oneof), every enum's values and every service's methods. Used to check
// that Kvorum's .proto files describe exactly etcd 3.4's wire format
// (test/fixtures/etcd-proto-schema.json, made by scripts/extract-etcd-proto-schema.ts).
import protobuf from "protobufjs";

export interface SchemaField {
  name: string;
  number: number;
  type: string;
  repeated: boolean;
  oneof?: string;
}

export interface SchemaMethod {
  name: string;
  requestType: string;
  responseType: string;
  requestStream: boolean;
  responseStream: boolean;
}

export interface ProtoSchema {
  messages: Record<string, SchemaField[]>;
  enums: Record<string, { name: string; number: number }[]>;
  services: Record<string, SchemaMethod[]>;
}

const nameOf = (obj: protobuf.ReflectionObject): string => obj.fullName.slice(1);

function fieldType(field: protobuf.Field): string {
  return field.resolvedType !== null ? nameOf(field.resolvedType) : field.type;
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function schemaOf(root: protobuf.Root, packages: readonly string[]): ProtoSchema {
  const schema: ProtoSchema = { messages: {}, enums: {}, services: {} };
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const obj of ns.nestedArray) {
      if (obj instanceof protobuf.Type) {
        schema.messages[nameOf(obj)] = obj.fieldsArray
          .map((f) => ({
            name: f.name,
            number: f.id,
            type: fieldType(f),
            repeated: f.repeated,
            ...(f.partOf !== null ? { oneof: f.partOf.name } : {}),
          }))
          .sort((a, b) => a.number - b.number);
      } else if (obj instanceof protobuf.Enum) {
        schema.enums[nameOf(obj)] = Object.entries(obj.values)
          .map(([name, number]) => ({ name, number }))
          .sort((a, b) => a.number - b.number);
      } else if (obj instanceof protobuf.Service) {
        schema.services[nameOf(obj)] = obj.methodsArray
          .map((m) => {
            m.resolve();
            return {
              name: m.name,
              requestType: nameOf(m.resolvedRequestType as protobuf.Type),
              responseType: nameOf(m.resolvedResponseType as protobuf.Type),
              requestStream: m.requestStream === true,
              responseStream: m.responseStream === true,
            };
          })
          .sort((a, b) => (a.name < b.name ? -1 : 1));
      }
      if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) visit(obj);
    }
  };
  for (const pkg of packages) visit(root.lookup(pkg) as protobuf.Namespace);
  return {
    messages: sortedRecord(schema.messages),
    enums: sortedRecord(schema.enums),
    services: sortedRecord(schema.services),
  };
}
