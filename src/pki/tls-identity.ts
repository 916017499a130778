/**
 * A node's TLS identity (a node directory: ca.crt, node.key, node.crt) and the mutual-TLS
 * server and client built from it. Both sides require a certificate chaining to the one CA;
 * a server logs every refused peer on one line saying why.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { TidemarkError } from '../common/errors.js';

export interface TlsIdentity {
  dir: string;
  ca: string;
  key: string;
  cert: string;
  /** this node's name (the certificate's CN) */
  name: string;
}

/** Load a node directory; TM_USAGE naming the missing file. */
export function loadIdentity(dir: string): TlsIdentity {
  const read = (f: string): string => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch (err) {
      throw new TidemarkError('TM_USAGE', `Cannot read ${join(dir, f)}: the TLS directory must hold ca.crt, node.key and node.crt`, {
        hint: 'make one with `tidemark pki issue` or `tidemark pki enroll`', cause: err,
      });
    }
  };
  const cert = read('node.crt');
  const name = /CN=([^\n,]+)/.exec(new X509Certificate(cert).subject)?.[1] ?? 'unknown';
  return { dir, ca: read('ca.crt'), key: read('node.key'), cert, name };
}

/** Parse `tls://host:port` (or `host:port`). */
export function parseNodeUrl(url: string): { host: string; port: number } {
  const m = /^(?:tls:\/\/)?(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(url.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new TidemarkError('TM_USAGE', `"${url}" is not a node address`, { hint: 'use tls://HOST:PORT' });
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** The CN of a connected peer's certificate. */
export function peerName(socket: tls.TLSSocket): string {
  const c = socket.getPeerCertificate();
  const cn = c?.subject?.CN;
  return Array.isArray(cn) ? cn.join(',') : (cn ?? 'unknown');
}

export interface MtlsServerOptions {
  /** called for each authenticated peer */
  onPeer: (socket: tls.TLSSocket, name: string) => void;
  /**
   * called for a peer without a valid certificate; return true to keep it (enrolment),
   * false or omit to refuse it. Refusals are logged either way.
   */
  onUnauthenticated?: (socket: tls.TLSSocket, reason: string) => boolean;
  log: (line: string) => void;
  /** node names (certificate CNs) allowed in; empty or omitted: any node of the CA */
  allow?: readonly string[];
}

/**
 * A TLS server that asks every client for a certificate. The handshake completes either
 * way (so a refusal can be logged with its reason rather than vanish in the handshake);
 * an unauthenticated socket is destroyed before any application byte is read from it.
 */
export function createMtlsServer(id: TlsIdentity, o: MtlsServerOptions): tls.Server {
  // The CA goes along in the chain so an enrolling node can pin it (enrolment.ts).
  const server = tls.createServer({ key: id.key, cert: `${id.cert.trim()}\n${id.ca.trim()}\n`, ca: id.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const who = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    if (socket.authorized) {
      const name = peerName(socket);
      if (o.allow && o.allow.length > 0 && !o.allow.includes(name)) {
        o.log(`refused peer ${who} ("${name}"): not among the allowed peers (${o.allow.join(', ')})`);
        socket.destroy();
        return;
      }
      o.onPeer(socket, name);
      return;
    }
    const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
    const reason = presented ? `certificate not signed by this deployment's CA (${String(socket.authorizationError)})` : 'no client certificate';
    if (o.onUnauthenticated?.(socket, reason)) return;
    o.log(`refused unauthenticated peer ${who}: ${reason}`);
    socket.destroy();
  });
  server.on('tlsClientError', (err, socket) => {
    o.log(`refused peer ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: TLS handshake failed (${err.message})`);
  });
  return server;
}

/** Connect with mutual TLS; rejects with TM_AUTH when the server's certificate is not from our CA. */
export function connectMtls(id: TlsIdentity, url: string, timeoutMs = 10_000): Promise<tls.TLSSocket> {
  const { host, port } = parseNodeUrl(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host, port, key: id.key, cert: id.cert, ca: id.ca, rejectUnauthorized: true, minVersion: 'TLSv1.2',
      servername: /^[\d.]+$|:/.test(host) ? undefined : host,
    });
    const timer = setTimeout(() => { socket.destroy(); reject(new TidemarkError('TM_UNREACHABLE', `Cannot reach ${url}: no TLS handshake within ${timeoutMs} ms`, { retryable: true })); }, timeoutMs);
    socket.once('secureConnect', () => { clearTimeout(timer); resolve(socket); });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      if (err.code && /CERT|SELF_SIGNED|VERIFY|ERR_TLS/.test(err.code)) {
        reject(new TidemarkError('TM_AUTH', `Refused ${url}: its certificate is not from this deployment's CA (${err.code}: ${err.message})`, {
          hint: 'both sides need certificates from the same `tidemark pki` CA', cause: err,
        }));
      } else {
        reject(new TidemarkError('TM_UNREACHABLE', `Cannot reach ${url}: ${err.message}`, { retryable: true, cause: err }));
      }
    });
  });
}
