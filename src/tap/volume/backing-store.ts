/**
 * The volume tap's backing store: a regular file (created with `--size` when missing) or
 * a block device, read and written at offsets with synchronous calls (the tap serialises
 * writes; a synchronous pwrite of a page-cache page is cheaper than a thread-pool hop).
 */
import { closeSync, write, fdatasyncSync, fstatSync, openSync, readFileSync, readSync, writeSync, ftruncateSync, constants } from 'node:fs';
import { SyncGroup } from '../../common/sync-group.js';
import { TidemarkError, isErrno, wrapIo } from '../../common/errors.js';

export class BackingStore {
  private readonly syncs: SyncGroup;

  /** true when open() created the file: it holds only zeros */
  created = false;

  private constructor(readonly path: string, private fd: number, readonly size: number) {
    this.syncs = new SyncGroup(() => this.fd, `the backing store ${path}`);
  }

  /** Open `path` read/write; create a file of `size` bytes when it does not exist. */
  static open(path: string, size?: number): BackingStore {
    let fd: number;
    let created = false;
    try {
      fd = openSync(path, constants.O_RDWR);
    } catch (err) {
      if (isErrno(err, 'ENOENT') && size === undefined) {
        throw new TidemarkError('TM_NOT_FOUND', `The backing store ${path} does not exist`, { hint: 'pass --size N to create a backing file of N bytes' });
      }
      if (!isErrno(err, 'ENOENT')) throw wrapIo(err, `Cannot open the backing store ${path}`);
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
      ftruncateSync(fd, size);
      created = true;
    }
    const st = fstatSync(fd);
    let actual = st.size;
    if (st.isBlockDevice()) actual = blockDeviceSize(st.rdev, path);
    else if (!st.isFile()) { closeSync(fd); throw new TidemarkError('TM_USAGE', `${path} is neither a file nor a block device`); }
    if (size !== undefined && st.isFile() && actual < size) { ftruncateSync(fd, size); actual = size; }
    const b = new BackingStore(path, fd, actual);
    b.created = created;
    return b;
  }

  read(offset: number, into: Buffer): void {
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.fd, into, done, into.length - done, offset + done);
      if (n === 0) { into.fill(0, done); return; }
      done += n;
    }
  }

  write(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
  }

  /** pwrite on the thread pool: the main thread goes on serving while the copy happens. */
  writeAsync(offset: number, data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        if (done >= data.length) { resolve(); return; }
        write(this.fd, data, done, data.length - done, offset + done, (err, n) => {
          if (err) reject(wrapIo(err, `Cannot write to the backing store ${this.path}`));
          else if (n === 0) reject(new TidemarkError('TM_IO', `The backing store ${this.path} accepted no bytes at offset ${offset + done}`));
          else step(done + n);
        });
      };
      step(0);
    });
  }

  /** fdatasync on the thread pool (shared by callers that ask while one runs). */
  syncAsync(): Promise<void> {
    return this.syncs.sync();
  }

  sync(): void {
    fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** A block device's size from sysfs (Node has no BLKGETSIZE64). */
function blockDeviceSize(rdev: number, path: string): number {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((Math.floor(rdev / 0x100000) & 0xfff00));
  try {
    return Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim()) * 512;
  } catch (err) {
    throw wrapIo(err, `Cannot find the size of the block device ${path}`);
  }
}
