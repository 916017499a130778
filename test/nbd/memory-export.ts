/**
 * An in-memory NbdExport for the NBD tests: records every call in order, can delay or fail
 * calls on demand, and counts closed connections, so tests can see exactly what the server
 * passed to its export.
 */
import type { NbdExport } from '../../src/nbd/nbd-export.js';

/** One call the server made, in the order it made them. */
export interface ExportCall {
  op: 'read' | 'write' | 'flush' | 'trim' | 'writeZeroes';
  offset: number;
  length: number;
  fua: boolean;
}

/** Memory-backed export with hooks. */
export class MemoryExport implements NbdExport {
  readonly data: Buffer;
  readonly calls: ExportCall[] = [];
  closedConnections = 0;
  /** Awaited before a call completes (default: none); lets tests hold or reorder completions. */
  gate: (call: ExportCall) => Promise<void> = () => Promise.resolve();
  /** When set, every call fails with this error after being recorded. */
  failWith: Error | undefined;

  constructor(readonly size: number, readonly name = '', readonly readOnly = false, readonly multiConn = true,
    readonly description?: string) {
    this.data = Buffer.alloc(size);
  }

  async read(offset: number, into: Buffer): Promise<void> {
    await this.record({ op: 'read', offset, length: into.length, fua: false });
    this.data.copy(into, 0, offset, offset + into.length);
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    // Copy at call time: what matters is what the server handed over when it called.
    const copy = Buffer.from(data);
    await this.record({ op: 'write', offset, length: data.length, fua });
    copy.copy(this.data, offset);
  }

  async flush(): Promise<void> {
    await this.record({ op: 'flush', offset: 0, length: 0, fua: false });
  }

  async trim(offset: number, length: number, fua: boolean): Promise<void> {
    await this.record({ op: 'trim', offset, length, fua });
    this.data.fill(0, offset, offset + length);
  }

  async writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    await this.record({ op: 'writeZeroes', offset, length, fua });
    this.data.fill(0, offset, offset + length);
  }

  connectionClosed(): void {
    this.closedConnections++;
  }

  private async record(call: ExportCall): Promise<void> {
    this.calls.push(call);
    await this.gate(call);
    if (this.failWith !== undefined) throw this.failWith;
  }
}
