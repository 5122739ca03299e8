// The simulator's state machine: a tiny key-value register per member. Committed Normal entries
// carry "set <key> <value>"; each key remembers its value and the log index that wrote it, so a
// read can be compared against the writes acknowledged before it by log position.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface RegisterValue {
  value: string;
  /** Log index of the entry that wrote this value. */
  index: number;
}

export interface SetCommand {
  key: string;
  value: string;
}

export function encodeSet(key: string, value: string): Uint8Array {
  return encoder.encode(`set ${key} ${value}`);
}

/** Parse a Normal entry's data; undefined for empty (leader no-op) or foreign data. */
export function decodeSet(data: Uint8Array): SetCommand | undefined {
  if (data.length === 0) return undefined;
  const parts = decoder.decode(data).split(" ");
  if (parts.length !== 3 || parts[0] !== "set") return undefined;
  return { key: parts[1]!, value: parts[2]! };
}

export class KvRegister {
  private readonly values = new Map<string, RegisterValue>();

  apply(index: number, cmd: SetCommand): void {
    this.values.set(cmd.key, { value: cmd.value, index });
  }

  get(key: string): RegisterValue | undefined {
    return this.values.get(key);
  }

  /** Serialize for an application snapshot. */
  toSnapshot(): Uint8Array {
    const rows = [...this.values.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    return encoder.encode(JSON.stringify(rows));
  }

  static fromSnapshot(data: Uint8Array): KvRegister {
    const reg = new KvRegister();
    if (data.length === 0) return reg;
    const rows = JSON.parse(decoder.decode(data)) as [string, RegisterValue][];
    for (const [k, v] of rows) reg.values.set(k, { value: v.value, index: v.index });
    return reg;
  }
}
