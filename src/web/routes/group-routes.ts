/** Reading groups: the overview, RPO history, timeline, a point, a tree, a file, the changes between two points. */
import { VolumeIndex } from '../../vault/index/volume-index.js';
import { once } from 'node:events';
import { z } from 'zod';
import { TidemarkError } from '../../common/errors.js';
import { displayPath, parseUserPath } from '../../common/rel-path.js';
import { requireGroup, resolvePoint } from '../../image/point.js';
import { childrenAtPoint, describeEntries, fileChunks, requireEntry, tornAtPoint } from '../../image/tree-reader.js';
import { EntryKind, kindName } from '../../vault/journal/journal-record.js';
import { SECURITY_HEADERS } from '../http-kit.js';
import { route, type Route } from '../router.js';
import { changesBetween } from '../queries/changes-query.js';
import { overviewOf } from '../queries/overview-query.js';
import { timelineOf } from '../queries/timeline-query.js';
import type { ConsoleDeps } from '../console-deps.js';
import { groupParams, groupPath, instant, intParam, pointSpec } from './schemas.js';

const iso = (t: number): string => new Date(t).toISOString();
const pointJson = (p: { seq: number; time: number }): { seq: number; time: string } => ({ seq: p.seq, time: iso(p.time) });

export function groupRoutes(d: ConsoleDeps): Route[] {
  const v = d.vault;
  return [
    route({
      method: 'GET', path: '/api/overview', summary: 'Every group: health, last recovery point, RPO lag against its target, protected size', role: 'viewer',
      handler() {
        const groups = overviewOf(v, (g) => d.settings.rpoTargetMs(g)).map((g) => ({ ...g, lastPoint: g.lastPoint ? pointJson(g.lastPoint) : null }));
        return { json: { vault: v.dir, now: iso(Date.now()), groups } };
      },
    }),
    route({
      method: 'GET', path: '/api/groups/{group}/rpo-history', summary: 'RPO lag samples of the last 24 h (lag null: nothing watched the group)', role: 'viewer',
      params: groupParams,
      handler({ params }) {
        requireGroup(v, params.group);
        return { json: d.history.json(params.group, d.settings.rpoTargetMs(params.group)) };
      },
    }),
    route({
      method: 'GET', path: '/api/groups/{group}/timeline', summary: 'Point density in equal time buckets over [from, to), with bookmarks (aggregated by the server)', role: 'viewer',
      params: groupParams,
      query: z.object({ from: instant.optional(), to: instant.optional(), buckets: intParam(1, 2000).optional() }).strict(),
      handler({ params, query }) {
        const gid = requireGroup(v, params.group);
        if (query.from !== undefined && query.to !== undefined && query.to <= query.from) throw new TidemarkError('TM_USAGE', '"to" must be after "from"');
        const t = timelineOf(v, gid, { from: query.from, to: query.to, buckets: query.buckets ?? 200 });
        return {
          json: {
            group: params.group, from: iso(t.from), to: iso(t.to), bucketMs: t.bucketMs, points: t.points,
            first: t.first ? pointJson(t.first) : null, last: t.last ? pointJson(t.last) : null,
            buckets: t.buckets.map((b) => ({ start: iso(b.start), count: b.count, firstSeq: b.firstSeq, lastSeq: b.lastSeq, lastTime: iso(b.lastTime), torn: b.torn })),
            bookmarks: t.bookmarks.map((b) => ({ ...b, time: iso(b.time) })),
          },
        };
      },
    }),
    route({
      method: 'GET', path: '/api/groups/{group}/point', summary: 'Resolve a recovery point spec to (seq, time), with the kind of group (files or volume)', role: 'viewer',
      params: groupParams, query: z.object({ at: pointSpec }).strict(),
      handler({ params, query }) {
        const p = resolvePoint(v, params.group, query.at);
        return { json: { group: params.group, ...pointJson(p), kind: new VolumeIndex(v.index).isVolume(p.groupId) ? 'volume' : 'files' } };
      },
    }),
    route({
      method: 'GET', path: '/api/groups/{group}/tree', summary: 'A directory (or one entry) as it was at a point', role: 'viewer',
      params: groupParams, query: z.object({ at: pointSpec.optional(), path: groupPath.optional() }).strict(),
      handler({ params, query }) {
        const p = resolvePoint(v, params.group, query.at);
        const rel = parseUserPath(query.path ?? '');
        const self = requireEntry(v, p, rel);
        const rows = self.entry.kind === EntryKind.dir ? [...childrenAtPoint(v, p, rel)] : [self];
        // Files being written at the point read as their last clean version, as in `tidemark ls`.
        const torn = tornAtPoint(v, p, rel);
        return { json: { group: params.group, point: pointJson(p), path: displayPath(rel), type: kindName(self.entry.kind), entries: describeEntries(rows, torn), torn } };
      },
    }),
    route({
      method: 'GET', path: '/api/groups/{group}/file', summary: 'Download one file as it was at a point', role: 'viewer', produces: 'application/octet-stream',
      params: groupParams, query: z.object({ at: pointSpec.optional(), path: groupPath }).strict(),
      async handler({ params, query, res, user, ip }) {
        const p = resolvePoint(v, params.group, query.at);
        const rel = parseUserPath(query.path);
        const row = requireEntry(v, p, rel);
        if (row.entry.kind !== EntryKind.file) throw new TidemarkError('TM_USAGE', `"${query.path}" is a ${kindName(row.entry.kind)}, not a file`);
        d.audit.append({ user: user!.name, ip, action: 'file.download', target: params.group, result: 'ok', details: { path: displayPath(rel), seq: p.seq, bytes: row.entry.size } });
        const name = displayPath(row.name);
        // Being written at the point: this is its last clean version (the header says which).
        const torn = tornAtPoint(v, p, rel).find((t) => t.path === displayPath(rel));
        res.writeHead(200, {
          ...SECURITY_HEADERS, 'Content-Type': 'application/octet-stream', 'Content-Length': String(row.entry.size), 'Cache-Control': 'no-store',
          ...(torn ? { 'X-Tidemark-Torn': `torn-seq=${torn.tornSeq}; clean-seq=${torn.cleanSeq ?? 'none'}` } : {}),
          'Content-Disposition': `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
        });
        try {
          for (const chunk of fileChunks(v, row.entry)) {
            if (!res.write(chunk)) await once(res, 'drain');
          }
          res.end();
        } catch (err) {
          // Headers are gone: cut the connection so the client sees a short download, never a silently wrong file.
          res.destroy(err instanceof Error ? err : undefined);
        }
      },
    }),
    route({
      method: 'GET', path: '/api/groups/{group}/changes', summary: 'What changed between two points: files added, changed, deleted, with sizes', role: 'viewer',
      params: groupParams, query: z.object({ from: pointSpec, to: pointSpec.optional(), limit: intParam(1, 10000).optional() }).strict(),
      handler({ params, query }) {
        let a = resolvePoint(v, params.group, query.from);
        let b = resolvePoint(v, params.group, query.to);
        if (a.seq > b.seq) [a, b] = [b, a];
        const r = changesBetween(v, a.groupId, a.seq, b.seq, query.limit ?? 1000);
        return { json: { group: params.group, from: pointJson(a), to: pointJson(b), ...r } };
      },
    }),
  ];
}
