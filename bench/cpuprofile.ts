/**
 * Summaries of V8 .cpuprofile files (from `node --cpu-prof`), for `--cpu-prof`: the
 * functions with the most self time, and self time per source file.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('/dist/');
  if (i >= 0) return url.slice(i + 6);
  const n = url.lastIndexOf('/node_modules/');
  if (n >= 0) return url.slice(n + 1);
  return url.replace(/^file:\/\//, '');
}

export async function summarizeProfile(file: string, top = 15): Promise<string> {
  const p = JSON.parse(await fs.readFile(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const f = n.callFrame;
    const where = f.url ? shortUrl(f.url) : '(native)';
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${where}:${f.lineNumber + 1}` : ''}`.trim();
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    byFile.set(where, (byFile.get(where) ?? 0) + us);
  }
  const fmt = (m: Map<string, number>, k: number): string[] => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k)
    .map(([name, us]) => `  ${(us / 1e6).toFixed(2).padStart(7)} s ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`);
  return [
    `profile ${file}: ${((p.endTime - p.startTime) / 1e6).toFixed(2)} s`,
    ' top functions by self time:',
    ...fmt(byFn, top),
    ' self time by file:',
    ...fmt(byFile, 10),
  ].join('\n');
}

/** Summaries of every .cpuprofile in dir (sorted by name, i.e. by time of writing). */
export async function summarizeProfiles(dir: string): Promise<string[]> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  return Promise.all(files.map((f) => summarizeProfile(join(dir, f))));
}
