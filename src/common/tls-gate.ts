// Who may connect over TLS, beyond "signed by a trusted CA": etcd's --client-crl-file /
// --peer-crl-file (a certificate whose serial a CRL lists is refused), --peer-cert-allowed-cn
// (the certificate's CN must equal it) and --peer-cert-allowed-hostname /
// --client-cert-allowed-hostname (the certificate must be valid for that host name or IP, as Go's
// x509 VerifyHostname decides: SANs only, no CN fallback). etcd checks the CN/hostname inside the
// handshake and the CRL right after it; Node has no hook inside a server handshake, so a gate
// checks both as soon as the handshake completes and closes the connection before anything is
// read from it. Refusals (and failed handshakes) are logged as etcd logs them: "rejected connection".
import { X509Certificate } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import net from "node:net";
import tls from "node:tls";

/** etcd's message when a certificate fails the CN or hostname rule (both directions). */
export const CERT_IDENTITY_FAILED = "client certificate authentication failed";

export interface CertIdentityRule {
  /** --peer-cert-allowed-cn ("" = any). */
  allowedCn: string;
  /** --peer-cert-allowed-hostname / --client-cert-allowed-hostname ("" = any). */
  allowedHostname: string;
}

export interface GateLogger {
  warn(obj: object, msg: string): void;
}

/** etcd refuses to start with both rules set; the message is etcd's. */
export function checkIdentityRule(rule: CertIdentityRule): void {
  if (rule.allowedCn !== "" && rule.allowedHostname !== "") {
    throw new Error(
      `AllowedCN and AllowedHostname are mutually exclusive (cn=${JSON.stringify(rule.allowedCn)}, hostname=${JSON.stringify(rule.allowedHostname)})`,
    );
  }
}

export function hasIdentityRule(rule: CertIdentityRule | undefined): rule is CertIdentityRule {
  return rule !== undefined && (rule.allowedCn !== "" || rule.allowedHostname !== "");
}

/** Go's Certificate.VerifyHostname: an IP must be an IP SAN; a name must match a DNS SAN. */
export function certMatchesHost(cert: X509Certificate, host: string): boolean {
  const bare = host.length >= 3 && host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (net.isIP(bare) !== 0) return cert.checkIP(bare) !== undefined;
  const name = host.toLowerCase().replace(/\.$/, "");
  return (
    cert.checkHost(name, {
      subject: "never",
      wildcards: true,
      partialWildcards: false,
      multiLabelWildcards: false,
    }) !== undefined
  );
}

/** The subject's CN (the last one when there are several, as Go's pkix.Name keeps). */
function commonName(peer: tls.PeerCertificate): string {
  const cn = (peer.subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  if (Array.isArray(cn)) return cn[cn.length - 1] ?? "";
  return cn ?? "";
}

/** Whether a certificate satisfies the rule (true when no rule is set). */
export function identityAllowed(peer: tls.PeerCertificate, rule: CertIdentityRule): boolean {
  if (rule.allowedHostname !== "") {
    return certMatchesHost(new X509Certificate(peer.raw), rule.allowedHostname);
  }
  if (rule.allowedCn !== "") return commonName(peer) === rule.allowedCn;
  return true;
}

// ---- Certificate revocation lists ---------------------------------------------------------

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function readTlv(der: Buffer, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new Error("truncated DER");
  const tag = der[pos] as number;
  let len = der[pos + 1] as number;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new Error("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[p++] as number);
  }
  if (p + len > limit) throw new Error("truncated DER");
  return { tag, start: p, end: p + len };
}

function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end;) {
    const t = readTlv(der, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** A serial as lower-case hex of its magnitude, without leading zeros ("" for 0). */
function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+/, "");
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/**
 * The serial numbers a CRL revokes (PEM "X509 CRL" or DER, as Go's x509.ParseCRL takes). Like
 * etcd, only the serials count: the CRL's signature, issuer and dates are not checked.
 */
export function crlRevokedSerials(data: Buffer): Set<string> {
  let der = data;
  const text = data.subarray(0, 64).toString("latin1");
  if (text.startsWith("-----BEGIN X509 CRL")) {
    const m = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(data.toString("latin1"));
    if (m === null) throw new Error("x509: malformed PEM CRL");
    der = Buffer.from((m[1] as string).replace(/\s+/g, ""), "base64");
  }
  try {
    const outer = readTlv(der, 0, der.length);
    if (outer.tag !== SEQUENCE) throw new Error("not a SEQUENCE");
    const tbs = children(der, outer)[0];
    if (tbs === undefined || tbs.tag !== SEQUENCE) throw new Error("no tbsCertList");
    const fields = children(der, tbs);
    let i = 0;
    if (fields[i]?.tag === INTEGER) i++; // version
    i += 3; // signature algorithm, issuer, thisUpdate
    const next = fields[i]?.tag;
    if (next === UTC_TIME || next === GENERALIZED_TIME) i++; // nextUpdate
    const serials = new Set<string>();
    const list = fields[i];
    if (list === undefined || list.tag !== SEQUENCE) return serials;
    for (const entry of children(der, list)) {
      const serial = children(der, entry)[0];
      if (serial === undefined || serial.tag !== INTEGER) throw new Error("bad revoked entry");
      serials.add(normalSerial(der.subarray(serial.start, serial.end).toString("hex")));
    }
    return serials;
  } catch (err) {
    throw new Error(`x509: malformed crl: ${(err as Error).message}`, { cause: err });
  }
}

/** A CRL file, read again whenever it changes (etcd reads it for every connection). */
export class CrlFile {
  private cached: { key: string; serials: Set<string> } | undefined;

  constructor(readonly path: string) {}

  async revoked(): Promise<Set<string>> {
    const st = await stat(this.path);
    const key = `${st.mtimeMs}:${st.ctimeMs}:${st.size}:${st.ino}`;
    if (this.cached?.key === key) return this.cached.serials;
    const serials = crlRevokedSerials(await readFile(this.path));
    this.cached = { key, serials };
    return serials;
  }
}

/** The certificates a peer presented, leaf first: the chain Node built, minus a self-signed root. */
function presentedChain(leaf: tls.DetailedPeerCertificate): tls.PeerCertificate[] {
  const out: tls.PeerCertificate[] = [];
  const seen = new Set<string>();
  let c: tls.DetailedPeerCertificate | undefined = leaf;
  while (c !== undefined && c.raw !== undefined && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    const issuer: tls.DetailedPeerCertificate | undefined = c.issuerCertificate;
    const selfSigned = issuer === undefined || issuer.fingerprint256 === c.fingerprint256;
    if (selfSigned && out.length > 0) break;
    out.push(c);
    c = issuer;
  }
  return out;
}

// ---- The gate -----------------------------------------------------------------------------

export interface TlsGateOptions {
  /** CN / hostname rule for certificates the other side presents ("" fields: none). */
  identity?: CertIdentityRule;
  /** --client-crl-file / --peer-crl-file ("" or undefined: none). */
  crlFile?: string;
  /** Whether the listener requires client certificates (the identity rule applies only then). */
  requireCert: boolean;
  logger?: GateLogger;
}

export interface TlsGate {
  /** Why a completed handshake is refused, or undefined to accept it. */
  refusal(socket: tls.TLSSocket): Promise<string | undefined>;
  /** Logs a refused connection or a failed handshake as etcd does. */
  logRejected(socket: net.Socket, error: string): void;
  /** False when there is nothing to check after the handshake (connections pass at once). */
  readonly checks: boolean;
}

export function createTlsGate(opts: TlsGateOptions): TlsGate {
  const identity = hasIdentityRule(opts.identity) && opts.requireCert ? opts.identity : undefined;
  const crl = opts.crlFile !== undefined && opts.crlFile !== "" ? new CrlFile(opts.crlFile) : undefined;
  return {
    checks: identity !== undefined || crl !== undefined,
    async refusal(socket) {
      const leaf = socket.getPeerCertificate(true);
      const hasCert = leaf.raw !== undefined;
      if (identity !== undefined && (!hasCert || !identityAllowed(leaf, identity))) {
        return CERT_IDENTITY_FAILED;
      }
      if (crl !== undefined && hasCert) {
        const revoked = await crl.revoked();
        for (const c of presentedChain(leaf)) {
          const serial = normalSerial(c.serialNumber);
          if (revoked.has(serial)) {
            const even = serial.length % 2 === 1 ? `0${serial}` : serial;
            return `transport: certificate serial ${even} revoked`;
          }
        }
      }
      return undefined;
    },
    logRejected(socket, error) {
      const fields: Record<string, unknown> = {};
      // Unknown for unix sockets, and once a failed handshake has torn the connection down.
      const remote = remoteAddr(socket);
      if (remote !== undefined) fields["remote-addr"] = remote;
      fields["server-name"] = (socket as Partial<tls.TLSSocket>).servername || "";
      const tlsSocket = socket as Partial<tls.TLSSocket>;
      const cert =
        typeof tlsSocket.getPeerCertificate === "function" ? tlsSocket.getPeerCertificate() : undefined;
      if (cert?.raw !== undefined) {
        const sans = (cert.subjectaltname ?? "").split(", ").filter((s) => s !== "");
        fields["ip-addresses"] = sans.filter((s) => s.startsWith("IP Address:")).map((s) => s.slice(11));
        fields["dns-names"] = sans.filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4));
      }
      fields.error = error;
      opts.logger?.warn(fields, "rejected connection");
    },
  };
}

function remoteAddr(socket: net.Socket): string | undefined {
  const host = socket.remoteAddress;
  if (host === undefined) return undefined;
  return host.includes(":") ? `[${host}]:${socket.remotePort}` : `${host}:${socket.remotePort}`;
}

/**
 * Hands a TLS connection that completed its handshake to `accept` once the gate lets it through;
 * a refused one is logged and closed. Nothing is read from the socket meanwhile.
 */
export function admitThen(
  gate: TlsGate | undefined,
  socket: tls.TLSSocket,
  accept: (socket: tls.TLSSocket) => void,
): void {
  if (gate === undefined || !gate.checks) {
    accept(socket);
    return;
  }
  const ignore = (): void => {};
  socket.on("error", ignore);
  gate.refusal(socket).then(
    (reason) => {
      socket.off("error", ignore);
      if (socket.destroyed) return;
      if (reason === undefined) {
        accept(socket);
        return;
      }
      gate.logRejected(socket, reason);
      socket.destroy();
    },
    (err: unknown) => {
      gate.logRejected(socket, (err as Error).message);
      socket.destroy();
    },
  );
}

/**
 * For a TLS client (an outgoing peer connection): Node's usual host name check, then the rule
 * on the server's certificate (etcd applies the peer rules in both directions).
 */
export function serverIdentityCheck(
  rule: CertIdentityRule,
): (host: string, cert: tls.PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const usual = tls.checkServerIdentity(host, cert);
    if (usual !== undefined) return usual;
    return identityAllowed(cert, rule) ? undefined : new Error(CERT_IDENTITY_FAILED);
  };
}
