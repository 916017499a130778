/**
 * A fresh vault opened for writing in this test process (for tests of the vault's and the
 * taps' modules without the CLI), removed after the suite.
 */
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault, initVault } from '../../src/vault/vault.js';

/** Register before/after hooks; the returned getters give the vault and its temp root. */
export function unitVault(prefix: string): { vault: () => Vault; root: () => string } {
  let root = '';
  let vault: Vault | undefined;
  before(() => {
    root = mkdtempSync(join(tmpdir(), prefix));
    const env = { TIDEMARK_PASSPHRASE: 'unit-test' };
    initVault(join(root, 'vault'), { env });
    vault = Vault.open(join(root, 'vault'), { env, write: true });
  });
  after(() => {
    vault?.close();
    rmSync(root, { recursive: true, force: true });
  });
  return { vault: () => vault!, root: () => root };
}
