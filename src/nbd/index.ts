/**
 * src/nbd — Tidemark's NBD server, protocol layer only. The volume tap and point-in-time
 * images implement NbdExport; startNbdServer serves them to the kernel's nbd-client, qemu,
 * nbdfuse, nbdcopy. The wire format we speak is summarised in docs/nbd.md.
 *
 * Exports: startNbdServer (+ options), NbdExport, FileExport (tests, benchmarks).
 * Imports: only src/common. The codec modules (nbd-decoder, nbd-encoder, nbd-handshake,
 * nbd-request-check) are pure; sockets live in nbd-connection and nbd-server.
 */
export type { NbdExport } from './nbd-export.js';
export { startNbdServer, type NbdServer, type NbdServerOptions } from './nbd-server.js';
export { FileExport, type FileExportOptions } from './file-export.js';
export { NbdProtocolError } from './nbd-decoder.js';
