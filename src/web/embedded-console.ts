/**
 * The console inside a live `tidemark protect`: served over the protect's own open vault.
 * Protection never depends on it: if it cannot start (port busy, bad address), a warning
 * goes to stderr and protection goes on without it.
 */
import type { Vault } from '../vault/vault.js';
import { startConsole, type RunningConsole } from './console-server.js';
import { startBeside } from './web-listener.js';

/** Start the console for a live protect; null (after a warning) when it cannot start. */
export function startEmbeddedConsole(vault: Vault, listen: string | false, sources: Record<string, string>): Promise<RunningConsole | null> {
  return startBeside(listen, (l) => startConsole({ vault, listen: l, sources }), 'protection goes on without it');
}
