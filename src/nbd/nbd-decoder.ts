/**
 * Incremental parser of what an NBD client sends: the client flags, then handshake options,
 * then transmission requests (with WRITE payloads). Pure: bytes go in with push(), messages
 * come out of next(); no I/O, so it can be fed arbitrary splits in tests and fuzzing.
 * Anything malformed raises NbdProtocolError, after which the connection cannot resync.
 */
import { TidemarkError } from '../common/errors.js';
import { ByteQueue } from './nbd-byte-queue.js';
import {
  CLIENT_FLAGS_BYTES, MAX_OPTION_BYTES, NBD_CMD_WRITE, NBD_REQUEST_MAGIC, OPTION_HEADER_BYTES,
  REQUEST_BYTES,
} from './nbd-protocol.js';

/** A client broke the protocol in a way the connection cannot recover from. */
export class NbdProtocolError extends TidemarkError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('TM_FORMAT', message, { details });
    this.name = 'NbdProtocolError';
  }
}

/** One transmission request; `payload` is present for WRITE only and has `length` bytes. */
export interface NbdRequest {
  flags: number;
  type: number;
  /** Opaque to the server: echoed in the reply. */
  cookie: bigint;
  /** May exceed Number.MAX_SAFE_INTEGER in value; then it is imprecise but still out of range. */
  offset: number;
  length: number;
  payload?: Buffer;
}

/** What next() yields, by phase. */
export type NbdClientMessage =
  | { kind: 'client-flags'; flags: number }
  | { kind: 'option'; option: number; data: Buffer }
  | { kind: 'request'; request: NbdRequest };

type Phase = 'client-flags' | 'options' | 'requests';

/** `IHAVEOPT` as two 32-bit halves, to compare without BigInt on every option. */
const OPTS_MAGIC_HI = 0x49484156;
const OPTS_MAGIC_LO = 0x454f5054;
const TWO_32 = 0x1_0000_0000;

/** Decoder of one connection's inbound byte stream. */
export class NbdDecoder {
  private readonly queue = new ByteQueue();
  private phase: Phase = 'client-flags';
  /** An option whose header has been read and whose data is still arriving. */
  private pendingOption: { option: number; length: number } | undefined;
  /** A WRITE whose header has been read and whose payload is being filled. */
  private pendingWrite: { request: NbdRequest; payload: Buffer; filled: number } | undefined;

  /** @param maxPayloadBytes WRITE payloads above this are refused (the stream cannot resync). */
  constructor(private readonly maxPayloadBytes: number) {}

  /** Bytes received and not yet returned as part of a message. */
  get buffered(): number {
    return this.queue.length + (this.pendingWrite?.filled ?? 0);
  }

  /** True while a WRITE payload is partly received: closing now loses that write. */
  get midRequest(): boolean {
    return this.pendingWrite !== undefined;
  }

  push(chunk: Buffer): void {
    this.queue.push(chunk);
  }

  /** Switch from options to requests once the server has accepted NBD_OPT_GO/EXPORT_NAME. */
  enterTransmission(): void {
    this.phase = 'requests';
  }

  /** The next complete message, or undefined until more bytes arrive. */
  next(): NbdClientMessage | undefined {
    switch (this.phase) {
      case 'client-flags': {
        if (this.queue.length < CLIENT_FLAGS_BYTES) return undefined;
        this.phase = 'options';
        return { kind: 'client-flags', flags: this.queue.take(CLIENT_FLAGS_BYTES).readUInt32BE(0) };
      }
      case 'options':
        return this.nextOption();
      case 'requests':
        return this.nextRequest();
    }
  }

  /** Drop buffered input (the connection is closing). */
  discard(): void {
    this.queue.clear();
    this.pendingOption = undefined;
    this.pendingWrite = undefined;
  }

  private nextOption(): NbdClientMessage | undefined {
    if (this.pendingOption === undefined) {
      if (this.queue.length < OPTION_HEADER_BYTES) return undefined;
      const h = this.queue.take(OPTION_HEADER_BYTES);
      if (h.readUInt32BE(0) !== OPTS_MAGIC_HI || h.readUInt32BE(4) !== OPTS_MAGIC_LO) {
        throw new NbdProtocolError('NBD option without the IHAVEOPT magic', { magic: h.toString('hex', 0, 8) });
      }
      const option = h.readUInt32BE(8);
      const length = h.readUInt32BE(12);
      if (length > MAX_OPTION_BYTES) {
        throw new NbdProtocolError(`NBD option ${option} carries ${length} bytes (at most ${MAX_OPTION_BYTES})`,
          { option, length });
      }
      this.pendingOption = { option, length };
    }
    const { option, length } = this.pendingOption;
    if (this.queue.length < length) return undefined;
    this.pendingOption = undefined;
    // Copy: option data outlives this call (export names are kept), received chunks are shared.
    return { kind: 'option', option, data: Buffer.from(this.queue.take(length)) };
  }

  private nextRequest(): NbdClientMessage | undefined {
    if (this.pendingWrite === undefined) {
      if (this.queue.length < REQUEST_BYTES) return undefined;
      const request = parseRequestHeader(this.queue.take(REQUEST_BYTES));
      if (request.type !== NBD_CMD_WRITE) return { kind: 'request', request };
      if (request.length > this.maxPayloadBytes) {
        throw new NbdProtocolError(
          `NBD write of ${request.length} bytes exceeds the ${this.maxPayloadBytes}-byte limit`,
          { length: request.length, cookie: request.cookie.toString() });
      }
      this.pendingWrite = { request, payload: Buffer.allocUnsafe(request.length), filled: 0 };
    }
    const w = this.pendingWrite;
    w.filled += this.queue.copyInto(w.payload, w.filled, w.payload.length - w.filled);
    if (w.filled < w.payload.length) return undefined;
    this.pendingWrite = undefined;
    w.request.payload = w.payload;
    return { kind: 'request', request: w.request };
  }
}

/** Parse a 28-byte request header; throws NbdProtocolError on a wrong magic. */
export function parseRequestHeader(h: Buffer): NbdRequest {
  if (h.length < REQUEST_BYTES) throw new RangeError(`request header of ${h.length} bytes`);
  const magic = h.readUInt32BE(0);
  if (magic !== NBD_REQUEST_MAGIC) {
    throw new NbdProtocolError('NBD request without the request magic', { magic: magic.toString(16) });
  }
  return {
    flags: h.readUInt16BE(4),
    type: h.readUInt16BE(6),
    cookie: h.readBigUInt64BE(8),
    offset: h.readUInt32BE(16) * TWO_32 + h.readUInt32BE(20),
    length: h.readUInt32BE(24),
  };
}
