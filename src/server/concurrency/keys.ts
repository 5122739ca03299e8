// Key layout of etcd's lock and election recipes: every contender owns the key
// `<name>/<lease id in lowercase hex>` and the oldest such key (smallest create revision) wins.

const SLASH = 0x2f;

/** `name` + "/": the prefix under which every contender of `name` keeps its key. */
export function contenderPrefix(name: Uint8Array): Uint8Array {
  const prefix = new Uint8Array(name.length + 1);
  prefix.set(name, 0);
  prefix[name.length] = SLASH;
  return prefix;
}

/** The key a contender holding `lease` owns under `prefix` (etcd formats the lease with %x). */
export function contenderKey(prefix: Uint8Array, lease: bigint): Uint8Array {
  const hex = new TextEncoder().encode(lease.toString(16));
  const key = new Uint8Array(prefix.length + hex.length);
  key.set(prefix, 0);
  key.set(hex, prefix.length);
  return key;
}

/** The range end that selects every key starting with `prefix` ([0]: no end, for all-0xff prefixes). */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix[i]!;
    if (byte < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = byte + 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}
