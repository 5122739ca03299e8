// Peer TLS from etcd's flags: --peer-cert-file/--peer-key-file/--peer-trusted-ca-file,
// --peer-client-cert-auth, and --peer-auto-tls (a self-signed certificate under
// <data-dir>/fixtures/peer; peers then do not verify each other's certificates, as in etcd).
import { join } from "node:path";
import { readTlsFile, selfSignedCert } from "../common/tls-files.js";
import {
  checkIdentityRule,
  createTlsGate,
  hasIdentityRule,
  type CertIdentityRule,
  type GateLogger,
} from "../common/tls-gate.js";
import type { PeerClientTls, PeerServerTls } from "./protocol.js";

export interface PeerTlsConfig {
  peerCertFile: string;
  peerKeyFile: string;
  peerTrustedCaFile: string;
  peerClientCertAuth: boolean;
  peerAutoTls: boolean;
  dataDir: string;
  peerCrlFile?: string;
  peerCertAllowedCn?: string;
  peerCertAllowedHostname?: string;
}

export interface PeerTls {
  server: PeerServerTls;
  client: PeerClientTls;
}

/** Undefined when no peer TLS is configured (plain h2c between members). */
export function loadPeerTls(
  config: PeerTlsConfig,
  hosts: readonly string[],
  logger?: GateLogger,
): PeerTls | undefined {
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
  const identity: CertIdentityRule = {
    allowedCn: config.peerCertAllowedCn ?? "",
    allowedHostname: config.peerCertAllowedHostname ?? "",
  };
  checkIdentityRule(identity);
  // As etcd 3.4 does, a trusted CA alone already makes peer certificates required.
  const clientCertAuth = (config.peerClientCertAuth || ca !== undefined) && !auto;
  const gate = createTlsGate({ identity, crlFile: config.peerCrlFile, requireCert: clientCertAuth, logger });
  return {
    server: { cert, key, ca, clientCertAuth, gate },
    // A member presents its certificate to peers too (they may require client certificates), and
    // holds theirs to the same CN/hostname rule, as etcd does.
    client: {
      cert,
      key,
      ca,
      rejectUnauthorized: !auto,
      ...(hasIdentityRule(identity) ? { identity } : {}),
    },
  };
}
