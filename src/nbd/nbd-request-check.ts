/**
 * Validation of one transmission request against its export, before the export sees it,
 * and the mapping of export failures to NBD error values. Pure, so every refusal is tested
 * without a socket.
 */
import { isErrno, TidemarkError } from '../common/errors.js';
import type { NbdExport } from './nbd-export.js';
import type { NbdRequest } from './nbd-decoder.js';
import {
  NBD_CMD_BLOCK_STATUS, NBD_CMD_CACHE, NBD_CMD_DISC, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_FLUSH,
  NBD_CMD_READ, NBD_CMD_TRIM, NBD_CMD_WRITE, NBD_CMD_WRITE_ZEROES, NBD_EINVAL, NBD_EIO,
  NBD_ENOSPC, NBD_ENOTSUP, NBD_EPERM,
} from './nbd-protocol.js';

/** True when [offset, offset+length) does not lie inside the export. */
function outOfRange(req: NbdRequest, size: number): boolean {
  return req.offset > size || req.length > size - req.offset;
}

/**
 * The NBD error value to reply with instead of calling the export, or 0 when the request
 * may go to the export. DISC is not judged here (it has no reply).
 */
export function checkRequest(req: NbdRequest, exp: NbdExport, maxRequestBytes: number): number {
  switch (req.type) {
    case NBD_CMD_READ:
      if (req.length > maxRequestBytes) return NBD_EINVAL;
      return outOfRange(req, exp.size) ? NBD_EINVAL : 0;
    case NBD_CMD_WRITE:
    case NBD_CMD_WRITE_ZEROES:
    case NBD_CMD_TRIM:
      if (exp.readOnly) return NBD_EPERM;
      // We never advertise SEND_FAST_ZERO; the spec's answer to "can you zero fast?" is no.
      if (req.type === NBD_CMD_WRITE_ZEROES && (req.flags & NBD_CMD_FLAG_FAST_ZERO) !== 0) return NBD_ENOTSUP;
      // The spec asks for ENOSPC when a write runs past the end, EINVAL for a trim.
      if (outOfRange(req, exp.size)) return req.type === NBD_CMD_TRIM ? NBD_EINVAL : NBD_ENOSPC;
      return 0;
    case NBD_CMD_FLUSH:
      return 0;
    case NBD_CMD_CACHE:
      return outOfRange(req, exp.size) ? NBD_EINVAL : 0;
    case NBD_CMD_BLOCK_STATUS: // needs a negotiated meta context, which we never offer
    case NBD_CMD_DISC:
    default:
      return NBD_EINVAL;
  }
}

/** The NBD error value for an exception an export threw: a full disk, a refusal, or EIO. */
export function errorValueOf(err: unknown): number {
  if (err instanceof TidemarkError && err.code === 'TM_DISK_FULL') return NBD_ENOSPC;
  if (isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT')) return NBD_ENOSPC;
  if (isErrno(err, 'EPERM') || isErrno(err, 'EROFS') || isErrno(err, 'EACCES')) return NBD_EPERM;
  return NBD_EIO;
}
