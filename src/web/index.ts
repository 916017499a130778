/**
 * src/web: the web console and its REST API, served by `tidemark console`, by the embedded
 * `tidemark protect`, and (later) by `tidemark hub`. Exports `startConsole` (listen and
 * serve) and `createConsoleApp` (the request handler alone). Imports common, vault, image
 * and embedded/run-status; nothing imports it but cli (and hub).
 *
 * auth/     users (scrypt), sessions + CSRF tokens, login rate limit
 * queries/  SQL the API needs beyond the index's own: timeline buckets, changes, overview
 * routes/   the API's route table, one file per area
 * ui/       the browser code (compiled by its own tsconfig), served from dist
 */
export { startConsole, parseListen, DEFAULT_LISTEN, type ConsoleOptions, type RunningConsole } from './console-server.js';
export { createConsoleApp, type ConsoleApp, type ConsoleAppOptions } from './console-app.js';
export { UserStore, ROLES, type Role } from './auth/user-store.js';
