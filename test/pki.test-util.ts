// A throwaway PKI for TLS tests, made with the openssl command: a CA, certificates it signs
// (chosen CN and SANs, server and client use), and a CRL that revokes some of them.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

function openssl(args: string[]): string {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] }).toString("utf8");
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export interface Issued {
  cert: string;
  key: string;
}

export class TestPki {
  readonly ca: string;
  readonly caKey: string;
  private serial = 0x1000;

  constructor(readonly dir: string) {
    this.ca = join(dir, "ca.pem");
    this.caKey = join(dir, "ca-key.pem");
    openssl([
      "req",
      "-x509",
      ...EC,
      "-keyout",
      this.caKey,
      "-out",
      this.ca,
      "-days",
      "2",
      "-subj",
      "/CN=kvorum test CA",
    ]);
    writeFileSync(join(dir, "index.txt"), "");
    writeFileSync(join(dir, "crlnumber"), "01\n");
    writeFileSync(
      join(dir, "ca.cnf"),
      [
        "[ ca ]",
        "default_ca = test_ca",
        "[ test_ca ]",
        `database = ${join(dir, "index.txt")}`,
        `crlnumber = ${join(dir, "crlnumber")}`,
        "default_md = sha256",
        "default_crl_days = 2",
        "",
      ].join("\n"),
    );
  }

  /** A certificate for `name` (file names), subject CN `cn`, SANs like "IP:127.0.0.1,DNS:localhost". */
  issue(name: string, cn: string, sans: string): Issued {
    const cert = join(this.dir, `${name}.pem`);
    const key = join(this.dir, `${name}-key.pem`);
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    openssl(["req", ...EC, "-keyout", key, "-out", csr, "-subj", `/CN=${cn}`]);
    const lines = ["extendedKeyUsage=serverAuth,clientAuth"];
    if (sans !== "") lines.push(`subjectAltName=${sans}`);
    writeFileSync(ext, lines.join("\n") + "\n");
    this.serial += 1;
    openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      this.ca,
      "-CAkey",
      this.caKey,
      "-set_serial",
      `0x${this.serial.toString(16)}`,
      "-out",
      cert,
      "-days",
      "2",
      "-extfile",
      ext,
    ]);
    return { cert, key };
  }

  /** Revokes the certificates and writes a CRL (PEM) listing every one revoked so far. */
  revoke(certs: readonly string[], out = join(this.dir, "crl.pem")): string {
    const base = ["-config", join(this.dir, "ca.cnf"), "-keyfile", this.caKey, "-cert", this.ca];
    for (const cert of certs) openssl(["ca", ...base, "-revoke", cert]);
    openssl(["ca", ...base, "-gencrl", "-out", out]);
    return out;
  }
}
