/**
 * FileExport: an NbdExport over a regular file or block device, for tests and benchmarks
 * (the volume tap wraps the same idea with journaling). Reads and writes are positional
 * (pread/pwrite on the libuv thread pool), so concurrent requests run in parallel; flush
 * is fdatasync, which covers writes from every connection since they share one file.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import { TidemarkError, wrapIo } from '../common/errors.js';
import type { NbdExport } from './nbd-export.js';

const pread = promisify(fs.read);
const pwrite = promisify(fs.write);
const fdatasync = promisify(fs.fdatasync);
const fclose = promisify(fs.close);

/** Zeroes are written from one shared buffer in pieces of this size. */
const ZERO_PIECE = Buffer.alloc(1024 * 1024);

/** Options of FileExport.open. */
export interface FileExportOptions {
  /** Export size; the file is created or extended (sparsely) to it. Default: the file's size. */
  size?: number;
  readOnly?: boolean;
  /** Export name; default ''. */
  name?: string;
  description?: string;
}

/** An export backed by one file. */
export class FileExport implements NbdExport {
  readonly multiConn = true;

  private constructor(private readonly fd: number, readonly name: string, readonly size: number,
    readonly readOnly: boolean, readonly description: string | undefined, private readonly path: string) {}

  /** Open (and with `size`, create or extend) the backing file. */
  static async open(path: string, options: FileExportOptions = {}): Promise<FileExport> {
    const readOnly = options.readOnly ?? false;
    try {
      const flags = readOnly ? 'r' : options.size !== undefined ? fs.constants.O_RDWR | fs.constants.O_CREAT : 'r+';
      const fd = await promisify(fs.open)(path, flags, 0o600);
      const st = await promisify(fs.fstat)(fd);
      if (st.isBlockDevice() && options.size === undefined) {
        // fstat reports 0 for a block device and fs has no lseek: the caller must say.
        await fclose(fd);
        throw new TidemarkError('TM_USAGE', `Cannot serve block device "${path}" without a size`,
          { hint: 'pass the device size (blockdev --getsize64)' });
      }
      let size = st.size;
      if (st.isBlockDevice()) size = options.size!;
      else if (options.size !== undefined && options.size !== size) {
        if (readOnly || options.size < size) size = Math.min(size, options.size);
        else {
          await promisify(fs.ftruncate)(fd, options.size);
          size = options.size;
        }
      }
      return new FileExport(fd, options.name ?? '', size, readOnly, options.description, path);
    } catch (err) {
      throw wrapIo(err, `Cannot open NBD backing file "${path}"`);
    }
  }

  async read(offset: number, into: Buffer): Promise<void> {
    let done = 0;
    while (done < into.length) {
      const { bytesRead: n } = await pread(this.fd, into, done, into.length - done, offset + done);
      if (n === 0) {
        // Past the end of a file shorter than the export: the spec lets us return zeroes.
        into.fill(0, done);
        return;
      }
      done += n;
    }
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    let done = 0;
    while (done < data.length) {
      done += (await pwrite(this.fd, data, done, data.length - done, offset + done)).bytesWritten;
    }
    if (fua) await fdatasync(this.fd);
  }

  async flush(): Promise<void> {
    await fdatasync(this.fd);
  }

  /** Trimmed ranges read back as zeroes: simpler to reason about than "unspecified". */
  async trim(offset: number, length: number, fua: boolean): Promise<void> {
    await this.writeZeroes(offset, length, fua);
  }

  async writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    for (let at = 0; at < length; at += ZERO_PIECE.length) {
      await this.write(offset + at, ZERO_PIECE.subarray(0, Math.min(ZERO_PIECE.length, length - at)), false);
    }
    if (fua) await fdatasync(this.fd);
  }

  /** Close the backing file; the export must not be served any more. */
  async close(): Promise<void> {
    try {
      await fclose(this.fd);
    } catch (err) {
      throw wrapIo(err, `Cannot close NBD backing file "${this.path}"`);
    }
  }
}
