/**
 * The hub's side of enrolment: a peer without a valid certificate may send exactly one
 * `enroll` frame; a good token gets it a certificate, anything else is refused and logged.
 * Nothing else is ever read from an unauthenticated peer.
 */
import type tls from 'node:tls';
import { TidemarkError } from '../common/errors.js';
import { EnrollSchema, redeemToken } from '../pki/enrolment.js';
import { FrameType } from '../wire/frame-codec.js';
import { FramedConnection } from '../wire/framed-connection.js';
import { parseJson } from '../wire/messages.js';

export async function serveEnrolment(socket: tls.TLSSocket, caDir: string, reason: string, log: (l: string) => void): Promise<void> {
  const who = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
  const conn = new FramedConnection(socket);
  let f;
  try {
    f = await conn.expect(FrameType.enroll, 10_000);
  } catch {
    log(`refused unauthenticated peer ${who}: ${reason}`);
    conn.close();
    return;
  }
  try {
    const req = parseJson(f, EnrollSchema, 'enroll');
    const r = redeemToken(caDir, req.token, req.csr);
    await conn.send(FrameType.enrolled, r);
    log(`enrolled node "${r.name}" from ${who}`);
    socket.end();
  } catch (err) {
    log(`refused enrolment from ${who}: ${(err as Error).message}`);
    await conn.closeWithError(err instanceof TidemarkError ? err : new TidemarkError('TM_AUTH', 'enrolment failed'));
  }
}
