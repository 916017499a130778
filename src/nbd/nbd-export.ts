/**
 * The interface between the NBD server and what it serves. The server owns the protocol
 * (validation, replies, ordering); an export owns the bytes. Implementations: the volume
 * tap over a backing file, point-in-time images, and FileExport for tests and benchmarks.
 */

/** What an NBD server serves. Implementations: the volume tap, images. All offsets/lengths are validated by the server before calling. */
export interface NbdExport {
  readonly name: string;            // export name ('' matches too)
  readonly description?: string;
  readonly size: number;            // bytes
  readonly readOnly: boolean;
  /** true when flush() makes durable the writes acknowledged on every connection (advertise CAN_MULTI_CONN) */
  readonly multiConn: boolean;
  /** read `length` bytes at `offset` into `into` (exactly into.length bytes) */
  read(offset: number, into: Buffer): Promise<void>;
  /** write; resolves when the write may be acknowledged; with fua, only once it is durable */
  write(offset: number, data: Buffer, fua: boolean): Promise<void>;
  flush(): Promise<void>;
  trim(offset: number, length: number, fua: boolean): Promise<void>;
  writeZeroes(offset: number, length: number, fua: boolean): Promise<void>;
  /** called once per connection when it closes (any reason) */
  connectionClosed?(): void;
}
