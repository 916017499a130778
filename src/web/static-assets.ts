/**
 * The web console's files, all served by the console itself (no CDN: it works offline):
 * the HTML shell, the style sheet, and the browser modules compiled by `npm run build`
 * from src/web/ui/ into dist/src/web/ui/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TidemarkError } from '../common/errors.js';
import { UI_STYLES } from './ui-styles.js';

export interface Asset { type: string; body: Buffer }

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tidemark console</title>
<link rel="stylesheet" href="/ui/styles.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<header class="top"><a class="brand" href="#/">Tidemark</a><nav id="nav" aria-label="Main"></nav></header>
<main id="main" tabindex="-1"><p class="muted">Loading…</p></main>
<noscript>The Tidemark console needs JavaScript.</noscript>
</body>
</html>
`;

/** Every asset by URL path, read once at start. */
export function loadAssets(): Map<string, Asset> {
  const out = new Map<string, Asset>();
  out.set('/', { type: 'text/html; charset=utf-8', body: Buffer.from(SHELL) });
  out.set('/ui/styles.css', { type: 'text/css; charset=utf-8', body: Buffer.from(UI_STYLES) });
  const dir = fileURLToPath(new URL('./ui/', import.meta.url));
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^[a-z0-9-]+\.js$/.test(n));
  } catch (err) {
    throw new TidemarkError('TM_INTERNAL', `The console's browser code is missing from ${dir}`, { cause: err, hint: 'run `npm run build`' });
  }
  if (!names.includes('app.js')) throw new TidemarkError('TM_INTERNAL', `The console's browser code is missing from ${dir}`, { hint: 'run `npm run build`' });
  for (const n of names) out.set(`/ui/${n}`, { type: 'text/javascript; charset=utf-8', body: readFileSync(dir + n) });
  return out;
}
