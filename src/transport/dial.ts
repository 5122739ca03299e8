// Opening a connection to a peer URL: TCP with Nagle off for http://, TLS with ALPN (h2, or
// kvorum-raft for a raft stream) and the member's certificate, for peers that require one, for
// https://. Every outgoing peer connection (raft streams, snapshots, peer requests, the join-time
// member list) is made here.
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import type { PeerClientTls } from "./protocol.js";

/** The socket under a peer session. `localhost` dials 127.0.0.1, as the listeners bind it. */
export function dialPeer(
  url: string,
  peerTls: PeerClientTls | undefined,
  alpn: readonly string[] = ["h2"],
): net.Socket {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  const connectHost = host === "localhost" ? "127.0.0.1" : host;
  if (u.protocol === "https:") {
    const socket = tls.connect({
      host: connectHost,
      port: Number(u.port || 443),
      servername: net.isIP(host) === 0 ? host : undefined,
      ALPNProtocols: [...alpn],
      ca: peerTls?.ca,
      cert: peerTls?.cert,
      key: peerTls?.key,
      rejectUnauthorized: peerTls?.rejectUnauthorized ?? true,
    });
    socket.setNoDelay(true);
    return socket;
  }
  return net.connect({ host: connectHost, port: Number(u.port || 80), noDelay: true });
}

/** An HTTP/2 session to a peer URL over dialPeer's connection. */
export function connectPeer(
  url: string,
  peerTls: PeerClientTls | undefined,
  settings?: http2.Settings,
): http2.ClientHttp2Session {
  return http2.connect(url, { createConnection: () => dialPeer(url, peerTls), settings });
}
