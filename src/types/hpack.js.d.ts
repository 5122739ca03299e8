// hpack.js ships no types; src/api/grpc/h2-connection.ts describes the parts it uses.
declare module "hpack.js" {
  const hpack: unknown;
  export default hpack;
}
