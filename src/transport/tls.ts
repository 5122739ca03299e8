// Peer TLS from etcd's flags: --peer-cert-file/--peer-key-file/--peer-trusted-ca-file,
// --peer-client-cert-auth, and --peer-auto-tls (a self-signed certificate under
// <data-dir>/fixtures/peer; peers then do not verify each other's certificates, as in etcd).
import { join } from "node:path";
import { readTlsFile, selfSignedCert } from "../common/tls-files.js";
import type { PeerClientTls, PeerServerTls } from "./protocol.js";

export interface PeerTlsConfig {
  peerCertFile: string;
  peerKeyFile: string;
  peerTrustedCaFile: string;
  peerClientCertAuth: boolean;
  peerAutoTls: boolean;
  dataDir: string;
}

export interface PeerTls {
  server: PeerServerTls;
  client: PeerClientTls;
}

/** Undefined when no peer TLS is configured (plain h2c between members). */
export function loadPeerTls(config: PeerTlsConfig, hosts: readonly string[]): PeerTls | undefined {
  let certFile = config.peerCertFile;
  let keyFile = config.peerKeyFile;
  let auto = false;
  if ((certFile === "" || keyFile === "") && config.peerAutoTls) {
    ({ certFile, keyFile } = selfSignedCert(join(config.dataDir, "fixtures", "peer"), hosts));
    auto = true;
  }
  if (certFile === "" || keyFile === "") return undefined;
  const cert = readTlsFile("--peer-cert-file", certFile);
  const key = readTlsFile("--peer-key-file", keyFile);
  const ca =
    config.peerTrustedCaFile !== ""
      ? readTlsFile("--peer-trusted-ca-file", config.peerTrustedCaFile)
      : undefined;
  if (config.peerClientCertAuth && ca === undefined && !auto) {
    throw new Error("--peer-client-cert-auth needs --peer-trusted-ca-file to verify peer certificates");
  }
  return {
    server: { cert, key, ca, clientCertAuth: config.peerClientCertAuth && !auto },
    // A member presents its certificate to peers too (they may require client certificates).
    client: { cert, key, ca, rejectUnauthorized: !auto },
  };
}
