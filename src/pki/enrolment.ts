/**
 * Enrolment with a one-time token: the CA's operator runs `tidemark pki token --name N`
 * and hands the token to the new node, which runs `tidemark pki enroll --hub URL --token T`.
 * The node makes its key locally (it never leaves the node), sends a certificate request
 * and the token to the hub (started with `--ca-dir`), and receives its certificate.
 *
 * Token: `tmtoken1.<id, 16 hex>.<secret, 32 hex>.<SHA-256 of the CA certificate, 64 hex>`.
 * The CA keeps CA_DIR/tokens/<id>.json = {name, secret: SHA-256 of the secret, expires};
 * redeeming renames it to <id>.used first (atomic: a token works once). The node checks,
 * before it sends the token, that the hub's certificate is signed by the CA the token
 * names (the fingerprint pins it), so an impostor cannot harvest a token.
 */
import { X509Certificate, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { z } from 'zod';
import { TidemarkError, isErrno } from '../common/errors.js';
import { writeFileDurable } from '../common/durable-file.js';
import { FrameType } from '../wire/frame-codec.js';
import { FramedConnection } from '../wire/framed-connection.js';
import { parseJson } from '../wire/messages.js';
import { caFingerprint, newKeyAndCsr, readCaCert, signCsr, writeNodeDir } from './cert-authority.js';
import { parseNodeUrl } from './tls-identity.js';

const TOKEN_RE = /^tmtoken1\.([0-9a-f]{16})\.([0-9a-f]{32})\.([0-9a-f]{64})$/;
const TokenFile = z.object({ name: z.string(), secret: z.string().regex(/^[0-9a-f]{64}$/), expires: z.string() });
export const EnrollSchema = z.object({ token: z.string().max(200), csr: z.string().max(16_384) });
const EnrolledSchema = z.object({ name: z.string(), cert: z.string().max(16_384), ca: z.string().max(16_384) });

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** Make a token for `name`, valid `ttlMs`. */
export function createEnrolmentToken(caDir: string, name: string, ttlMs: number): { token: string; name: string; expires: string } {
  if (!(ttlMs > 0)) throw new TidemarkError('TM_USAGE', '--ttl must be a positive number of minutes');
  const fp = caFingerprint(readCaCert(caDir));
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(16).toString('hex');
  const expires = new Date(Date.now() + ttlMs).toISOString();
  writeFileDurable(join(caDir, 'tokens', `${id}.json`), Buffer.from(JSON.stringify({ name, secret: sha256(secret), expires })), 0o600);
  return { token: `tmtoken1.${id}.${secret}.${fp}`, name, expires };
}

/** Hub side: check and consume a token, sign the request; TM_AUTH when the token is not good. */
export function redeemToken(caDir: string, token: string, csr: string): { name: string; cert: string; ca: string } {
  const m = TOKEN_RE.exec(token);
  if (!m) throw new TidemarkError('TM_AUTH', 'malformed enrolment token');
  const [, id, secret] = m;
  const file = join(caDir, 'tokens', `${id}.json`);
  let t: z.infer<typeof TokenFile>;
  try {
    t = TokenFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    throw new TidemarkError('TM_AUTH', `unknown or already used enrolment token ${id}`);
  }
  if (!timingSafeEqual(Buffer.from(sha256(secret!), 'hex'), Buffer.from(t.secret, 'hex'))) throw new TidemarkError('TM_AUTH', `wrong secret for enrolment token ${id}`);
  if (Date.parse(t.expires) < Date.now()) throw new TidemarkError('TM_AUTH', `enrolment token ${id} expired at ${t.expires}`);
  try {
    renameSync(file, join(caDir, 'tokens', `${id}.used`));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new TidemarkError('TM_AUTH', `enrolment token ${id} was used meanwhile`);
    throw err;
  }
  return { name: t.name, cert: signCsr(caDir, csr, t.name, []), ca: readCaCert(caDir) };
}

/** Node side: enrol through the hub at `url`, write the node directory `out`. */
export async function enrollNode(url: string, token: string, out: string): Promise<{ name: string; out: string }> {
  const m = TOKEN_RE.exec(token.trim());
  if (!m) throw new TidemarkError('TM_USAGE', 'that is not an enrolment token', { hint: 'copy it whole from `tidemark pki token`' });
  const fp = m[3]!;
  const { host, port } = parseNodeUrl(url);
  // No CA is known yet: the hub is checked against the token's fingerprint below instead.
  const socket = await new Promise<tls.TLSSocket>((res, rej) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
    s.once('secureConnect', () => res(s));
    s.once('error', (e) => rej(new TidemarkError('TM_UNREACHABLE', `Cannot reach ${url}: ${e.message}`, { cause: e })));
  });
  try {
    const chain = socket.getPeerCertificate(true);
    const leaf = new X509Certificate(chain.raw);
    const issuerRaw = chain.issuerCertificate?.raw;
    const ca = issuerRaw ? new X509Certificate(issuerRaw) : null;
    if (!ca || sha256(ca.raw) !== fp || !ca.ca || !leaf.verify(ca.publicKey)) {
      throw new TidemarkError('TM_AUTH', `Refused ${url}: its certificate is not from the CA this token names`, { hint: 'check the hub address; the token was not sent' });
    }
    const { key, csr } = newKeyAndCsr('enrolling-node');
    const conn = new FramedConnection(socket);
    await conn.send(FrameType.enroll, { token: token.trim(), csr });
    const r = parseJson(await conn.expect(FrameType.enrolled, 30_000), EnrolledSchema, 'enrolled');
    if (sha256(new X509Certificate(r.ca).raw) !== fp || !new X509Certificate(r.cert).verify(new X509Certificate(r.ca).publicKey)) {
      throw new TidemarkError('TM_AUTH', 'the hub returned a certificate not signed by the token\'s CA');
    }
    writeNodeDir(out, r.ca, key, r.cert);
    return { name: r.name, out };
  } catch (err) {
    if (err instanceof TidemarkError && err.code === 'TM_PROTOCOL') throw new TidemarkError('TM_AUTH', `Enrolment refused by ${url}: ${err.message.replace(/^peer reported: /, '')}`, { cause: err });
    throw err;
  } finally {
    socket.destroy();
  }
}
