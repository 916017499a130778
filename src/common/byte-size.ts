/** Byte sizes as users type them: `1073741824`, `512M`, `4G`, `1.5GiB` (binary units). */
import { TidemarkError } from './errors.js';

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

export function parseByteSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  const n = m ? Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new TidemarkError('TM_USAGE', `${what} "${text}" is not a size`, { hint: 'give bytes, or a number with K, M, G or T (binary units), e.g. 4G' });
  }
  return n;
}
