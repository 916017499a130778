/**
 * The option haggling of the fixed newstyle handshake as a pure function: given one option
 * and what the server serves, the replies to send and what happens next. The socket layer
 * (nbd-connection.ts) only writes the replies and switches phase.
 */
import type { NbdExport } from './nbd-export.js';
import {
  encodeExportNameReply, encodeInfoBlockSize, encodeInfoExport, encodeInfoString, encodeOptionError,
  encodeOptionReply, encodeServerEntry,
} from './nbd-encoder.js';
import {
  MAX_STRING_BYTES, NBD_FLAG_CAN_MULTI_CONN, NBD_FLAG_HAS_FLAGS, NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_FLUSH, NBD_FLAG_SEND_FUA, NBD_FLAG_SEND_TRIM, NBD_FLAG_SEND_WRITE_ZEROES,
  NBD_INFO_DESCRIPTION, NBD_INFO_NAME, NBD_OPT_ABORT, NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_LIST, NBD_REP_ACK, NBD_REP_ERR_INVALID, NBD_REP_ERR_POLICY,
  NBD_REP_ERR_UNKNOWN, NBD_REP_ERR_UNSUP, NBD_REP_INFO, NBD_REP_SERVER,
} from './nbd-protocol.js';

/** What the handshake needs to know about the server. */
export interface HandshakeContext {
  /** The export of that name, if any. */
  lookup(name: string): NbdExport | undefined;
  /** Every export, or undefined when exports are only found by name (LIST is refused). */
  list(): readonly NbdExport[] | undefined;
  maxRequestBytes: number;
  /** The client set NBD_FLAG_C_NO_ZEROES. */
  noZeroes: boolean;
}

/** Replies to send, then: keep haggling, close, or start transmission on `export`. */
export type OptionOutcome =
  | { replies: Buffer[]; next: 'continue' | 'close' }
  | { replies: Buffer[]; next: 'transmit'; export: NbdExport };

/** Smallest request we accept: byte granularity, the export does any read-modify-write. */
export const MIN_BLOCK_SIZE = 1;
/** What we suggest clients use; page-sized I/O is cheap for every export we have. */
export const PREFERRED_BLOCK_SIZE = 4096;

/** Transmission flags of an export: what commands the client may send. */
export function transmissionFlags(exp: NbdExport): number {
  let flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
    NBD_FLAG_SEND_WRITE_ZEROES;
  if (exp.readOnly) flags |= NBD_FLAG_READ_ONLY;
  if (exp.multiConn) flags |= NBD_FLAG_CAN_MULTI_CONN;
  return flags;
}

/** Answer one option. Never throws on client input: malformed data gets NBD_REP_ERR_INVALID. */
export function answerOption(option: number, data: Buffer, ctx: HandshakeContext): OptionOutcome {
  switch (option) {
    case NBD_OPT_EXPORT_NAME: {
      const exp = ctx.lookup(data.toString('utf8'));
      // This option has no error reply: the only way to refuse is to hang up.
      if (exp === undefined) return { replies: [], next: 'close' };
      return {
        replies: [encodeExportNameReply(exp.size, transmissionFlags(exp), ctx.noZeroes)],
        next: 'transmit', export: exp,
      };
    }
    case NBD_OPT_ABORT:
      return { replies: [encodeOptionReply(option, NBD_REP_ACK)], next: 'close' };
    case NBD_OPT_LIST:
      return { replies: answerList(data, ctx), next: 'continue' };
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
      return answerInfo(option, data, ctx);
    default:
      // Includes STARTTLS (no TLS here) and STRUCTURED_REPLY: clients fall back to simple replies.
      return { replies: [encodeOptionError(option, NBD_REP_ERR_UNSUP, `option ${option} is not supported`)],
        next: 'continue' };
  }
}

function answerList(data: Buffer, ctx: HandshakeContext): Buffer[] {
  if (data.length !== 0) {
    return [encodeOptionError(NBD_OPT_LIST, NBD_REP_ERR_INVALID, 'NBD_OPT_LIST carries no data')];
  }
  const all = ctx.list();
  if (all === undefined) {
    return [encodeOptionError(NBD_OPT_LIST, NBD_REP_ERR_POLICY, 'exports are opened by name only')];
  }
  return [
    ...all.map((e) => encodeOptionReply(NBD_OPT_LIST, NBD_REP_SERVER, encodeServerEntry(e.name, e.description))),
    encodeOptionReply(NBD_OPT_LIST, NBD_REP_ACK),
  ];
}

/** The data of NBD_OPT_INFO/GO: name length, name, count of info requests, the requests. */
export function parseInfoRequest(data: Buffer): { name: string; infos: number[] } | undefined {
  if (data.length < 6) return undefined;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > MAX_STRING_BYTES || 4 + nameLength + 2 > data.length) return undefined;
  const name = data.toString('utf8', 4, 4 + nameLength);
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 4 + nameLength + 2 + 2 * count) return undefined;
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(data.readUInt16BE(4 + nameLength + 2 + 2 * i));
  return { name, infos };
}

function answerInfo(option: number, data: Buffer, ctx: HandshakeContext): OptionOutcome {
  const req = parseInfoRequest(data);
  if (req === undefined) {
    return { replies: [encodeOptionError(option, NBD_REP_ERR_INVALID, 'malformed NBD_OPT_INFO/GO data')],
      next: 'continue' };
  }
  const exp = ctx.lookup(req.name);
  if (exp === undefined) {
    return { replies: [encodeOptionError(option, NBD_REP_ERR_UNKNOWN, `no export named "${req.name}"`)],
      next: 'continue' };
  }
  const info = (payload: Buffer): Buffer => encodeOptionReply(option, NBD_REP_INFO, payload);
  const replies = [
    info(encodeInfoExport(exp.size, transmissionFlags(exp))),
    // Sent even when not asked for: it states no constraint beyond the spec's defaults.
    info(encodeInfoBlockSize(MIN_BLOCK_SIZE, PREFERRED_BLOCK_SIZE, ctx.maxRequestBytes)),
  ];
  if (req.infos.includes(NBD_INFO_NAME)) replies.push(info(encodeInfoString(NBD_INFO_NAME, exp.name)));
  if (req.infos.includes(NBD_INFO_DESCRIPTION) && exp.description !== undefined) {
    replies.push(info(encodeInfoString(NBD_INFO_DESCRIPTION, exp.description)));
  }
  replies.push(encodeOptionReply(option, NBD_REP_ACK));
  if (option === NBD_OPT_GO) return { replies, next: 'transmit', export: exp };
  return { replies, next: 'continue' };
}
