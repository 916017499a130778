/** What the API's routes share: the console's own state, and (for a vault console) the open vault. */
import type { Vault } from '../vault/vault.js';
import type { AuditLog } from './audit-log.js';
import type { LoginLimiter } from './auth/login-limiter.js';
import type { SessionStore } from './auth/sessions.js';
import type { UserStore } from './auth/user-store.js';
import type { ConsoleSettings } from './console-settings.js';
import type { RestoreJobs } from './restore-jobs.js';
import type { ImageSessions } from './image-sessions.js';
import type { RpoHistory } from './rpo-history.js';

/** What serves a console: a vault (`protect`, `tidemark console`) or a hub (`tidemark hub`). */
export type ConsoleKind = 'vault' | 'hub';

/** Who may log in and what they did: what every console has, whatever it serves. */
export interface AuthDeps {
  kind: ConsoleKind;
  users: UserStore;
  sessions: SessionStore;
  limiter: LoginLimiter;
  audit: AuditLog;
  /** per-group console settings (RPO target, remembered sources) */
  settings: ConsoleSettings;
  /** true when served over TLS (cookies get `Secure`) */
  secure: boolean;
}

export interface ConsoleDeps extends AuthDeps {
  vault: Vault;
  history: RpoHistory;
  jobs: RestoreJobs;
  /** volume images started from the console */
  images: ImageSessions;
  /** when set, restores may write only inside this directory */
  restoreRoot?: string;
  /** protected source directories by group: live runs, the embedding process's, and remembered ones */
  sources(): Map<string, string>;
}
