/**
 * `tidemark vault serve`: a vault as a replication target. It holds the vault's writer
 * lock while it runs and accepts mutual-TLS sessions (from a hub, or a tap directly), one
 * group per session, storing each commit through VaultCommitSink.
 */
import type tls from 'node:tls';
import { createMtlsServer, type TlsIdentity } from '../pki/tls-identity.js';
import { FramedConnection } from '../wire/framed-connection.js';
import type { Vault } from '../vault/vault.js';
import { serveStream } from './stream-receiver.js';
import { VaultCommitSink } from './vault-commit-sink.js';

export interface VaultServer {
  port: number;
  close(): void;
}

export async function serveVault(vault: Vault, id: TlsIdentity, host: string, port: number, log: (l: string) => void, allow: readonly string[] = []): Promise<VaultServer> {
  const sink = new VaultCommitSink(vault);
  const conns = new Set<FramedConnection>();
  const server: tls.Server = createMtlsServer(id, {
    log,
    allow,
    onPeer: (socket, name) => {
      const conn = new FramedConnection(socket);
      conns.add(conn);
      socket.once('close', () => conns.delete(conn));
      void serveStream(conn, sink, `${name}@${socket.remoteAddress ?? '?'}`, { log });
    },
  });
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(port, host, () => res()); });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => { server.close(); for (const c of conns) c.close(); },
  };
}
