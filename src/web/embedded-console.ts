/**
 * The console inside a live `tidemark protect`: served over the protect's own open vault.
 * Protection never depends on it: if it cannot start (port busy, bad address), a warning
 * goes to stderr and protection goes on without it.
 */
import type { Vault } from '../vault/vault.js';
import { startConsole, type RunningConsole } from './console-server.js';

/** Start the console for a live protect; null (after a warning) when it cannot start. */
export async function startEmbeddedConsole(vault: Vault, listen: string | false, sources: Record<string, string>): Promise<RunningConsole | null> {
  if (listen === false) return null;
  try {
    const c = await startConsole({ vault, listen, sources });
    process.stderr.write(`Tidemark console at ${c.url}\n`);
    return c;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`warning: the web console did not start (${msg}); protection goes on without it (use --console ADDR or --no-console)\n`);
    return null;
  }
}
