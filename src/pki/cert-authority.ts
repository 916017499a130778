/**
 * The deployment's certificate authority: a directory holding the CA key and certificate,
 * and the node certificates it issues. Every node (tap, hub, vault) gets a key and a
 * certificate signed by this CA; peers accept only certificates chaining to it (mutual TLS).
 *
 *   CA_DIR/ca.key   EC P-256 private key (0600) — keep it on one trusted machine
 *   CA_DIR/ca.crt   self-signed CA certificate (copied to every node)
 *   CA_DIR/tokens/  one-time enrolment tokens (see enroll-token.ts)
 *
 * A node directory (written by `issueNode` or by enrolment) holds ca.crt, node.key, node.crt.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TidemarkError } from '../common/errors.js';
import { writeFileDurable } from '../common/durable-file.js';
import { openssl } from './openssl.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Check a node name (it becomes the certificate's CN and a DNS SAN). */
export function validateNodeName(name: string): string {
  if (!NAME_RE.test(name)) throw new TidemarkError('TM_USAGE', `"${name}" is not a valid node name`, { hint: 'use letters, digits, ".", "_" and "-" (up to 63), starting with a letter or digit' });
  return name;
}

/** Create a CA in `dir` (which must not hold one). Returns the CA certificate's SHA-256 fingerprint. */
export function initCa(dir: string, days = 3650): { dir: string; fingerprint: string } {
  if (existsSync(join(dir, 'ca.key'))) throw new TidemarkError('TM_USAGE', `${dir} already holds a CA`, { hint: 'use it, or choose another --dir' });
  mkdirSync(join(dir, 'tokens'), { recursive: true, mode: 0o700 });
  const key = join(dir, 'ca.key');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  const cert = openssl(['req', '-x509', '-new', '-key', key, '-days', String(days), '-subj', `/CN=Tidemark CA ${new Date().toISOString().slice(0, 10)}`,
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  writeFileDurable(join(dir, 'ca.crt'), Buffer.from(cert), 0o644);
  return { dir, fingerprint: caFingerprint(cert) };
}

/** SHA-256 over the DER of a PEM certificate, lowercase hex. */
export function caFingerprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/** Read CA_DIR/ca.crt; TM_USAGE when the directory holds no CA. */
export function readCaCert(caDir: string): string {
  try {
    return readFileSync(join(caDir, 'ca.crt'), 'utf8');
  } catch (err) {
    throw new TidemarkError('TM_USAGE', `${caDir} holds no CA (no ca.crt)`, { hint: 'create one with `tidemark pki init --dir DIR`', cause: err });
  }
}

/** A fresh EC P-256 key and a certificate request for `name`, made in a private temp dir. */
export function newKeyAndCsr(name: string): { key: string; csr: string } {
  const tmp = mkdtempSync(join(tmpdir(), 'tidemark-pki-'));
  try {
    const keyFile = join(tmp, 'node.key');
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
    const csr = openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${name}`]);
    return { key: readFileSync(keyFile, 'utf8'), csr };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Sign a certificate request with the CA. The CN and SANs come from the arguments, never
 * from the request, so an enrolling node cannot name itself something it was not given.
 */
export function signCsr(caDir: string, csrPem: string, name: string, sans: readonly string[], days = 825): string {
  validateNodeName(name);
  readCaCert(caDir);
  const tmp = mkdtempSync(join(tmpdir(), 'tidemark-pki-'));
  try {
    const csr = join(tmp, 'req.csr');
    const ext = join(tmp, 'ext.cnf');
    writeFileSync(csr, csrPem);
    const alt = [`DNS:${name}`, 'DNS:localhost', 'IP:127.0.0.1', ...sans.map((s) => (/^[\d.]+$|:/.test(s) ? `IP:${s}` : `DNS:${s}`))];
    writeFileSync(ext, [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=${[...new Set(alt)].join(',')}`,
    ].join('\n') + '\n');
    return openssl(['x509', '-req', '-in', csr, '-CA', join(caDir, 'ca.crt'), '-CAkey', join(caDir, 'ca.key'), '-set_serial', `0x${randomBytes(15).toString('hex')}`,
      '-days', String(days), '-subj', `/CN=${name}`, '-extfile', ext]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Write a node directory: ca.crt, node.key (0600), node.crt. */
export function writeNodeDir(out: string, ca: string, key: string, cert: string): void {
  mkdirSync(out, { recursive: true, mode: 0o700 });
  writeFileDurable(join(out, 'ca.crt'), Buffer.from(ca), 0o644);
  writeFileDurable(join(out, 'node.key'), Buffer.from(key), 0o600);
  writeFileDurable(join(out, 'node.crt'), Buffer.from(cert), 0o644);
}

/** Offline issue: key, request and certificate for `name`, written to `out`. */
export function issueNode(caDir: string, name: string, out: string, sans: readonly string[] = []): { name: string; out: string } {
  validateNodeName(name);
  const { key, csr } = newKeyAndCsr(name);
  const cert = signCsr(caDir, csr, name, sans);
  writeNodeDir(out, readCaCert(caDir), key, cert);
  return { name, out };
}
