/**
 * A deliberately minimal NBD client over a raw socket, for hostile-client tests: it sends
 * exactly the bytes a test asks for and reads replies with a deadline, so a test can send
 * what no real client would (bad magic, half a write, requests after DISC).
 */
import net from 'node:net';
import * as P from '../../src/nbd/nbd-protocol.js';
import { option, u32 } from './client-bytes.js';

/** How long any single read waits before the test fails rather than hangs. */
const READ_TIMEOUT_MS = 5000;

/** One simple reply. */
export interface SimpleReply {
  error: number;
  cookie: bigint;
}

/** Raw connection with buffered, deadline-bounded reads. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  /** Resolves when the server closes the connection (or it errors). */
  readonly ended: Promise<void>;
  isEnded = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    this.ended = new Promise((resolve) => {
      const done = (): void => {
        this.isEnded = true;
        this.waiter?.();
        resolve();
      };
      socket.on('close', done);
      socket.on('error', () => undefined);
    });
  }

  /** Connect to `unix:/path` or `tcp:host:port`. */
  static async connect(address: string): Promise<RawClient> {
    const socket = address.startsWith('unix:')
      ? net.connect(address.slice(5))
      : net.connect(Number(address.slice(address.lastIndexOf(':') + 1)), '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connect and negotiate `name` with NBD_OPT_GO; returns the export size and flags. */
  static async open(address: string, name = ''): Promise<{ client: RawClient; size: bigint; flags: number }> {
    const client = await RawClient.connect(address);
    await client.read(18);
    client.send(u32(P.NBD_FLAG_C_FIXED_NEWSTYLE | P.NBD_FLAG_C_NO_ZEROES));
    const n = Buffer.from(name);
    client.send(option(P.NBD_OPT_GO, Buffer.concat([u32(n.length), n, Buffer.from([0, 0])])));
    let size = -1n;
    let flags = -1;
    for (let i = 0; i < 8; i++) {
      const r = await client.readOptionReply();
      if (r.type === P.NBD_REP_ACK) return { client, size, flags };
      if (r.type !== P.NBD_REP_INFO) throw new Error(`GO refused with reply type 0x${r.type.toString(16)}`);
      if (r.data.readUInt16BE(0) === P.NBD_INFO_EXPORT) {
        size = r.data.readBigUInt64BE(2);
        flags = r.data.readUInt16BE(10);
      }
    }
    throw new Error('no ACK after 8 option replies');
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Exactly `n` bytes, or throw when the server closes or the deadline passes. */
  async read(n: number): Promise<Buffer> {
    const deadline = Date.now() + READ_TIMEOUT_MS;
    while (this.buf.length < n) {
      if (this.isEnded) throw new Error(`connection closed with ${this.buf.length}/${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} bytes`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(t); resolve(); };
      });
      this.waiter = undefined;
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async readOptionReply(): Promise<{ option: number; type: number; data: Buffer }> {
    const h = await this.read(20);
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), data: await this.read(h.readUInt32BE(16)) };
  }

  async readReply(): Promise<SimpleReply> {
    const h = await this.read(16);
    if (h.readUInt32BE(0) !== P.NBD_SIMPLE_REPLY_MAGIC) throw new Error('bad reply magic');
    return { error: h.readUInt32BE(4), cookie: h.readBigUInt64BE(8) };
  }

  /** Resolves true if the server closes within `ms`, false if it keeps the connection. */
  async closesWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
    const result = await Promise.race([this.ended.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Bytes received and not read yet. */
  get pending(): number {
    return this.buf.length;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
