/** `tidemark vault serve` and `tidemark vault init-replica`: a vault as a replication target. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { loadIdentity } from '../../pki/tls-identity.js';
import { initReplica } from '../../replication/replica-init.js';
import { serveVault } from '../../replication/vault-server.js';
import { openVault, output, vaultDir, withGlobals, type GlobalOptions } from '../cli-context.js';
import { listenAddress, logLine, untilSignal } from './serve-common.js';

export function registerVaultServe(program: Command): void {
  const vault = program.command('vault').description('a vault as a replication target');
  withGlobals(vault.command('init-replica').description('create an empty vault sharing the master key of --from (a replication target)'))
    .requiredOption('--from <dir>', 'the source vault (the tap\'s) whose key files are copied')
    .action((o: GlobalOptions & { from: string }) => {
      const r = initReplica(vaultDir(o), resolve(o.from));
      output(o, r, () => `Created replica vault ${r.dir} (id ${r.id}), sharing the key of ${r.from}; it opens with the same passphrase`);
    });
  withGlobals(vault.command('serve').description('receive replication streams (mutual TLS) into the vault'))
    .requiredOption('--listen <host:port>', 'address to listen on (port 0: any free port)')
    .requiredOption('--tls <dir>', 'this node\'s TLS directory (ca.crt, node.key, node.crt)')
    .option('--allow-peer <name...>', 'accept only these nodes (certificate names), e.g. the hub; default: any node of the CA')
    .action(async (o: GlobalOptions & { listen: string; tls: string; allowPeer?: string[] }) => {
      const v = openVault(o, true, 'vault serve');
      try {
        const { host, port } = listenAddress(o.listen);
        const srv = await serveVault(v, loadIdentity(resolve(o.tls)), host, port, logLine('vault'), o.allowPeer ?? []);
        if (o.json) process.stdout.write(JSON.stringify({ event: 'listening', role: 'vault', port: srv.port, vault: v.dir }) + '\n');
        else process.stderr.write(`Vault ${v.dir} serving on ${host}:${srv.port} (Ctrl-C to stop)\n`);
        await untilSignal();
        srv.close();
      } finally {
        v.close();
      }
    });
}
