// Certificate files for TLS listeners: etcd's auto TLS (a self-signed certificate made once
// under <data-dir>/fixtures/<client|peer> and reused) and reading the configured files with
// errors that name the flag. Node cannot write X.509 certificates itself, so auto TLS runs the
// openssl command.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";

export function selfSignedCert(dir: string, hosts: readonly string[]): { certFile: string; keyFile: string } {
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const names = new Set<string>(["localhost", ...hosts]);
  const san = [...names].map((h) => (net.isIP(h) !== 0 ? `IP:${h}` : `DNS:${h}`)).join(",");
  const args = [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "365",
    "-subj",
    "/O=kvorum",
    "-addext",
    `subjectAltName=${san}`,
  ];
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    throw new Error(
      `--auto-tls is not supported on this machine: generating a certificate needs the openssl command (${(err as Error).message.split("\n")[0]})`,
      { cause: err },
    );
  }
  return { certFile, keyFile };
}

/** Reads a certificate or key file; the error names the flag that gave the path. */
export function readTlsFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${flag} ${JSON.stringify(path)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
