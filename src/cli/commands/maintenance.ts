/** `tidemark index rebuild`, `verify`, `prune`: keeping a vault healthy. */
import type { Command } from 'commander';
import { Vault } from '../../vault/vault.js';
import { verifyVault } from '../../vault/vault-verify.js';
import { TidemarkError } from '../../common/errors.js';
import { formatBytes, openVault, output, progressLine, vaultDir, withGlobals, type GlobalOptions } from '../cli-context.js';

export function registerMaintenance(program: Command): void {
  const index = program.command('index').description('manage the vault index (a cache rebuilt from the packs)');
  withGlobals(index.command('rebuild').description('recreate the index from the packs alone'))
    .action((o: GlobalOptions) => {
      const dir = vaultDir(o);
      const started = Date.now();
      // The old index is deleted once the passphrase is checked and the lock is held; the
      // open then indexes every pack, as after any crash.
      const probe = Vault.open(dir, { passphraseFile: o.passphraseFile, write: true, command: 'index rebuild', resetIndex: true });
      try {
        const r = { packs: probe.index.packNames().size, commits: probe.index.db.prepare('SELECT count(*) AS n FROM commits').get() as { n: number } };
        probe.syncBookmarks();
        const groups = probe.index.groups();
        output(o, { packs: r.packs, commits: r.commits.n, groups: groups.map((g) => ({ name: g.name, lastSeq: g.lastSeq })), seconds: (Date.now() - started) / 1000 },
          () => `Rebuilt the index from ${r.packs} packs: ${r.commits.n} journal commits, ${groups.length} group(s)`);
      } finally {
        probe.close();
      }
    });

  withGlobals(program.command('verify').description('check the vault; --read-data also decrypts and checks every blob'))
    .option('--read-data', 'read, decrypt and check every blob (slower)')
    .action((o: GlobalOptions & { readData?: boolean }) => {
      const vault = openVault(o, false, 'verify');
      try {
        const line = progressLine(o);
        const r = verifyVault(vault, { readData: o.readData === true, onProgress: (d, t) => line(`verifying pack ${d}/${t}`) });
        line.done();
        output(o, r, () => {
          const lines = [`Checked ${r.packs} packs, ${r.blobs} blobs${o.readData ? `, read ${r.blobsRead} blobs (${formatBytes(r.bytesRead)})` : ''}`];
          for (const p of r.problems) {
            lines.push(`  ${p.kind}: ${p.message}`);
            for (const a of p.affected.slice(0, 50)) lines.push(`    affects ${a.group}:${a.path} at seq ${a.seqs.slice(0, 5).join(', ')}${a.seqs.length > 5 ? ', …' : ''}`);
            if (p.affected.length > 50) lines.push(`    … and ${p.affected.length - 50} more`);
          }
          lines.push(r.ok ? 'No damage found.' : 'DAMAGE FOUND: the files listed above cannot be restored at the points listed.');
          return lines.join('\n');
        });
        if (!r.ok) throw new TidemarkError('TM_CORRUPT', `verify found ${r.problems.length} problem(s) in the vault ${vault.dir}`, { hint: 'the affected files are listed above; other files still restore' });
      } finally {
        vault.close();
      }
    });
}
