// The per-connection limit on concurrent streams (etcd's --max-concurrent-streams) as etcd's two
// client-port HTTP/2 servers apply it, so each of our connections can copy the right one:
//
// - plain connections: etcd serves them with grpc-go's own transport. It advertises
//   SETTINGS_MAX_CONCURRENT_STREAMS with the configured value (etcd's default math.MaxUint32,
//   "no limit", is advertised as 4294967295; only 0 is left out and then means no limit), and
//   answers a HEADERS frame that opens one stream too many with RST_STREAM(REFUSED_STREAM).
// - TLS connections: etcd serves them through Go's net/http HTTP/2 server with the gRPC handler
//   on top. It always advertises the value (0 becomes its built-in 250) and refuses a stream too
//   many with RST_STREAM(PROTOCOL_ERROR) once the client has acknowledged that SETTINGS frame
//   (RFC 9113 §5.1.2), or REFUSED_STREAM before the acknowledgement.
//
// Either way only the one stream is refused; the connection and its other streams carry on.

import { DEFAULT_MAX_CONCURRENT_STREAMS } from "../../config/server-config.js";

export { DEFAULT_MAX_CONCURRENT_STREAMS };

/** net/http's HTTP/2 server's limit when it is given 0. */
const NET_HTTP2_DEFAULT_STREAMS = 250;

const PROTOCOL_ERROR = 0x1;
const REFUSED_STREAM = 0x7;

export interface StreamLimit {
  /** The SETTINGS_MAX_CONCURRENT_STREAMS value to send, or undefined to leave the setting out. */
  readonly advertised: number | undefined;
  /** Streams a client may have open at once; the next one is refused. */
  readonly limit: number;
  /** The RST_STREAM error code for a refused stream. */
  refuseCode(settingsAcked: boolean): number;
}

export function streamLimit(configured: number, tls: boolean): StreamLimit {
  if (tls) {
    const limit = configured > 0 ? configured : NET_HTTP2_DEFAULT_STREAMS;
    return {
      advertised: limit,
      limit,
      refuseCode: (acked) => (acked ? PROTOCOL_ERROR : REFUSED_STREAM),
    };
  }
  return {
    advertised: configured > 0 ? configured : undefined,
    limit: configured > 0 ? configured : DEFAULT_MAX_CONCURRENT_STREAMS,
    refuseCode: () => REFUSED_STREAM,
  };
}
