/**
 * `tidemark console`: serve the web console and REST API for a vault (read-only beside a
 * live `protect`), and `tidemark console user …` to manage who may log in.
 */
import type { Command } from 'commander';

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { TidemarkError, wrapIo } from '../../common/errors.js';
import { isVault } from '../../vault/vault-config.js';
import { AuditLog } from '../../web/audit-log.js';
import { ROLES, UserStore, generatePassword, type Role } from '../../web/auth/user-store.js';
import { DEFAULT_LISTEN, startConsole, type RunningConsole } from '../../web/index.js';
import { output, vaultDir, withGlobals, type GlobalOptions } from '../cli-context.js';

interface ServeOptions extends GlobalOptions { listen: string; stateDir?: string; tlsCert?: string; tlsKey?: string; restoreRoot?: string }
interface UserOptions extends GlobalOptions { role?: string; passwordFile?: string; stateDir?: string }

/** Options of a `console user …` command, with --vault/--json given before `user` too. */
const merged = (cmd: Command): UserOptions => cmd.optsWithGlobals<UserOptions>();

function stateDirOf(o: GlobalOptions & { stateDir?: string }): string {
  // A hub's console (HUBSTATE/console) has no vault: --state-dir alone names it.
  if (o.stateDir) return resolve(o.stateDir);
  const dir = vaultDir(o);
  if (!isVault(dir)) throw new TidemarkError('TM_NOT_A_VAULT', `${dir} holds no Tidemark vault`, { hint: 'check --vault / $TIDEMARK_VAULT' });
  return join(dir, 'console');
}

function parseRole(r: string | undefined): Role {
  if (!r || !(ROLES as readonly string[]).includes(r)) throw new TidemarkError('TM_USAGE', `--role must be one of ${ROLES.join(', ')}${r ? `, not "${r}"` : ''}`);
  return r as Role;
}

/** The password from --password-file (first line), or a generated one (then printed). */
function passwordFrom(o: UserOptions): { password: string; generated: boolean } {
  if (!o.passwordFile) return { password: generatePassword(), generated: true };
  try {
    return { password: readFileSync(o.passwordFile, 'utf8').split('\n')[0]!.trimEnd(), generated: false };
  } catch (err) {
    throw wrapIo(err, `Cannot read the password file ${o.passwordFile}`);
  }
}

const cliUser = (): string => `cli:${userInfo().username}`;

/** Serve until SIGINT/SIGTERM. */
async function serve(o: ServeOptions): Promise<void> {
  if (!!o.tlsCert !== !!o.tlsKey) throw new TidemarkError('TM_USAGE', '--tls-cert and --tls-key go together');
  const running: RunningConsole = await startConsole({
    vaultDir: vaultDir(o), passphraseFile: o.passphraseFile, listen: o.listen, stateDir: o.stateDir,
    tls: o.tlsCert ? { certFile: o.tlsCert, keyFile: o.tlsKey! } : undefined,
    restoreRoot: o.restoreRoot === undefined ? undefined : resolve(o.restoreRoot),
  });
  if (o.json) process.stdout.write(JSON.stringify({ event: 'listening', url: running.url, initialPasswordFile: running.initialPasswordFile }) + '\n');
  process.stderr.write(`Tidemark console at ${running.url} (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await running.close();
}

export function registerConsole(program: Command): void {
  const cmd = withGlobals(program.command('console').description('serve the web console and REST API (see docs/console.md)'))
    .option('--listen <addr>', 'address to listen on (HOST:PORT; port 0: any free port)', DEFAULT_LISTEN)
    .option('--state-dir <dir>', 'where users, settings and the audit log live (default VAULT/console)')
    .option('--tls-cert <file>', 'serve https with this PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--restore-root <dir>', 'restores from the console may write only inside this directory')
    .action((o: ServeOptions) => serve(o));

  const user = cmd.command('user').description('manage console users');
  withGlobals(user.command('add').argument('<name>').description('add a user (prints a generated password unless --password-file)'))
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--password-file <file>', 'read the password from this file')
    .option('--state-dir <dir>', 'console state directory (default VAULT/console; a hub\'s: HUBSTATE/console)')
    .action(async (name: string, _o: UserOptions, cmd: Command) => {
      const o = merged(cmd);
      const store = new UserStore(stateDirOf(o));
      const { password, generated } = passwordFrom(o);
      const u = await store.add(name, parseRole(o.role), password);
      new AuditLog(join(store.stateDir, 'audit.jsonl')).append({ user: cliUser(), action: 'user.add', target: name, result: 'ok', details: { role: u.role } });
      output(o, { ...u, ...(generated ? { password } : {}) }, () => `Added console user "${name}" (${u.role})${generated ? `; password: ${password}` : ''}`);
    });
  withGlobals(user.command('passwd').argument('<name>').description("reset a user's password (prints a generated one unless --password-file)"))
    .option('--password-file <file>', 'read the new password from this file')
    .option('--role <role>', 'also change the role')
    .option('--state-dir <dir>', 'console state directory (default VAULT/console; a hub\'s: HUBSTATE/console)')
    .action(async (name: string, _o: UserOptions, cmd: Command) => {
      const o = merged(cmd);
      const store = new UserStore(stateDirOf(o));
      const { password, generated } = passwordFrom(o);
      const u = await store.update(name, { password, ...(o.role ? { role: parseRole(o.role) } : {}) });
      new AuditLog(join(store.stateDir, 'audit.jsonl')).append({ user: cliUser(), action: 'user.change', target: name, result: 'ok', details: { role: u.role, password: 'changed' } });
      output(o, { ...u, ...(generated ? { password } : {}) }, () => `Reset the password of "${name}"${generated ? `: ${password}` : ''} (a running console ends its sessions at their next check)`);
    });
  withGlobals(user.command('list').description('list console users'))
    .option('--state-dir <dir>', 'console state directory (default VAULT/console; a hub\'s: HUBSTATE/console)')
    .action((_o: UserOptions, cmd: Command) => {
      const o = merged(cmd);
      const users = new UserStore(stateDirOf(o)).list();
      output(o, users, () => users.map((u) => `${u.name}\t${u.role}\tcreated ${u.created}`).join('\n') || 'No users yet: the first `tidemark console` creates "admin".');
    });
  withGlobals(user.command('remove').argument('<name>').description('remove a user (never the last admin)'))
    .option('--state-dir <dir>', 'console state directory (default VAULT/console; a hub\'s: HUBSTATE/console)')
    .action((name: string, _o: UserOptions, cmd: Command) => {
      const o = merged(cmd);
      const store = new UserStore(stateDirOf(o));
      store.remove(name);
      new AuditLog(join(store.stateDir, 'audit.jsonl')).append({ user: cliUser(), action: 'user.remove', target: name, result: 'ok' });
      output(o, { removed: name }, () => `Removed console user "${name}"`);
    });
}
