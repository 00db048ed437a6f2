// Throw-away certificate authorities and certificates for TLS tests, made by
// the openssl command line in a temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Issued {
  cert: string;
  key: string;
  /** Upper-case hex, as Node's getPeerCertificate().serialNumber reports it. */
  serial: string;
}

export class CertificateAuthority {
  private readonly dir: string;
  readonly cert: string;
  private readonly keyFile: string;
  private readonly certFile: string;
  private nextSerial = 0x1000;

  constructor(readonly name: string) {
    this.dir = mkdtempSync(path.join(os.tmpdir(), `ca-${name}-`));
    this.keyFile = path.join(this.dir, 'ca.key');
    this.certFile = path.join(this.dir, 'ca.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', this.keyFile, '-out', this.certFile, '-days', '2', '-subj', `/CN=${name}`], { stdio: 'pipe' });
    this.cert = readFileSync(this.certFile, 'utf8');
  }

  /** A certificate for commonName (server or client), with a fresh serial and subjectAltNames for loopback. */
  issue(commonName: string): Issued {
    const serial = (this.nextSerial++).toString(16).toUpperCase();
    const base = path.join(this.dir, `${commonName}-${serial}`);
    execFileSync('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${commonName}`], { stdio: 'pipe' });
    const ext = `${base}.ext`;
    writeFileSync(ext, `subjectAltName=DNS:${commonName},DNS:localhost,IP:127.0.0.1\n`);
    execFileSync('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', this.certFile, '-CAkey', this.keyFile, '-set_serial', `0x${serial}`, '-days', '2', '-extfile', ext, '-out', `${base}.crt`], { stdio: 'pipe' });
    return { cert: readFileSync(`${base}.crt`, 'utf8'), key: readFileSync(`${base}.key`, 'utf8'), serial };
  }

  /** A certificate whose validity ended in the past (openssl ca is the 3.0 command line's only way to set the dates). */
  issueExpired(commonName: string): Issued {
    const serial = (this.nextSerial++).toString(16).toUpperCase();
    const base = path.join(this.dir, `${commonName}-${serial}`);
    const db = path.join(this.dir, `db-${serial}`);
    mkdirSync(db);
    writeFileSync(path.join(db, 'index'), '');
    writeFileSync(path.join(db, 'serial'), `${serial}\n`);
    const config = path.join(db, 'ca.cnf');
    writeFileSync(config, `[ca]\ndefault_ca=d\n[d]\ndatabase=${db}/index\nnew_certs_dir=${db}\nserial=${db}/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n`);
    execFileSync('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${commonName}`], { stdio: 'pipe' });
    execFileSync('openssl', ['ca', '-batch', '-notext', '-config', config, '-cert', this.certFile, '-keyfile', this.keyFile, '-in', `${base}.csr`, '-out', `${base}.crt`, '-startdate', '20200101000000Z', '-enddate', '20200102000000Z'], { stdio: 'pipe' });
    return { cert: readFileSync(`${base}.crt`, 'utf8'), key: readFileSync(`${base}.key`, 'utf8'), serial };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
