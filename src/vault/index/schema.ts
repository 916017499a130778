/**
 * The SQLite index schema. The index is a cache: everything in it can be rebuilt from
 * the packs (and bookmark files) by `tidemark index rebuild`. Migrations are numbered;
 * `user_version` records the last one applied.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE packs (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, size INTEGER NOT NULL);
  CREATE TABLE blobs (id BLOB PRIMARY KEY, pack INTEGER NOT NULL, type INTEGER NOT NULL, flags INTEGER NOT NULL,
    offset INTEGER NOT NULL, length INTEGER NOT NULL, raw_length INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX blobs_pack ON blobs (pack);
  CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE commits (blob BLOB PRIMARY KEY, group_id INTEGER NOT NULL, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE points (group_id INTEGER NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL, PRIMARY KEY (group_id, seq)) WITHOUT ROWID;
  CREATE INDEX points_time ON points (group_id, time, seq);
  CREATE TABLE versions (group_id INTEGER NOT NULL, path BLOB NOT NULL, seq INTEGER NOT NULL, parent BLOB, name BLOB NOT NULL,
    kind INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL, extents BLOB, target BLOB, link BLOB,
    PRIMARY KEY (group_id, path, seq)) WITHOUT ROWID;
  CREATE INDEX versions_parent ON versions (group_id, parent, name, seq);
  CREATE TABLE head (group_id INTEGER NOT NULL, path BLOB NOT NULL, seq INTEGER NOT NULL, parent BLOB, name BLOB NOT NULL,
    kind INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL, extents BLOB, target BLOB, link BLOB,
    PRIMARY KEY (group_id, path)) WITHOUT ROWID;
  CREATE INDEX head_parent ON head (group_id, parent, name);
  CREATE INDEX head_ino ON head (group_id, ino);
  CREATE TABLE bookmarks (group_id INTEGER NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL,
    consistency TEXT NOT NULL, tags TEXT NOT NULL, file TEXT NOT NULL, PRIMARY KEY (group_id, name));
  `,
  // Retention: the seq up to which a compacted commit (written by prune) replaces the
  // group's journal (commits ending at or before it are superseded), and its generation.
  `
  ALTER TABLE groups ADD COLUMN compacted_through INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE groups ADD COLUMN compacted_generation INTEGER NOT NULL DEFAULT 0;
  `,
  // Volume groups: per-block version lists (block = 4 KiB of the volume's address space;
  // chunk NULL = zeros; coff = the block's index inside the chunk) and baseline windows.
  `
  CREATE TABLE vblocks (group_id INTEGER NOT NULL, block INTEGER NOT NULL, seq INTEGER NOT NULL, chunk BLOB, coff INTEGER NOT NULL,
    PRIMARY KEY (group_id, block, seq)) WITHOUT ROWID;
  CREATE TABLE vbaselines (group_id INTEGER NOT NULL, start_seq INTEGER NOT NULL, end_seq INTEGER, size INTEGER NOT NULL,
    PRIMARY KEY (group_id, start_seq)) WITHOUT ROWID;
  `,
  // Torn captures: a file version read while the file was being written (journal op 7).
  // Point-in-time reads skip them unless asked; the partial index finds them quickly.
  `
  ALTER TABLE versions ADD COLUMN torn INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE head ADD COLUMN torn INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX versions_torn ON versions (group_id, seq) WHERE torn = 1;
  `,
];
