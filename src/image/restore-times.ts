/**
 * A time for utimes, which takes seconds as a double and keeps whole microseconds
 * (libuv truncates to them). Near 2026 a double is exact to ~0.24 µs only, so the nearest
 * double to the stored time can fall just below it and truncate to the microsecond
 * before. Aiming at the middle of the stored microsecond lands every time on it exactly.
 */
export function seconds(ns: bigint): number {
  return Number((ns / 1000n) * 1000n + 500n) / 1e9;
}
