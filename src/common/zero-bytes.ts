/** Detecting all-zero byte ranges (holes): a memcmp against a shared zero buffer, a slice at a time. */

const ZERO = Buffer.alloc(64 * 1024);

/** True when every byte is zero. */
export function isZero(b: Uint8Array): boolean {
  for (let at = 0; at < b.byteLength; at += ZERO.length) {
    const n = Math.min(ZERO.length, b.byteLength - at);
    if (!Buffer.from(b.buffer, b.byteOffset + at, n).equals(ZERO.subarray(0, n))) return false;
  }
  return true;
}
