/**
 * What the console keeps per group beside the vault's own policy: the RPO target the
 * overview measures lag against, and the protected source directory last seen (so a
 * restore can refuse to land on production even when no `protect` is running).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TidemarkError, isErrno, wrapIo } from '../common/errors.js';
import { writeFileDurable } from '../common/durable-file.js';

/** RPO target of a group nobody set one for. */
export const DEFAULT_RPO_TARGET_MS = 60_000;

const GroupSettings = z.object({ rpoTargetMs: z.number().int().positive().optional(), source: z.string().optional() });
const FileSchema = z.object({ version: z.literal(1), groups: z.record(z.string(), GroupSettings) });
export type GroupSettings = z.infer<typeof GroupSettings>;

export class ConsoleSettings {
  readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'settings.json');
  }

  private read(): Record<string, GroupSettings> {
    let text: string;
    try { text = readFileSync(this.path, 'utf8'); } catch (err) {
      if (isErrno(err, 'ENOENT')) return {};
      throw wrapIo(err, `Cannot read ${this.path}`);
    }
    try {
      return FileSchema.parse(JSON.parse(text)).groups;
    } catch (err) {
      throw new TidemarkError('TM_CORRUPT', `The console settings file ${this.path} is malformed`, { cause: err, hint: 'fix or delete it (targets fall back to their defaults)' });
    }
  }

  group(name: string): GroupSettings {
    return this.read()[name] ?? {};
  }

  rpoTargetMs(name: string): number {
    return this.group(name).rpoTargetMs ?? DEFAULT_RPO_TARGET_MS;
  }

  /** Merge `change` into a group's settings (durably); a no-op change writes nothing. */
  update(name: string, change: GroupSettings): void {
    const all = this.read();
    const before = all[name] ?? {};
    const after = { ...before, ...change };
    if (JSON.stringify(before) === JSON.stringify(after)) return;
    all[name] = after;
    writeFileDurable(this.path, Buffer.from(JSON.stringify({ version: 1, groups: all }, null, 2) + '\n'), 0o600);
  }

  /** Every source directory ever recorded, by group. */
  sources(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [g, s] of Object.entries(this.read())) if (s.source) out.set(g, s.source);
    return out;
  }
}
