/** What the long-running replication commands (hub, vault serve) share: addresses, log lines, signals. */
import { TidemarkError } from '../../common/errors.js';

/** Parse HOST:PORT (port 0: any free port). */
export function listenAddress(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim());
  if (!m || Number(m[2]) > 65535) throw new TidemarkError('TM_USAGE', `"${text}" is not HOST:PORT`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** A logger writing timestamped lines on stderr. */
export function logLine(role: string): (line: string) => void {
  return (line) => { process.stderr.write(`${new Date().toISOString()} ${role}: ${line}\n`); };
}

/** Resolve on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise((res) => {
    const on = (): void => { process.off('SIGINT', on); process.off('SIGTERM', on); res(); };
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}
