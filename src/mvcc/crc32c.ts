// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum behind Hash and HashKV.
// Incremental: feed chunks to update() and read value at the end.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export class Crc32c {
  private crc = 0xffffffff;

  update(data: Uint8Array): this {
    let c = this.crc;
    for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    this.crc = c;
    return this;
  }

  get value(): number {
    return (this.crc ^ 0xffffffff) >>> 0;
  }
}

export function crc32c(data: Uint8Array): number {
  return new Crc32c().update(data).value;
}
