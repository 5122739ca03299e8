// CRC-32C (Castagnoli), table-driven with slicing-by-8. Checksums WAL records and snapshot files
// and is the hash behind Hash/HashKV. `crc32c(b, crc32c(a))` equals `crc32c(a ++ b)` (WAL chaining).

const POLY = 0x82f63b78;

function buildTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[n] = c >>> 0;
  }
  tables.push(t0);
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1]!;
    const cur = new Uint32Array(256);
    for (let n = 0; n < 256; n++) cur[n] = ((prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!) >>> 0;
    tables.push(cur);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = buildTables() as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/**
 * CRC-32C of `data[start, end)`, continuing from `prev` (the CRC of everything before; 0 to start).
 * Returns an unsigned 32-bit value.
 */
export function crc32c(data: Uint8Array, prev = 0, start = 0, end = data.length): number {
  let c = ~prev | 0;
  let i = start;
  while (end - i >= 8) {
    c ^= data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    c =
      T7[c & 0xff]! ^
      T6[(c >>> 8) & 0xff]! ^
      T5[(c >>> 16) & 0xff]! ^
      T4[c >>> 24]! ^
      T3[data[i + 4]!]! ^
      T2[data[i + 5]!]! ^
      T1[data[i + 6]!]! ^
      T0[data[i + 7]!]!;
    i += 8;
  }
  while (i < end) c = T0[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Incremental CRC-32C: feed chunks to update(), read `value` at the end. */
export class Crc32c {
  private crc = 0;

  update(data: Uint8Array): this {
    this.crc = crc32c(data, this.crc);
    return this;
  }

  get value(): number {
    return this.crc;
  }
}
