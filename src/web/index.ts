/**
 * src/web: the web console and its REST API, served by `tidemark console`, by the embedded
 * `tidemark protect` (a vault's console), and by `tidemark hub` (the hub's console).
 * Exports `startConsole` / `startHubConsole` (listen and serve) and `createConsoleApp` /
 * `createHubConsoleApp` (the request handlers alone); `web-app.ts` is what every console
 * shares (auth, CSRF, validation, static files), `web-listener.ts` the socket. Imports
 * common, vault, image, embedded/run-status, tap/shipper status and hub (status types and
 * the analyzer); nothing imports it but cli.
 *
 * auth/     users (scrypt), sessions + CSRF tokens, login rate limit
 * queries/  SQL the API needs beyond the index's own: timeline buckets, changes, overview
 * routes/   the API's route table, one file per area
 * ui/       the browser code (compiled by its own tsconfig), served from dist
 */
export { startConsole, parseListen, DEFAULT_LISTEN, type ConsoleOptions, type RunningConsole } from './console-server.js';
export { createConsoleApp, type ConsoleApp, type ConsoleAppOptions } from './console-app.js';
export { UserStore, ROLES, type Role } from './auth/user-store.js';
export { startHubConsole, createHubConsoleApp, HUB_CONSOLE_LISTEN, type RunningHubConsole, type HubConsoleApp } from './hub-console.js';
