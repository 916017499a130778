/** `tidemark pki init|issue|token|enroll`: the certificate authority and node identities for mutual TLS. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { initCa, issueNode, validateNodeName } from '../../pki/cert-authority.js';
import { createEnrolmentToken, enrollNode } from '../../pki/enrolment.js';
import { output, type GlobalOptions } from '../cli-context.js';

interface PkiOptions extends GlobalOptions { dir: string; name?: string; out?: string; san?: string[]; ttl?: string; hub?: string; token?: string }

export function registerPki(program: Command): void {
  const pki = program.command('pki').description('certificate authority and node certificates (mutual TLS between tap, hub and vaults)');
  pki.command('init').description('create a certificate authority in --dir')
    .requiredOption('--dir <dir>', 'directory for the CA (keep it on a trusted machine)')
    .option('--json', 'print machine-readable JSON on stdout')
    .action((o: PkiOptions) => {
      const r = initCa(resolve(o.dir));
      output(o, r, () => `Created CA in ${r.dir} (SHA-256 ${r.fingerprint})`);
    });
  pki.command('issue').description('issue a node key and certificate (offline; copy --out to the node)')
    .requiredOption('--dir <dir>', 'the CA directory')
    .requiredOption('--name <name>', 'node name (certificate CN)')
    .requiredOption('--out <dir>', 'node directory to write: ca.crt, node.key, node.crt')
    .option('--san <host...>', 'extra host names or IP addresses the node is reached at (localhost and 127.0.0.1 are always included)')
    .option('--json', 'print machine-readable JSON on stdout')
    .action((o: PkiOptions) => {
      const r = issueNode(resolve(o.dir), validateNodeName(o.name!), resolve(o.out!), o.san ?? []);
      output(o, r, () => `Issued a certificate for ${r.name} into ${r.out}`);
    });
  pki.command('token').description('create a one-time enrolment token for a node (redeemed at a hub started with --ca-dir)')
    .requiredOption('--dir <dir>', 'the CA directory')
    .requiredOption('--name <name>', 'node name the token enrols')
    .option('--ttl <minutes>', 'minutes until the token expires', '60')
    .option('--json', 'print machine-readable JSON on stdout')
    .action((o: PkiOptions) => {
      const r = createEnrolmentToken(resolve(o.dir), validateNodeName(o.name!), Number(o.ttl) * 60_000);
      output(o, r, () => `${r.token}\n(one use, for node ${r.name}, expires ${r.expires})`);
    });
  pki.command('enroll').description('obtain this node\'s certificate from a hub with a one-time token')
    .requiredOption('--hub <url>', 'the hub (tls://HOST:PORT)')
    .requiredOption('--token <token>', 'the token from `tidemark pki token`')
    .requiredOption('--out <dir>', 'node directory to write: ca.crt, node.key, node.crt')
    .option('--json', 'print machine-readable JSON on stdout')
    .action(async (o: PkiOptions) => {
      const r = await enrollNode(o.hub!, o.token!, resolve(o.out!));
      output(o, r, () => `Enrolled as ${r.name}; identity written to ${r.out}`);
    });
}
