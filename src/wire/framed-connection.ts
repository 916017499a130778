/**
 * A socket carrying frames, with backpressure both ways: `send` resolves only once the
 * socket has taken the bytes (a slow peer slows the sender), and the reader pauses the
 * socket while more than a few frames wait to be consumed (memory stays bounded).
 * An optional rate limiter shapes what is sent. Counts bytes in and out for metrics.
 */
import type { Socket } from 'node:net';
import { TidemarkError } from '../common/errors.js';
import { FrameDecoder, FrameType, encodeFrame, type Frame } from './frame-codec.js';

/** Anything that can make a sender wait before it writes `bytes`. */
export interface Shaper { take(bytes: number): Promise<void> }

const MAX_QUEUED = 8;

export class FramedConnection {
  private readonly decoder = new FrameDecoder();
  private readonly queue: Frame[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private ended = false;
  bytesIn = 0;
  bytesOut = 0;
  /** payload bytes before wire compression, for the WAN-saving figure */
  rawOut = 0;

  constructor(readonly socket: Socket, private readonly shaper?: Shaper) {
    // A peer that vanishes without a FIN (host down, cable cut) is noticed within minutes.
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      try {
        for (const f of this.decoder.push(chunk)) this.queue.push(f);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      if (this.queue.length >= MAX_QUEUED) socket.pause();
      this.wake();
    });
    socket.on('error', (err) => this.fail(new TidemarkError('TM_UNREACHABLE', `connection lost: ${err.message}`, { retryable: true, cause: err })));
    socket.on('close', () => { this.ended = true; this.wake(); });
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    this.socket.destroy();
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Send one frame; resolves once the socket accepted it (after shaping). */
  async send(type: number, payload: Buffer | object, compress = true): Promise<void> {
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload));
    const frame = encodeFrame(type, body, compress);
    if (this.shaper) await this.shaper.take(frame.length);
    if (this.failure) throw this.failure;
    if (this.ended || this.socket.destroyed) throw new TidemarkError('TM_UNREACHABLE', 'connection closed by the peer', { retryable: true });
    this.bytesOut += frame.length;
    this.rawOut += body.length + 6;
    if (!this.socket.write(frame)) {
      // Wait for drain or close, removing both listeners either way (no leak per send).
      await new Promise<void>((res) => {
        const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); res(); };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    }
  }

  /** The next frame; TM_UNREACHABLE when the connection ends or `timeoutMs` passes first. */
  async next(timeoutMs = 0): Promise<Frame> {
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    for (;;) {
      const f = this.poll();
      if (f) return f;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((res) => {
        this.waiter = res;
        if (deadline) timer = setTimeout(res, Math.max(0, deadline - Date.now()));
      });
      if (timer) clearTimeout(timer);
      if (deadline && Date.now() >= deadline && this.queue.length === 0) {
        throw new TidemarkError('TM_UNREACHABLE', `peer sent nothing for ${timeoutMs} ms`, { retryable: true });
      }
    }
  }

  /** A frame already received, without waiting (raises a connection failure). */
  poll(): Frame | undefined {
    const f = this.queue.shift();
    if (f) {
      if (this.queue.length < MAX_QUEUED && this.socket.isPaused()) this.socket.resume();
      return f;
    }
    if (this.failure) throw this.failure;
    if (this.ended) throw new TidemarkError('TM_UNREACHABLE', 'connection closed by the peer', { retryable: true });
    return undefined;
  }

  /** Wait until a frame arrives, the connection ends, or `ms` passes. */
  async wait(ms: number): Promise<void> {
    if (this.queue.length > 0 || this.failure || this.ended) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((res) => { this.waiter = res; timer = setTimeout(res, ms); });
    clearTimeout(timer);
  }

  /** The next frame, which must be of `type` (an error frame from the peer is raised as such). */
  async expect(type: number, timeoutMs = 0): Promise<Frame> {
    const f = await this.next(timeoutMs);
    if (f.type === FrameType.error) {
      let msg = f.payload.toString('utf8').slice(0, 2000);
      try { msg = (JSON.parse(msg) as { message?: string }).message ?? msg; } catch { /* keep the raw text */ }
      throw new TidemarkError('TM_PROTOCOL', `peer reported: ${msg}`, { retryable: true });
    }
    if (f.type !== type) throw new TidemarkError('TM_PROTOCOL', `peer sent frame type ${f.type} where ${type} was expected`);
    return f;
  }

  /** Tell the peer why we stop, then close. */
  async closeWithError(err: unknown): Promise<void> {
    const te = err instanceof TidemarkError ? err : new TidemarkError('TM_INTERNAL', String(err));
    try { await Promise.race([this.send(FrameType.error, { code: te.code, message: te.message }), new Promise((r) => setTimeout(r, 1000))]); } catch { /* the peer may be gone already */ }
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  close(): void {
    this.socket.destroy();
  }
}
