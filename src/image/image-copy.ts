/**
 * `tidemark image GROUP --at P --to FILE|DEVICE`: a physical copy of a volume point.
 * Into a regular file, zero runs become holes (the file is truncated to the volume's
 * size first); a device gets every byte written. The copy is fsynced before success.
 */
import { closeSync, constants, fdatasyncSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { wrapIo } from '../common/errors.js';
import { isZero } from '../common/zero-bytes.js';
import type { VolumeImage } from './volume-image.js';

const STEP = 1024 * 1024;

export interface CopyResult { bytes: number; bytesWritten: number; holes: number }

export function copyImage(image: VolumeImage, to: string, onProgress?: (done: number, total: number) => void): CopyResult {
  let fd: number;
  try {
    fd = openSync(to, constants.O_WRONLY | constants.O_CREAT, 0o600);
  } catch (err) {
    throw wrapIo(err, `Cannot open ${to} for the image`);
  }
  try {
    const isFile = fstatSync(fd).isFile();
    if (isFile) { ftruncateSync(fd, 0); ftruncateSync(fd, image.size); }
    const buf = Buffer.allocUnsafe(STEP);
    let bytesWritten = 0;
    let holes = 0;
    for (let at = 0; at < image.size; at += STEP) {
      const n = Math.min(STEP, image.size - at);
      const view = buf.subarray(0, n);
      image.read(at, view);
      if (isFile && isZero(view)) { holes++; } else {
        let done = 0;
        while (done < n) done += writeSync(fd, view, done, n - done, at + done);
        bytesWritten += n;
      }
      onProgress?.(at + n, image.size);
    }
    fdatasyncSync(fd);
    return { bytes: image.size, bytesWritten, holes };
  } catch (err) {
    throw wrapIo(err, `Cannot write the image to ${to}`);
  } finally {
    closeSync(fd);
  }
}
