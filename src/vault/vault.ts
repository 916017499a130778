/**
 * A vault in a local directory: config, key files, packs, bookmarks and the SQLite index.
 * This is the one place that knows the ordering rules (docs/FORMAT.md, "Write ordering"):
 * a pack is durable before the index names it; a journal commit is written after every
 * chunk it references is durable; a commit is acknowledged only after its pack is durable.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TidemarkError, isErrno, wrapIo } from '../common/errors.js';
import { writeFileDurable } from '../common/durable-file.js';
import { newMasterKey, parseKeyFile, unwrapMasterKey, wrapMasterKey, type MasterKey } from './crypto/master-key.js';
import { Sealer } from './crypto/sealer.js';
import { replayWriteLogs } from './write-log/replay-write-logs.js';
import { SealPool, type SealedResult } from './crypto/seal-pool.js';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { IndexDb } from './index/index-db.js';
import { PackReader } from './pack/pack-reader.js';
import { PackWriter, type WrittenPack } from './pack/pack-writer.js';
import { PackFlusher } from './pack/pack-flusher.js';
import { BlobType, type BlobEntry } from './pack/pack-format.js';
import { CommitEncoder, decodeCommit, encodeCompactedCommit } from './journal/commit-codec.js';
import { applyRecord } from './journal/journal-applier.js';
import { isCompacted, type CompactedCommit, type JournalCommit, type JournalRecord, type StoredCommit } from './journal/journal-record.js';
import { VaultLock } from './vault-lock.js';
import { generatedPassphrasePath, givenPassphrase, isVault, newConfig, readConfig, type VaultConfig } from './vault-config.js';

export interface OpenOptions {
  passphraseFile?: string;
  env?: NodeJS.ProcessEnv;
  /** take the writer lock (protect, prune, index rebuild) */
  write?: boolean;
  /** the command, recorded in the lock file */
  command?: string;
  /** delete the index before opening (index rebuild); requires `write` */
  resetIndex?: boolean;
}

export interface InitResult {
  dir: string;
  id: string;
  /** set when a passphrase was generated and written here */
  generatedPassphraseFile?: string;
}

const BOOKMARK_AAD = Buffer.from('tidemark-bookmark-v1');
/** Chunks below this many bytes are sealed on the calling thread. */
const SMALL_CHUNK = 16 * 1024;

/** True when the machine has more than one core and sealing threads are not turned off. */
function spareCores(): boolean {
  return availableParallelism() > 1 && process.env.TIDEMARK_SEAL_THREADS !== '0';
}

/** Create a vault in `dir` (which must not already hold one). */
export function initVault(dir: string, opts: { passphraseFile?: string; env?: NodeJS.ProcessEnv; generateIfMissing?: boolean }): InitResult {
  const env = opts.env ?? process.env;
  if (isVault(dir)) throw new TidemarkError('TM_VAULT_EXISTS', `${dir} already holds a Tidemark vault`, { hint: 'use it as it is, or choose another --vault' });
  let entries: string[] = [];
  try { entries = readdirSync(dir); } catch (err) { if (!isErrno(err, 'ENOENT')) throw wrapIo(err, `Cannot read ${dir}`); }
  if (entries.length > 0) throw new TidemarkError('TM_USAGE', `Cannot create a vault in ${dir}: the directory is not empty`, { hint: 'choose an empty or new directory for --vault' });
  const id = randomBytes(16).toString('hex');
  let given = givenPassphrase(opts.passphraseFile, env);
  let generatedPassphraseFile: string | undefined;
  if (!given) {
    if (!opts.generateIfMissing) {
      throw new TidemarkError('TM_NO_PASSPHRASE', 'No passphrase given for the new vault', { hint: 'set $TIDEMARK_PASSPHRASE or pass --passphrase-file FILE' });
    }
    generatedPassphraseFile = generatedPassphrasePath(id, env);
    const passphrase = randomBytes(24).toString('base64url');
    mkdirSync(dirname(generatedPassphraseFile), { recursive: true, mode: 0o700 });
    writeFileDurable(generatedPassphraseFile, Buffer.from(passphrase + '\n'), 0o600);
    given = { passphrase, from: generatedPassphraseFile };
  }
  try {
    mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
    mkdirSync(join(dir, 'packs'), { recursive: true });
    mkdirSync(join(dir, 'bookmarks'), { recursive: true });
  } catch (err) {
    throw wrapIo(err, `Cannot create the vault directory ${dir}`);
  }
  const key = newMasterKey();
  const keyFile = wrapMasterKey(key, given.passphrase);
  writeFileDurable(join(dir, 'keys', `${randomBytes(8).toString('hex')}.json`), Buffer.from(JSON.stringify(keyFile, null, 2) + '\n'));
  // config.json last: its presence marks a complete vault.
  writeFileDurable(join(dir, 'config.json'), Buffer.from(JSON.stringify(newConfig(id), null, 2) + '\n'), 0o644);
  return { dir, id, generatedPassphraseFile };
}

function unlock(dir: string, config: VaultConfig, opts: OpenOptions): MasterKey {
  const env = opts.env ?? process.env;
  let given = givenPassphrase(opts.passphraseFile, env);
  if (!given) {
    const generated = generatedPassphrasePath(config.id, env);
    try {
      given = { passphrase: readFileSync(generated, 'utf8').trim(), from: generated };
    } catch {
      throw new TidemarkError('TM_NO_PASSPHRASE', `No passphrase given for the vault ${dir}`, { hint: 'set $TIDEMARK_PASSPHRASE or pass --passphrase-file FILE' });
    }
  }
  let files: string[];
  try {
    files = readdirSync(join(dir, 'keys')).filter((f) => f.endsWith('.json'));
  } catch (err) {
    throw new TidemarkError('TM_NOT_A_VAULT', `${dir} has no keys directory`, { cause: err });
  }
  for (const f of files.sort()) {
    const keyFile = parseKeyFile(readFileSync(join(dir, 'keys', f), 'utf8'), join(dir, 'keys', f));
    const key = unwrapMasterKey(keyFile, given.passphrase);
    if (key) return key;
  }
  throw new TidemarkError('TM_BAD_PASSPHRASE', `Cannot open vault "${dir}": the passphrase unlocks no key (check ${given.from})`, {
    hint: 'the passphrase is wrong for this vault; nothing was changed',
  });
}

/** An open vault. Close it to release the lock and file handles. */
export class Vault {
  readonly index: IndexDb;
  readonly sealer: Sealer;
  readonly packs: PackReader;
  private writer: PackWriter | null = null;
  private pool: SealPool | null = null;
  private flusher: PackFlusher | null = null;
  private lock: VaultLock | null;
  private inTxn = false;

  private constructor(readonly dir: string, readonly config: VaultConfig, readonly key: MasterKey, lock: VaultLock | null) {
    this.lock = lock;
    this.sealer = new Sealer(key);
    this.packs = new PackReader(dir, this.sealer);
    this.index = new IndexDb(join(dir, 'index.sqlite'));
  }

  static open(dir: string, opts: OpenOptions = {}): Vault {
    const config = readConfig(dir);
    const key = unlock(dir, config, opts);
    const command = opts.command ?? 'tidemark';
    const lock = opts.write ? VaultLock.acquire(dir, command) : VaultLock.tryAcquire(dir, command);
    let vault: Vault;
    try {
      if (opts.resetIndex && lock) {
        for (const f of ['index.sqlite', 'index.sqlite-wal', 'index.sqlite-shm']) rmSync(join(dir, f), { force: true });
      }
      vault = new Vault(dir, config, key, lock);
    } catch (err) {
      lock?.release();
      throw err;
    }
    try {
      // Only the lock holder may write the index; a reader beside a live writer trusts it.
      if (lock) {
        vault.syncIndex();
        // Writes a volume tap logged but did not fold before it stopped (docs/FORMAT.md, "Volume write logs").
        try {
          replayWriteLogs(vault);
        } catch (err) {
          // A reader still reads what the journal holds; a writer must not build on a gap.
          if (opts.write || !(err instanceof TidemarkError)) throw err;
          process.emitWarning(`${err.message}${err.hint ? ` (${err.hint})` : ''}; reading the journal as it is`);
        }
      }
      vault.syncBookmarks();
    } catch (err) {
      vault.close();
      throw err;
    } finally {
      if (lock && !opts.write) { lock.release(); vault.lock = null; }
    }
    return vault;
  }

  /**
   * A second writing handle for a thread of the process that holds the writer lock (the
   * volume tap's fold thread): it takes no lock and runs no index sync or replay (the
   * holder did that); the holder must not write through its own handle meanwhile.
   */
  static openBorrowed(dir: string, key: MasterKey): Vault {
    const vault = new Vault(dir, readConfig(dir), key, null);
    vault.borrowed = true;
    return vault;
  }

  private borrowed = false;

  get writable(): boolean { return this.lock !== null || this.borrowed; }

  // ---- index sync -------------------------------------------------------------------------

  /** Names of all packs present on disk. */
  listPackFiles(): string[] {
    const out: string[] = [];
    const root = join(this.dir, 'packs');
    for (const sub of readdirSync(root)) {
      let names: string[];
      try { names = readdirSync(join(root, sub)); } catch { continue; }
      for (const n of names) {
        if (n.startsWith('.tmp-')) {
          if (this.lock) { try { unlinkSync(join(root, sub, n)); } catch { /* best effort: a leftover temp file is harmless */ } }
          continue;
        }
        if (/^[0-9a-f]{64}\.pack$/.test(n)) out.push(n.slice(0, 64));
      }
    }
    return out.sort();
  }

  /**
   * Bring the index up to date with packs it does not know: packs written by a process
   * that died before updating the index (or every pack, for `index rebuild`). Their blobs
   * become reusable and their journal commits are applied, all in one transaction: per
   * group, the compacted commit with the highest `through` first (it replaces every commit
   * ending at or before it, which is skipped), then the other commits in seq order.
   * A commit that cannot be read or applied (damaged, malformed, naming unsafe paths, or
   * leaving a gap) is skipped with a warning and listed in `skipped`: the points before it stay readable.
   */
  syncIndex(): { packs: number; commits: number; skipped: SkippedCommit[] } {
    const known = this.index.packNames();
    const unknown = this.listPackFiles().filter((n) => !known.has(n));
    const skipped: SkippedCommit[] = [];
    if (unknown.length === 0) return { packs: 0, commits: 0, skipped };
    const skip = (group: string, seq: number, blob: Buffer, err: unknown): void => {
      if (!(err instanceof TidemarkError) || !['TM_FORMAT', 'TM_CORRUPT', 'TM_UNSAFE_PATH'].includes(err.code)) throw err;
      skipped.push({ group, seq, blob: blob.toString('hex'), error: err.message });
      process.emitWarning(`journal commit ${blob.toString('hex').slice(0, 16)}${group ? ` of group "${group}" at seq ${seq}` : ''} was not applied: ${err.message}`);
    };
    const tables: { name: string; size: number; blobs: BlobEntry[] }[] = [];
    const found = new Map<string, { pack: string; e: BlobEntry }>();
    for (const name of unknown) {
      let table;
      try {
        table = this.packs.readTable(name);
      } catch (err) {
        if (err instanceof TidemarkError && err.code === 'TM_CORRUPT') {
          process.emitWarning(`skipping unreadable pack ${name}: ${err.message}`);
          continue;
        }
        throw err;
      }
      tables.push({ name, ...table });
      for (const b of table.blobs) {
        const hex = b.id.toString('hex');
        if (b.type === BlobType.commit && !found.has(hex) && !this.index.hasCommit(b.id)) found.set(hex, { pack: name, e: b });
      }
    }
    const byGroup = new Map<string, { compacted: { id: Buffer; c: CompactedCommit }[]; plain: { id: Buffer; c: JournalCommit }[] }>();
    for (const { pack, e } of found.values()) {
      let c: StoredCommit;
      try {
        c = decodeCommit(this.packs.readBlob(pack, e), `commit ${e.id.toString('hex').slice(0, 16)}`);
      } catch (err) {
        skip('', 0, e.id, err);
        continue;
      }
      let g = byGroup.get(c.group);
      if (!g) { g = { compacted: [], plain: [] }; byGroup.set(c.group, g); }
      if (isCompacted(c)) g.compacted.push({ id: e.id, c });
      else g.plain.push({ id: e.id, c });
    }
    let applied = 0;
    // Each commit in a savepoint of its own: one that fails leaves no trace.
    const apply = (id: Buffer, c: StoredCommit): void => {
      try {
        if (this.index.transaction(() => this.applyCommit(id, c))) applied++;
      } catch (err) {
        skip(c.group, isCompacted(c) ? c.through : c.firstSeq, id, err);
      }
    };
    this.index.transaction(() => {
      for (const t of tables) {
        const pid = this.index.addPack(t.name, t.size);
        for (const b of t.blobs) this.index.addBlob(b.id, pid, b.type, b.flags, b.offset, b.length, b.rawLength);
      }
      for (const group of [...byGroup.keys()].sort()) {
        const g = byGroup.get(group)!;
        g.compacted.sort((a, b) => b.c.through - a.c.through || b.c.generation - a.c.generation);
        const best = g.compacted[0];
        if (best) apply(best.id, best.c);
        g.plain.sort((a, b) => a.c.firstSeq - b.c.firstSeq);
        for (const { id, c } of g.plain) apply(id, c);
      }
    });
    return { packs: unknown.length, commits: applied, skipped };
  }

  /**
   * Apply a commit read from a pack; false when it was already applied or is superseded
   * by a compacted commit (then it is not recorded in `commits`, and prune removes it).
   */
  private applyCommit(id: Buffer, commit: StoredCommit): boolean {
    const gid = this.index.ensureGroup(commit.group);
    const { through, generation } = this.index.compacted(gid);
    if (isCompacted(commit)) {
      if (commit.through < through || (commit.through === through && commit.generation <= generation)) return false;
      this.index.applyCompacted(gid, commit);
      this.index.addCommit(id, gid, Math.min(commit.points[0]?.seq ?? commit.through, commit.records[0]?.seq ?? commit.through), commit.through);
      return true;
    }
    const last = this.index.lastSeq(gid);
    const lastInCommit = commit.firstSeq + commit.records.length - 1;
    if (lastInCommit <= through) return false;
    if (lastInCommit <= last) { this.index.addCommit(id, gid, commit.firstSeq, lastInCommit); return false; }
    if (commit.firstSeq !== last + 1) {
      throw new TidemarkError('TM_CORRUPT', `journal of group "${commit.group}" has a gap: next commit starts at seq ${commit.firstSeq}, index ends at ${last}`, {
        hint: 'run `tidemark verify`; `tidemark index rebuild` recreates the index from the packs',
      });
    }
    for (const rec of commit.records) applyRecord(this.index, gid, rec);
    this.index.addCommit(id, gid, commit.firstSeq, lastInCommit);
    return true;
  }

  // ---- bookmarks --------------------------------------------------------------------------

  /** Index bookmark files the index does not know yet. */
  syncBookmarks(): void {
    let files: string[];
    try { files = readdirSync(join(this.dir, 'bookmarks')).filter((f) => f.endsWith('.bm')); } catch { return; }
    const known = this.index.bookmarkFiles();
    for (const f of files) {
      if (known.has(f)) continue;
      const b = this.readBookmarkFile(f);
      const gid = this.index.groupId(b.group);
      if (gid === undefined) continue;
      try {
        this.index.addBookmark(gid, { ...b, file: f });
      } catch (err) {
        // SQLITE_BUSY: a live writer holds the index; the bookmark is found again next time.
        if (!(err instanceof Error && /busy|locked/i.test(err.message))) throw err;
      }
    }
  }

  private readBookmarkFile(f: string): { group: string; name: string; seq: number; time: number; consistency: string; tags: string[] } {
    const sealed = readFileSync(join(this.dir, 'bookmarks', f));
    const plain = this.sealer.decrypt(BOOKMARK_AAD, sealed, `bookmark file ${f}`);
    return JSON.parse(plain.toString('utf8')) as { group: string; name: string; seq: number; time: number; consistency: string; tags: string[] };
  }

  /** Durably record a bookmark (a sealed file of its own: no writer lock needed). */
  addBookmark(b: { group: string; name: string; seq: number; time: number; consistency: string; tags: string[] }): void {
    const file = `${Date.now().toString(16)}-${randomBytes(8).toString('hex')}.bm`;
    writeFileDurable(join(this.dir, 'bookmarks', file), this.sealer.encrypt(BOOKMARK_AAD, Buffer.from(JSON.stringify(b))), 0o600);
    const gid = this.index.ensureGroup(b.group);
    this.index.addBookmark(gid, { ...b, file });
  }

  // ---- writing ----------------------------------------------------------------------------

  private requireWriter(): PackWriter {
    if (!this.lock && !this.borrowed) throw new TidemarkError('TM_INTERNAL', 'vault opened without the writer lock');
    if (!this.writer) {
      // With a core to spare, full packs are hashed and written on a thread of their own.
      if (spareCores()) this.flusher = new PackFlusher();
      this.writer = new PackWriter(this.dir, this.sealer, undefined, this.flusher);
    }
    return this.writer;
  }

  /** Begin the index transaction a capture runs in (records applied as they are made). */
  begin(): void {
    this.requireWriter();
    this.index.db.exec('BEGIN IMMEDIATE');
    this.inTxn = true;
  }

  /** Roll back an unfinished capture (its durable packs stay, as orphans or for reuse). */
  rollback(): void {
    if (this.inTxn) { this.index.db.exec('ROLLBACK'); this.inTxn = false; }
  }

  /** True when a chunk with this id is stored, being sealed, or waiting in the open pack. */
  hasBlob(id: Buffer): boolean {
    if (this.index.hasBlob(id)) return true;
    const hex = id.toString('hex');
    return (this.writer?.has(hex) ?? false) || (this.pool?.has(hex) ?? false);
  }

  private readonly sink = (r: SealedResult): void => this.addSealed(r.type, r.id, r.sealed, r.flags, r.rawLength);

  private sealPool(): SealPool | null {
    if (!this.pool && spareCores()) {
      const threads = Math.max(1, Math.min(4, Number(process.env.TIDEMARK_SEAL_THREADS) || availableParallelism() - 1));
      this.pool = new SealPool(this.key, createRequire(import.meta.url).resolve('zstd-napi'), threads);
    }
    return this.pool;
  }

  /**
   * Store a chunk the vault lacks: sealed on a worker thread when the machine has a core
   * to spare, else here. Durable only after the next flushPack/commit.
   */
  storeChunk(id: Buffer, data: Uint8Array): void {
    this.requireWriter();
    const pool = this.sealPool();
    // A small chunk costs less to seal here than to send to a worker and back.
    if (pool && data.length >= SMALL_CHUNK) pool.submit(BlobType.data, id, data, this.sink);
    else this.sealHere(id, data);
  }

  /** Compress, encrypt and add one data chunk on this thread. */
  private sealHere(id: Buffer, data: Uint8Array): void {
    if (data.length >= SMALL_CHUNK) this.sealedHere++;
    const s = this.sealer.seal(id, data);
    this.addSealed(BlobType.data, id, s.sealed, s.flags, s.rawLength);
  }

  /** Chunks of worker size sealed on this thread because the workers were behind (or absent). */
  sealedHere = 0;

  /**
   * Store a chunk by content: its keyed id is computed (on a worker thread for large
   * chunks, so the calling thread can go on reading), then `onId(id, stored)` is called,
   * where `stored` says whether this call stores it (false: the vault has it already, or
   * is already storing it). With workers, `onId` runs during a later store call or
   * {@link awaitChunkIds}; without, before this returns. Durable only after the next
   * flushPack/commit.
   */
  storeContent(data: Uint8Array, onId: (id: Buffer, stored: boolean) => void): void {
    this.requireWriter();
    const pool = this.sealPool();
    if (pool && data.length >= SMALL_CHUNK) {
      pool.pump(this.sink, false);
      // Workers behind (a run of large new files): this thread hashes and seals the chunk
      // itself instead of sleeping until they catch up, so every core stays busy.
      if (!pool.busyFor(data.length)) {
        pool.submitForId(BlobType.data, data, (id) => {
          const stored = !this.hasBlob(id);
          onId(id, stored);
          return stored;
        }, this.sink);
        return;
      }
    }
    const id = this.sealer.id(data);
    const stored = !this.hasBlob(id);
    onId(id, stored);
    if (stored) this.sealHere(id, data);
  }

  /** Deliver the ids computed so far to their `onId` callbacks; with `wait`, first wait for at least one answer from the workers. */
  awaitChunkIds(wait: boolean): void {
    this.pool?.pump(this.sink, wait);
  }

  /** Store one sealed data blob; flushes the pack when it is full. */
  addSealed(type: number, id: Buffer, sealed: Buffer, flags: number, rawLength: number): void {
    const w = this.requireWriter();
    w.add(type, id, sealed, flags, rawLength);
    if (w.full) w.flushInBackground(this.recordPack);
  }

  private readonly recordPack = (p: WrittenPack): void => {
    const pid = this.index.addPack(p.name, p.size);
    for (const b of p.blobs) this.index.addBlob(b.id, pid, b.type, b.flags, b.offset, b.length, b.rawLength);
  };

  /** Make buffered blobs durable and known to the index. */
  flushPack(): void {
    this.pool?.drain(this.sink);
    this.flushWriter();
  }

  /** Write the open pack (without waiting for chunks still being sealed). */
  private flushWriter(): void {
    const p = this.writer?.flush();
    if (p) this.recordPack(p);
  }

  /**
   * Commit records (already applied to the index inside this transaction; as objects,
   * or encoded as they came): seal the journal commit, write it durably after every chunk
   * it needs, then commit the index. Returns once the commit is durable: that is the
   * acknowledgement.
   */
  commit(group: string, records: JournalRecord[] | CommitEncoder): void {
    const enc = Array.isArray(records) ? (records.length > 0 ? new CommitEncoder(group, records[0]!.seq) : null) : records;
    if (enc && Array.isArray(records)) for (const rec of records) enc.add(rec);
    this.pool?.drain(this.sink);
    if (enc && enc.count > 0) {
      const plain = enc.finish();
      const id = this.sealer.id(plain);
      const s = this.sealer.seal(id, plain);
      this.requireWriter().add(BlobType.commit, id, s.sealed, s.flags, s.rawLength);
      this.flushPack();
      this.index.addCommit(id, this.index.ensureGroup(enc.group), enc.firstSeq, enc.firstSeq + enc.count - 1);
    } else {
      this.flushPack();
    }
    if (this.inTxn) { this.index.db.exec('COMMIT'); this.inTxn = false; }
  }

  /** Apply a record to the index as it is captured (inside `begin`…`commit`). */
  apply(groupId: number, rec: JournalRecord): void {
    applyRecord(this.index, groupId, rec);
  }

  // ---- reading ----------------------------------------------------------------------------

  /** Read and verify one blob by id. */
  readBlob(id: Buffer): Buffer {
    const loc = this.index.blob(id);
    if (!loc) {
      throw new TidemarkError('TM_CORRUPT', `chunk ${id.toString('hex').slice(0, 16)} is referenced but not in the index`, {
        hint: 'run `tidemark index rebuild`, then `tidemark verify`', details: { chunk: id.toString('hex') },
      });
    }
    return this.packs.readBlob(loc.pack, { id, ...loc });
  }

  close(): void {
    this.pool?.close();
    this.pool = null;
    this.flusher?.close();
    this.flusher = null;
    this.rollback();
    this.packs.close();
    this.index.close();
    this.lock?.release();
    this.lock = null;
  }

  // ---- retention (prune) ------------------------------------------------------------------

  /**
   * Store a compacted commit (docs/FORMAT-retention.md) and apply it to the index. Its pack
   * is durable before the index transaction that names the pack and applies the commit
   * commits: a crash in between leaves an orphan pack that `syncIndex` applies on the next
   * open, so the index and the packs always agree. With `dryRun` nothing is written and
   * the commit is only applied to the index: call it inside a transaction you roll back.
   */
  storeCompacted(c: CompactedCommit, dryRun = false): { blob: Buffer; pack: string | null; size: number } {
    const plain = encodeCompactedCommit(c);
    const id = this.sealer.id(plain);
    const s = this.sealer.seal(id, plain);
    const apply = (): void => {
      if (!this.applyCommit(id, c)) {
        throw new TidemarkError('TM_INTERNAL', `compacted commit through seq:${c.through} (generation ${c.generation}) of group "${c.group}" is older than the one applied`);
      }
    };
    if (dryRun) {
      apply();
      return { blob: id, pack: null, size: s.sealed.length };
    }
    if (!this.lock) throw new TidemarkError('TM_INTERNAL', 'vault opened without the writer lock');
    const w = new PackWriter(this.dir, this.sealer);
    return this.index.transaction(() => {
      w.add(BlobType.commit, id, s.sealed, s.flags, s.rawLength);
      const p = w.flush()!;
      this.recordPack(p);
      apply();
      return { blob: id, pack: p.name, size: p.size };
    });
  }

  // ---- replication ----------------------------------------------------------------------
  // Used by replication (src/replication, src/tap/shipper): reading sealed blobs as they
  // are, to ship them, and storing a commit received from a peer with the same ordering
  // rules as a capture. Nothing above this section depends on it.

  /** A stored blob exactly as sealed (what a replication peer receives), or undefined. */
  readSealed(id: Buffer): { type: number; flags: number; rawLength: number; sealed: Buffer } | undefined {
    const loc = this.index.blob(id);
    if (!loc) return undefined;
    return { type: loc.type, flags: loc.flags, rawLength: loc.rawLength, sealed: this.packs.readRange(loc.pack, loc.offset, loc.length) };
  }

  /** Every chunk id a stored commit references (each once). */
  static chunkIdsOf(c: StoredCommit): Buffer[] {
    const seen = new Map<string, Buffer>();
    for (const rec of c.records) {
      const extents = rec.op === 'put' ? rec.entry.extents : rec.op === 'vwrite' ? rec.extents : [];
      for (const x of extents) if (x.id) seen.set(x.id.toString('hex'), x.id);
    }
    return [...seen.values()];
  }

  /**
   * Store blobs received from a replication peer: chunks this vault lacked, and, last, the
   * sealed commit that references them (chunks may come in earlier calls). Every blob is
   * opened and checked (AEAD, id) before it is kept; the commit must be of `group` and
   * every chunk it references must be here. The chunks and the commit are made durable in
   * a pack first; then one index transaction names that pack and applies the commit (a
   * crash in between leaves a pack `syncIndex` applies on the next open). Returns the
   * group's last seq once a commit was applied, null for chunks alone.
   */
  storeReplicated(group: string, blobs: readonly { type: number; flags: number; id: Buffer; rawLength: number; sealed: Buffer }[]): number | null {
    const w = this.requireWriter();
    const last = blobs[blobs.length - 1];
    const chunks = last?.type === BlobType.commit ? blobs.slice(0, -1) : blobs;
    for (const b of chunks) {
      if (b.type !== BlobType.data) throw new TidemarkError('TM_PROTOCOL', 'a replicated commit carries one commit blob, last');
      this.sealer.open(b.id, b.sealed, b.flags, b.rawLength, `received chunk ${b.id.toString('hex').slice(0, 16)}`);
      if (!this.hasBlob(b.id)) this.addSealed(b.type, b.id, b.sealed, b.flags, b.rawLength);
    }
    if (!last || last.type !== BlobType.commit) return null;
    const what = `received commit ${last.id.toString('hex').slice(0, 16)}`;
    const c = decodeCommit(this.sealer.open(last.id, last.sealed, last.flags, last.rawLength, what), what);
    if (c.group !== group) throw new TidemarkError('TM_PROTOCOL', `${what} is of group "${c.group}", not "${group}"`);
    for (const id of Vault.chunkIdsOf(c)) {
      if (!this.hasBlob(id)) throw new TidemarkError('TM_PROTOCOL', `${what} references chunk ${id.toString('hex').slice(0, 16)}, which was neither sent nor stored here`);
    }
    this.pool?.drain(this.sink);
    w.add(BlobType.commit, last.id, last.sealed, last.flags, last.rawLength);
    const p = w.flush();
    this.index.transaction(() => {
      if (p) this.recordPack(p);
      this.applyCommit(last.id, c);
    });
    return this.index.lastSeq(this.index.ensureGroup(group));
  }
}

/** A journal commit `syncIndex` could not read or apply. */
export interface SkippedCommit {
  /** '' when the commit could not even be decoded */
  group: string;
  /** its first seq (a compacted commit: its through) */
  seq: number;
  /** the commit blob's id, hex */
  blob: string;
  error: string;
}
