// The part of hpack.js (no bundled types) that src/api/h2-authority.ts uses: decoding one HPACK
// string literal, Huffman-coded or not.
declare module "hpack.js" {
  interface HpackDecoder {
    push(bytes: Buffer): void;
    /** Decodes the string literal at the read position: its bytes (as an array when Huffman-coded). */
    decodeStr(): number[] | Buffer;
  }
  const hpack: { decoder: { create(): HpackDecoder } };
  export default hpack;
}
