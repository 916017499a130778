/**
 * One client connection: the handshake, then pipelined transmission. Requests are read while
 * earlier ones are in progress and replies go out as each finishes (matched by cookie), but
 * every export call is issued in the order the requests arrived, which the volume tap relies
 * on for write-order fidelity. Reading stops while too many bytes are in flight.
 */
import type { Socket } from 'node:net';
import type { NbdExport } from './nbd-export.js';
import type { BufferPool } from './nbd-buffer-pool.js';
import { NbdDecoder, NbdProtocolError, type NbdRequest } from './nbd-decoder.js';
import { encodeGreeting, encodeSimpleReply } from './nbd-encoder.js';
import { answerOption, type HandshakeContext } from './nbd-handshake.js';
import { checkRequest, errorValueOf } from './nbd-request-check.js';
import {
  NBD_CMD_CACHE, NBD_CMD_DISC, NBD_CMD_FLAG_FUA, NBD_CMD_FLUSH, NBD_CMD_READ, NBD_CMD_TRIM,
  NBD_CMD_WRITE, NBD_CMD_WRITE_ZEROES, NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES,
} from './nbd-protocol.js';

/** What a connection needs from its server: the handshake's view of it, and more. */
export interface ConnectionOptions extends Omit<HandshakeContext, 'noZeroes'> {
  /** Stop reading requests while more than this many bytes are in flight or unsent. */
  maxInFlightBytes: number;
  /** Where READ reply buffers come from and go back to (shared by a server's connections). */
  pool: BufferPool;
  /** A client that has not finished the handshake after this long is cut off. */
  handshakeTimeoutMs: number;
  log(line: string): void;
}

/** Serves one socket until it closes; `done` settles after the last export call has. */
export class NbdConnection {
  /** Resolves once the socket is closed and no export call is outstanding. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly decoder: NbdDecoder;
  private export: NbdExport | undefined;
  private noZeroes = false;
  private inFlight = 0;
  private inFlightBytes = 0;
  /** No more requests are taken: DISC seen, protocol error, or server shutdown. */
  private stopped = false;
  private closed = false;
  private pausedByUs = false;
  private settled = false;
  private corked = false;

  constructor(private readonly socket: Socket, private readonly opts: ConnectionOptions, private readonly id: string) {
    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
    this.decoder = new NbdDecoder(opts.maxRequestBytes);
    socket.on('data', (chunk: Buffer) => {
      if (this.stopped) return;
      this.decoder.push(chunk);
      this.pump();
    });
    socket.on('drain', () => this.pump());
    socket.on('error', (err) => opts.log(`nbd ${id}: socket error: ${err.message}`));
    socket.on('close', () => this.onClose());
    // Idle or trickling clients must not hold a connection open forever before they pick
    // an export; once transmitting, an idle client is normal (the timeout is cleared).
    socket.setTimeout(opts.handshakeTimeoutMs, () => {
      opts.log(`nbd ${id}: closing: no export chosen within ${opts.handshakeTimeoutMs} ms`);
      this.abort();
    });
    socket.write(encodeGreeting());
  }

  /** Stop taking requests, let those in flight finish, then hang up. */
  shutdown(): void {
    this.stop();
    this.maybeEnd();
  }

  /** Cut the connection off now (a client that ignores shutdown). */
  destroy(): void {
    this.abort();
  }

  private get overLimit(): boolean {
    return this.inFlightBytes + this.socket.writableLength > this.opts.maxInFlightBytes;
  }

  /** Decode and dispatch what has arrived, as far as the in-flight limit allows. */
  private pump(): void {
    try {
      while (!this.stopped && !this.overLimit) {
        const msg = this.decoder.next();
        if (msg === undefined) break;
        if (msg.kind === 'client-flags') this.onClientFlags(msg.flags);
        else if (msg.kind === 'option') this.onOption(msg.option, msg.data);
        else this.onRequest(msg.request);
      }
    } catch (err) {
      // Only NbdProtocolError is expected; anything else is a bug, but still this client's alone.
      const why = err instanceof NbdProtocolError ? err.message : `internal error: ${String(err)}`;
      this.opts.log(`nbd ${this.id}: closing: ${why}`);
      this.abort();
      return;
    }
    const pause = !this.stopped && this.overLimit;
    if (pause && !this.pausedByUs) this.socket.pause();
    if (!pause && this.pausedByUs) this.socket.resume();
    this.pausedByUs = pause;
  }

  private onClientFlags(flags: number): void {
    if ((flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) !== 0) {
      throw new NbdProtocolError(`unknown client flags 0x${flags.toString(16)}`);
    }
    this.noZeroes = (flags & NBD_FLAG_C_NO_ZEROES) !== 0;
  }

  private onOption(option: number, data: Buffer): void {
    const outcome = answerOption(option, data, { ...this.opts, noZeroes: this.noZeroes });
    for (const reply of outcome.replies) this.socket.write(reply);
    if (outcome.next === 'close') {
      this.stop();
      this.socket.end();
    } else if (outcome.next === 'transmit') {
      this.export = outcome.export;
      this.socket.setTimeout(0);
      this.decoder.enterTransmission();
      this.opts.log(`nbd ${this.id}: serving export "${outcome.export.name}"`);
    }
  }

  private onRequest(req: NbdRequest): void {
    const exp = this.export!;
    if (req.type === NBD_CMD_DISC) {
      this.shutdown();
      return;
    }
    const error = checkRequest(req, exp, this.opts.maxRequestBytes);
    // Refused, empty (nothing to do) or CACHE (a hint we need not act on): answer at once.
    if (error !== 0 || (req.length === 0 && req.type !== NBD_CMD_FLUSH) || req.type === NBD_CMD_CACHE) {
      this.reply(req.cookie, error);
      return;
    }
    const fua = (req.flags & NBD_CMD_FLAG_FUA) !== 0;
    switch (req.type) {
      case NBD_CMD_READ: {
        const into = this.opts.pool.get(req.length);
        this.run(req, req.length, () => exp.read(req.offset, into), into);
        return;
      }
      case NBD_CMD_WRITE:
        this.run(req, req.length, () => exp.write(req.offset, req.payload!, fua));
        return;
      case NBD_CMD_FLUSH:
        this.run(req, 0, () => exp.flush());
        return;
      case NBD_CMD_TRIM:
        this.run(req, 0, () => exp.trim(req.offset, req.length, fua));
        return;
      case NBD_CMD_WRITE_ZEROES:
        this.run(req, 0, () => exp.writeZeroes(req.offset, req.length, fua));
        return;
    }
  }

  /** Issue one export call now (preserving arrival order); reply when it settles. */
  private run(req: NbdRequest, bytes: number, call: () => Promise<void>, data?: Buffer): void {
    this.inFlight++;
    this.inFlightBytes += bytes;
    let pending: Promise<void>;
    try {
      pending = call();
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(() => this.finish(req.cookie, 0, bytes, data), (err: unknown) => {
      if (data !== undefined) this.opts.pool.release(data);
      const msg = err instanceof Error ? err.message : String(err);
      this.opts.log(`nbd ${this.id}: export "${this.export?.name}" failed command ${req.type} at ${req.offset}+${req.length}: ${msg}`);
      this.finish(req.cookie, errorValueOf(err), bytes, undefined);
    });
  }

  private finish(cookie: bigint, error: number, bytes: number, data: Buffer | undefined): void {
    this.inFlight--;
    this.inFlightBytes -= bytes;
    this.reply(cookie, error, data);
    if (this.closed) this.maybeSettle();
    else if (this.stopped) this.maybeEnd();
    else if (this.pausedByUs) this.pump();
  }

  /**
   * Replies are written into a corked socket that is uncorked once per event-loop turn
   * (setImmediate runs after the turn's I/O callbacks), so the replies of all requests that
   * completed in that turn leave in one writev instead of one syscall each.
   */
  private reply(cookie: bigint, error: number, data?: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(encodeSimpleReply(error, cookie));
    // Back to the pool only once the kernel has the bytes (or the write failed).
    if (data !== undefined) this.socket.write(data, () => this.opts.pool.release(data));
  }

  private stop(): void {
    this.stopped = true;
    this.decoder.discard();
    // Keep reading (and dropping) input, so that the client's end of the stream is seen.
    if (this.pausedByUs) {
      this.pausedByUs = false;
      this.socket.resume();
    }
  }

  /** After DISC or shutdown: end the socket once nothing is left to reply to. */
  private maybeEnd(): void {
    if (this.inFlight === 0 && !this.closed) this.socket.end();
  }

  private abort(): void {
    this.stop();
    this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    // A WRITE whose payload was still arriving is dropped here: it never reached the export.
    this.stop();
    this.maybeSettle();
  }

  private maybeSettle(): void {
    if (this.inFlight !== 0 || this.settled) return;
    this.settled = true;
    if (this.export?.connectionClosed !== undefined) {
      try {
        this.export.connectionClosed();
      } catch (err) {
        this.opts.log(`nbd ${this.id}: connectionClosed failed: ${String(err)}`);
      }
    }
    this.resolveDone();
  }
}
