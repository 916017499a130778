/**
 * The console's users: `STATE/users.json`, each with a role and a scrypt hash of its
 * password (salt and cost stored beside it). Written only through `writeFileDurable`.
 * Roles nest: a viewer looks, an operator also restores and bookmarks, an admin also
 * changes policies and users.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TidemarkError, isErrno, wrapIo } from '../../common/errors.js';
import { writeFileDurable } from '../../common/durable-file.js';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** True when `role` may do what `needed` may. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export const USER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** Shortest password accepted when one is set by hand. */
export const MIN_PASSWORD = 10;

const KDF = { N: 1 << 15, r: 8, p: 1 };

const UserSchema = z.object({
  name: z.string().regex(USER_NAME_RE),
  role: z.enum(ROLES),
  salt: z.string(),
  hash: z.string(),
  N: z.number().int().min(1024).max(1 << 20),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(16),
  created: z.string(),
  updated: z.string(),
});
const FileSchema = z.object({ version: z.literal(1), users: z.array(UserSchema) });
type StoredUser = z.infer<typeof UserSchema>;

/** A user as the API shows it (never the hash). */
export interface PublicUser { name: string; role: Role; created: string; updated: string }

function derive(password: string, salt: Buffer, k: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, 32, { ...k, maxmem: 256 * k.N * k.r + (1 << 20) }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A random password for generated accounts (24 characters, 144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export class UserStore {
  readonly path: string;

  constructor(readonly stateDir: string) {
    this.path = join(stateDir, 'users.json');
  }

  /** Where the password of the first admin is kept until it is changed. */
  get initialPasswordPath(): string {
    return join(this.stateDir, 'initial-admin-password');
  }

  private read(): StoredUser[] | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw wrapIo(err, `Cannot read the console users ${this.path}`);
    }
    try {
      return FileSchema.parse(JSON.parse(text)).users;
    } catch (err) {
      throw new TidemarkError('TM_CORRUPT', `The console users file ${this.path} is malformed`, { cause: err, hint: 'restore it from a backup, or delete it: the next start creates a new admin' });
    }
  }

  private write(users: StoredUser[]): void {
    writeFileDurable(this.path, Buffer.from(JSON.stringify({ version: 1, users }, null, 2) + '\n'), 0o600);
  }

  /** Every user, without secrets. */
  list(): PublicUser[] {
    return (this.read() ?? []).map(({ name, role, created, updated }) => ({ name, role, created, updated }));
  }

  get(name: string): PublicUser | undefined {
    return this.list().find((u) => u.name === name);
  }

  /**
   * On first start (no admin yet, e.g. only users added by the CLI), create the user "admin"
   * with a generated password, kept in `initialPasswordPath` (mode 0600). Returns that
   * path, or null when an admin exists.
   */
  async ensureAdmin(): Promise<string | null> {
    const users = this.read() ?? [];
    if (users.some((u) => u.role === 'admin')) return null;
    if (users.some((u) => u.name === 'admin')) throw new TidemarkError('TM_USAGE', 'The console has no admin, and the name "admin" is taken by a non-admin', { hint: 'make a user admin: `tidemark console user passwd NAME --role admin`' });
    const password = generatePassword();
    writeFileDurable(this.initialPasswordPath, Buffer.from(password + '\n'), 0o600);
    await this.add('admin', 'admin', password);
    return this.initialPasswordPath;
  }

  /** Add a user; TM_USAGE when the name is taken or invalid. */
  async add(name: string, role: Role, password: string): Promise<PublicUser> {
    if (!USER_NAME_RE.test(name)) throw new TidemarkError('TM_USAGE', `"${name}" is not a valid user name`, { hint: 'use letters, digits, ".", "_", "@" and "-" (up to 64)' });
    const users = this.read() ?? [];
    if (users.some((u) => u.name === name)) throw new TidemarkError('TM_USAGE', `The user "${name}" already exists`, { hint: 'choose another name, or reset its password' });
    const now = new Date().toISOString();
    users.push({ name, role, ...(await this.hash(password)), created: now, updated: now });
    this.write(users);
    return { name, role, created: now, updated: now };
  }

  /** Change a user's role and/or password; TM_NOT_FOUND when there is no such user. */
  async update(name: string, change: { role?: Role; password?: string }): Promise<PublicUser> {
    const users = this.read() ?? [];
    const u = users.find((x) => x.name === name);
    if (!u) throw new TidemarkError('TM_NOT_FOUND', `There is no console user "${name}"`);
    if (change.role && change.role !== 'admin' && u.role === 'admin' && users.filter((x) => x.role === 'admin').length === 1) {
      throw new TidemarkError('TM_USAGE', `"${name}" is the last admin`, { hint: 'make another user admin first' });
    }
    if (change.role) u.role = change.role;
    if (change.password !== undefined) Object.assign(u, await this.hash(change.password));
    u.updated = new Date().toISOString();
    this.write(users);
    // The generated first password is stale once the admin's password changes.
    if (change.password !== undefined && name === 'admin') rmSync(this.initialPasswordPath, { force: true });
    return { name: u.name, role: u.role, created: u.created, updated: u.updated };
  }

  /** Remove a user (never the last admin). */
  remove(name: string): void {
    const users = this.read() ?? [];
    const u = users.find((x) => x.name === name);
    if (!u) throw new TidemarkError('TM_NOT_FOUND', `There is no console user "${name}"`);
    if (u.role === 'admin' && users.filter((x) => x.role === 'admin').length === 1) throw new TidemarkError('TM_USAGE', `"${name}" is the last admin and cannot be removed`);
    this.write(users.filter((x) => x !== u));
  }

  /** The user when `password` is theirs, else null (same work done for unknown names). */
  async verify(name: string, password: string): Promise<PublicUser | null> {
    const u = (this.read() ?? []).find((x) => x.name === name);
    const salt = u ? Buffer.from(u.salt, 'base64') : randomBytes(16);
    const key = await derive(password, salt, u ?? KDF);
    if (!u) return null;
    const want = Buffer.from(u.hash, 'base64');
    return want.length === key.length && timingSafeEqual(want, key) ? { name: u.name, role: u.role, created: u.created, updated: u.updated } : null;
  }

  private async hash(password: string): Promise<Pick<StoredUser, 'salt' | 'hash' | 'N' | 'r' | 'p'>> {
    if (password.length < MIN_PASSWORD) throw new TidemarkError('TM_USAGE', `The password is too short: use at least ${MIN_PASSWORD} characters`);
    const salt = randomBytes(16);
    const key = await derive(password, salt, KDF);
    return { salt: salt.toString('base64'), hash: key.toString('base64'), ...KDF };
  }
}
