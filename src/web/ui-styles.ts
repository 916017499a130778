/** The console's style sheet (served as /ui/styles.css): readable at 1280 px and at phone width. */
export const UI_STYLES = `
:root { --fg: #1d2430; --muted: #5b6575; --bg: #f4f6f9; --card: #fff; --line: #d8dde6; --accent: #1f5fbf;
  --green: #1b7f3b; --amber: #a86400; --red: #b3261e; font-family: system-ui, sans-serif; color: var(--fg); background: var(--bg); }
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; padding: .6rem 1rem; background: #10233f; color: #fff; }
header.top a { color: #fff; }
.brand { font-weight: 700; font-size: 1.15rem; text-decoration: none; }
#nav { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; flex: 1; }
#nav .who { margin-left: auto; opacity: .85; }
main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
main:focus, main:focus-visible { outline: none; }
h1 { font-size: 1.5rem; margin: .2rem 0 .8rem; }
h2 { font-size: 1.15rem; margin: 0 0 .5rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }
.login { max-width: 360px; margin: 3rem auto; display: grid; gap: .4rem; }
input, select, button { font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: 5px; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.link { background: none; color: var(--accent); border: none; text-decoration: underline; padding: 0 .3rem; }
header.top button.link { color: #fff; }
form.inline { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .4rem 0; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .3rem 0; }
.spacer { flex: 1; }
.muted { color: var(--muted); }
.small { font-size: .85rem; }
.error { color: var(--red); }
.ok { color: var(--green); }
.warn { background: #fff4e0; border: 1px solid var(--amber); padding: .4rem; border-radius: 5px; margin: .4rem 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { text-align: right; white-space: nowrap; }
td.actions { white-space: nowrap; }
.badge { display: inline-block; padding: .1rem .5rem; border-radius: 999px; color: #fff; font-size: .85rem; }
.badge.green { background: var(--green); } .badge.amber { background: var(--amber); } .badge.red { background: var(--red); }
svg.lag-chart { width: 220px; height: 48px; background: #f8fafc; border: 1px solid var(--line); }
svg.lag-chart .lag { fill: none; stroke: var(--accent); stroke-width: 1.5; }
svg.lag-chart .target { stroke: var(--amber); stroke-dasharray: 4 3; }
svg.rate-chart { width: 100%; max-width: 720px; height: auto; background: #f8fafc; border: 1px solid var(--line); display: block; margin-bottom: .5rem; }
svg.rate-chart .bar { fill: var(--accent); }
svg.rate-chart .target { stroke: var(--amber); stroke-width: 1.5; stroke-dasharray: 6 4; }
svg.rate-chart .axis { stroke: var(--line); }
svg.rate-chart .label { font-size: 10px; fill: var(--muted); }
section.profile { margin-top: 1rem; }
table.hub tr.target-row td:first-child { padding-left: 1.5rem; }
svg.timeline { width: 100%; height: 140px; display: block; margin: .5rem 0; }
svg.timeline .bg { fill: #f8fafc; cursor: crosshair; }
svg.timeline .bar { fill: var(--accent); cursor: pointer; }
svg.timeline .bar:hover, svg.timeline .bar.focused { fill: #f0a500; }
svg.timeline .bookmark { fill: var(--amber); cursor: pointer; } svg.timeline .bookmark.app { fill: var(--green); }
svg.timeline .selected { stroke: var(--red); stroke-width: 2; }
svg.timeline .tick { font-size: 11px; fill: var(--muted); }
svg.timeline .drag { fill: rgba(240, 165, 0, .3); pointer-events: none; }
.crumbs { margin: .3rem 0; }
form.restore { display: grid; gap: .4rem; max-width: 640px; border-top: 1px solid var(--line); padding-top: .6rem; margin-top: .6rem; }
progress { width: 100%; }
ul.bookmarks { padding-left: 1.2rem; }
@media (max-width: 700px) {
  main { padding: .5rem; }
  th, td { padding: .3rem; font-size: .9rem; }
  svg.lag-chart { width: 140px; }
  #nav .who { margin-left: 0; }
  table.groups thead { display: none; }
  table.groups, table.groups tbody, table.groups tr, table.groups th, table.groups td { display: block; width: 100%; text-align: left; }
  table.groups tr { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin-bottom: .6rem; padding: .3rem; }
  table.groups th, table.groups td { border: none; }
  table.groups td[data-label]::before { content: attr(data-label) ': '; font-weight: 600; }
  table.groups td.num { white-space: normal; }
}
`;
