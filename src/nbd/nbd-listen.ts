/** Listen addresses for NBD servers: `unix:PATH` or `tcp:HOST:PORT`. */
import { TidemarkError } from '../common/errors.js';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseListen(text: string): ListenAddress {
  if (text.startsWith('unix:') && text.length > 5) return { kind: 'unix', path: text.slice(5) };
  const m = /^tcp:(.+):(\d{1,5})$/.exec(text);
  if (m && Number(m[2]) <= 65535) return { kind: 'tcp', host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
  throw new TidemarkError('TM_USAGE', `Cannot listen on "${text}": not an NBD listen address`, { hint: 'use unix:/path/to/socket or tcp:HOST:PORT (e.g. tcp:127.0.0.1:10809)' });
}
