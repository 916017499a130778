/** `tidemark index rebuild`, `verify`, `prune`: keeping a vault healthy. */
import type { Command } from 'commander';
import { Vault } from '../../vault/vault.js';
import { output, vaultDir, withGlobals, type GlobalOptions } from '../cli-context.js';

export function registerMaintenance(program: Command): void {
  const index = program.command('index').description('manage the vault index (a cache rebuilt from the packs)');
  withGlobals(index.command('rebuild').description('recreate the index from the packs alone'))
    .action((o: GlobalOptions) => {
      const dir = vaultDir(o);
      // Unlock and lock first, so a wrong passphrase or a live writer changes nothing.
      const probe = Vault.open(dir, { passphraseFile: o.passphraseFile, write: true, command: 'index rebuild' });
      probe.index.db.exec('DELETE FROM versions; DELETE FROM head; DELETE FROM points; DELETE FROM commits; DELETE FROM blobs; DELETE FROM packs; DELETE FROM groups; DELETE FROM bookmarks;');
      const started = Date.now();
      try {
        const r = probe.syncIndex();
        probe.syncBookmarks();
        const groups = probe.index.groups();
        output(o, { packs: r.packs, commits: r.commits, groups: groups.map((g) => ({ name: g.name, lastSeq: g.lastSeq })), seconds: (Date.now() - started) / 1000 },
          () => `Rebuilt the index from ${r.packs} packs: ${r.commits} journal commits, ${groups.length} group(s)`);
      } finally {
        probe.close();
      }
    });
}
