/** Changing things (operator and up): bookmarks, restores (and following a restore job), volume images. */
import { z } from 'zod';
import { TidemarkError } from '../../common/errors.js';
import { displayPath, parseUserPath } from '../../common/rel-path.js';
import { requireGroup, resolvePoint } from '../../image/point.js';
import { requireEntry } from '../../image/tree-reader.js';
import { route, type Route } from '../router.js';
import { checkRestoreTarget } from '../restore-target.js';
import type { ConsoleDeps } from '../console-deps.js';
import { groupParams, groupPath, pointSpec } from './schemas.js';

const iso = (t: number): string => new Date(t).toISOString();

const bookmarkBody = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be a bookmark name (letters, digits, ".", "_", ":", "-")'),
  at: pointSpec.optional(),
  consistency: z.enum(['crash', 'app']).optional(),
  tags: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'must be a tag (letters, digits, ".", "_", ":", "-")')).max(20).optional(),
}).strict();

const imageBody = z.object({
  at: pointSpec,
  rw: z.boolean().optional().describe('read/write through a copy-on-write overlay (the journal is never touched)'),
}).strict();

const imageParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be an image id') }).strict();

const restoreBody = z.object({
  at: pointSpec,
  path: groupPath.optional(),
  target: z.string().min(1).max(4096).refine((s) => !s.includes('\u0000'), 'must not contain NUL').describe('absolute directory on the server'),
  overwrite: z.boolean().optional(),
  confirmProduction: z.boolean().optional(),
}).strict();

export function actionRoutes(d: ConsoleDeps): Route[] {
  const v = d.vault;
  return [
    route({
      method: 'GET', path: '/api/groups/{group}/bookmarks', summary: 'The bookmarks of a group', role: 'viewer', params: groupParams,
      handler({ params }) {
        const gid = requireGroup(v, params.group);
        v.syncBookmarks();
        return { json: { group: params.group, bookmarks: v.index.bookmarks(gid).map((b) => ({ ...b, time: iso(b.time) })) } };
      },
    }),
    route({
      method: 'POST', path: '/api/groups/{group}/bookmarks', summary: 'Name a recovery point (default: the latest)', role: 'operator',
      params: groupParams, body: bookmarkBody,
      handler({ params, body, user, ip }) {
        v.syncBookmarks();
        const p = resolvePoint(v, params.group, body.at);
        if (v.index.bookmark(p.groupId, body.name)) throw new TidemarkError('TM_USAGE', `Group "${params.group}" already has a bookmark "${body.name}"`, { hint: 'choose another name' });
        const b = { group: params.group, name: body.name, seq: p.seq, time: p.time, consistency: body.consistency ?? 'crash', tags: body.tags ?? [] };
        v.addBookmark(b);
        d.audit.append({ user: user!.name, ip, action: 'bookmark.create', target: params.group, result: 'ok', details: { name: b.name, seq: b.seq, consistency: b.consistency, tags: b.tags } });
        return { status: 201, json: { ...b, time: iso(b.time) } };
      },
    }),
    route({
      method: 'POST', path: '/api/groups/{group}/restores', summary: 'Restore the group (or a path of it) at a point into a directory on the server; returns a job to follow', role: 'operator',
      params: groupParams, body: restoreBody,
      handler({ params, body, user, ip }) {
        const p = resolvePoint(v, params.group, body.at);
        const subpath = parseUserPath(body.path ?? '');
        requireEntry(v, p, subpath);
        let target: string;
        try {
          target = checkRestoreTarget({ target: body.target, vaultDir: v.dir, sources: d.sources(), overwrite: body.overwrite === true, confirmProduction: body.confirmProduction === true, restoreRoot: d.restoreRoot });
        } catch (err) {
          d.audit.append({ user: user!.name, ip, action: 'restore.start', target: params.group, result: 'refused', details: { seq: p.seq, path: displayPath(subpath) || '/', to: body.target, reason: (err as Error).message } });
          throw err;
        }
        const job = d.jobs.start({ user: user!.name, ip, point: p, path: displayPath(subpath), subpath, target, overwrite: body.overwrite === true });
        return { status: 202, json: job };
      },
    }),
    route({
      method: 'GET', path: '/api/images', summary: 'Volume images running in this console, with the commands that attach them', role: 'viewer',
      handler() {
        return { json: { images: d.images.list() } };
      },
    }),
    route({
      method: 'POST', path: '/api/groups/{group}/images', summary: 'Serve a volume group as of a point over NBD at once (read-only, or rw through a copy-on-write overlay)', role: 'operator',
      params: groupParams, body: imageBody,
      async handler({ params, body, user, ip }) {
        const p = resolvePoint(v, params.group, body.at);
        try {
          const info = await d.images.start(p, body.rw === true, user!.name);
          d.audit.append({ user: user!.name, ip, action: 'image.start', target: params.group, result: 'ok', details: { id: info.id, seq: p.seq, rw: info.rw, uri: info.uri } });
          return { status: 201, json: info };
        } catch (err) {
          d.audit.append({ user: user!.name, ip, action: 'image.start', target: params.group, result: 'refused', details: { seq: p.seq, rw: body.rw === true, reason: (err as Error).message } });
          throw err;
        }
      },
    }),
    route({
      method: 'DELETE', path: '/api/images/{id}', summary: 'Stop a volume image (a read/write overlay is discarded)', role: 'operator', params: imageParams,
      async handler({ params, user, ip }) {
        const info = await d.images.stop(params.id);
        d.audit.append({ user: user!.name, ip, action: 'image.stop', target: info.group, result: 'ok', details: { id: info.id, seq: info.seq } });
        return { json: { stopped: info } };
      },
    }),
    route({
      method: 'GET', path: '/api/jobs/{id}', summary: 'A restore job: state, files and bytes written so far, outcome', role: 'viewer',
      params: z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be a job id') }).strict(),
      handler({ params }) {
        const job = d.jobs.get(params.id);
        if (!job) throw new TidemarkError('TM_NOT_FOUND', `There is no job "${params.id}"`, { hint: 'jobs are kept in memory: a restart forgets them' });
        return { json: job };
      },
    }),
  ];
}
