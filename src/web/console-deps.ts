/** What the API's routes share: the open vault and the console's own state. */
import type { Vault } from '../vault/vault.js';
import type { AuditLog } from './audit-log.js';
import type { LoginLimiter } from './auth/login-limiter.js';
import type { SessionStore } from './auth/sessions.js';
import type { UserStore } from './auth/user-store.js';
import type { ConsoleSettings } from './console-settings.js';
import type { RestoreJobs } from './restore-jobs.js';
import type { ImageSessions } from './image-sessions.js';
import type { RpoHistory } from './rpo-history.js';

export interface ConsoleDeps {
  vault: Vault;
  users: UserStore;
  sessions: SessionStore;
  limiter: LoginLimiter;
  audit: AuditLog;
  settings: ConsoleSettings;
  history: RpoHistory;
  jobs: RestoreJobs;
  /** volume images started from the console */
  images: ImageSessions;
  /** true when served over TLS (cookies get `Secure`) */
  secure: boolean;
  /** when set, restores may write only inside this directory */
  restoreRoot?: string;
  /** protected source directories by group: live runs, the embedding process's, and remembered ones */
  sources(): Map<string, string>;
}
