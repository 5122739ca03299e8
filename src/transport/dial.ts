// Opening a connection to a peer URL: TCP with Nagle off for http://, TLS with ALPN (h2, or
// kvorum-raft for a raft stream) and the member's certificate, for peers that require one, for
// https://; unix:// and unixs:// the same over a unix socket (etcd's host:port socket path). Every
// outgoing peer connection (raft streams, snapshots, peer requests, the join-time member list) is
// made here.
import http2 from "node:http2";
import net from "node:net";
import tls from "node:tls";
import { serverIdentityCheck } from "../common/tls-gate.js";
import { isSecureUrl, isUnixUrl, unixSocketPath, unixUrlHost } from "../common/unix-socket.js";
import type { PeerClientTls } from "./protocol.js";

/** The socket under a peer session. `localhost` dials 127.0.0.1, as the listeners bind it. */
export function dialPeer(
  url: string,
  peerTls: PeerClientTls | undefined,
  alpn: readonly string[] = ["h2"],
): net.Socket {
  const unix = isUnixUrl(url);
  const u = new URL(url);
  // For a unixs socket the certificate is checked against the URL's host, as Go's client does.
  const host = unix ? unixUrlHost(url) : u.hostname.replace(/^\[(.*)\]$/, "$1");
  const connectHost = host === "localhost" ? "127.0.0.1" : host;
  const where = unix ? { path: unixSocketPath(url) } : { port: Number(u.port || 443) };
  if (isSecureUrl(url)) {
    const socket = tls.connect({
      host: connectHost,
      ...where,
      servername: net.isIP(host) === 0 ? host : undefined,
      ALPNProtocols: [...alpn],
      ca: peerTls?.ca,
      cert: peerTls?.cert,
      key: peerTls?.key,
      rejectUnauthorized: peerTls?.rejectUnauthorized ?? true,
      ...(peerTls?.identity !== undefined
        ? { checkServerIdentity: serverIdentityCheck(peerTls.identity) }
        : {}),
    });
    socket.setNoDelay(true);
    return socket;
  }
  if (unix) return net.connect({ path: unixSocketPath(url) });
  return net.connect({ host: connectHost, port: Number(u.port || 80), noDelay: true });
}

/** An HTTP/2 session to a peer URL over dialPeer's connection. */
export function connectPeer(
  url: string,
  peerTls: PeerClientTls | undefined,
  settings?: http2.Settings,
): http2.ClientHttp2Session {
  // HTTP/2 knows only http and https authorities; a unix URL keeps its host:port as the authority.
  const authority = url.replace(/^unixs:/, "https:").replace(/^unix:/, "http:");
  return http2.connect(authority, { createConnection: () => dialPeer(url, peerTls), settings });
}
