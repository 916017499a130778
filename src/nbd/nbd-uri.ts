/** NBD URIs (the NBD project's URI spec) for a listen address `unix:PATH` or `tcp:HOST:PORT`. */

/** `nbd+unix:///?socket=PATH` or `nbd://HOST:PORT` (IPv6 hosts bracketed). */
export function nbdUri(address: string): string {
  if (address.startsWith('unix:')) return `nbd+unix:///?socket=${address.slice(5)}`;
  const m = /^tcp:(.+):(\d+)$/.exec(address);
  if (!m) return address;
  const host = m[1]!.includes(':') && !m[1]!.startsWith('[') ? `[${m[1]}]` : m[1]!;
  return `nbd://${host}:${m[2]}`;
}
