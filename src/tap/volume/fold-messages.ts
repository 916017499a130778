/** What the volume tap and its fold thread say to each other (structured-cloned messages). */

/** Where a logged write's bytes are when they are not sent along: a frame of a write log segment. */
export interface FrameLocation { path: string; key: Uint8Array; index: number; pos: number }

/** One logged write to fold: `data` (transferred) or `at` (read back from the log). */
export interface FoldEntryMessage {
  op: number;
  seq: number;
  time: number;
  offset: number;
  length: number;
  data: Uint8Array | null;
  at: FrameLocation | null;
}

export type ToFoldThread =
  | { type: 'entries'; entries: FoldEntryMessage[] }
  /** fold and commit everything sent, then answer `closed` and exit */
  | { type: 'close' }
  /** exit at once, committing nothing (what a crash leaves) */
  | { type: 'abandon' };

export type FromFoldThread =
  | { type: 'folded'; seq: number; commits: number }
  | { type: 'closed'; seq: number; commits: number }
  | { type: 'error'; code: string; message: string };

export interface FoldThreadData {
  vaultDir: string;
  key: { encKey: Uint8Array; idKey: Uint8Array; gearSeed: Uint8Array };
  group: string;
  commitIntervalMs: number;
}
