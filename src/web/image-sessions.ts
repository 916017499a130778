/**
 * Volume images started from the console: each one an NBD server on a unix socket of its
 * own, serving a volume group as of a point (read-only, or read/write through a
 * copy-on-write overlay that never touches the journal), until stopped or the console
 * closes. The console shows the exact commands to attach it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TidemarkError } from '../common/errors.js';
import type { ResolvedPoint } from '../image/point.js';
import { VolumeImage } from '../image/volume-image.js';
import { ChunkCache } from '../image/chunk-cache.js';
import { ImageExport } from '../image/image-export.js';
import { startNbdServer, type NbdServer } from '../nbd/nbd-server.js';
import { nbdUri } from '../nbd/nbd-uri.js';
import type { Vault } from '../vault/vault.js';
import { ReadHold } from '../vault/vault-holds.js';

/** What the API reports about a running image. */
export interface ImageInfo {
  id: string;
  group: string;
  seq: number;
  time: string;
  rw: boolean;
  size: number;
  uri: string;
  socket: string;
  /** shell commands that attach the image on the server */
  attach: string[];
  startedBy: string;
  started: string;
}

const MAX_IMAGES = 16;

export class ImageSessions {
  private readonly running = new Map<string, { info: ImageInfo; server: NbdServer; exp: ImageExport; hold: ReadHold }>();
  private dir: string | null = null;
  /** One chunk cache for every image of the vault (chunks are content-addressed), so memory stays bounded however many run. */
  private readonly cache = new ChunkCache();

  constructor(private readonly vault: Vault) {}

  list(): ImageInfo[] {
    return [...this.running.values()].map((r) => r.info);
  }

  get(id: string): ImageInfo | undefined {
    return this.running.get(id)?.info;
  }

  async start(point: ResolvedPoint, rw: boolean, user: string): Promise<ImageInfo> {
    if (this.running.size >= MAX_IMAGES) {
      throw new TidemarkError('TM_USAGE', `${MAX_IMAGES} images are already running`, { hint: 'stop one first' });
    }
    const image = new VolumeImage(this.vault, point, { cache: this.cache });
    // Prune keeps the point (and every pack) while the image runs.
    const hold = ReadHold.take(this.vault, `console image ${point.group} seq:${point.seq}`, point);
    let exp: ImageExport | undefined;
    let server: NbdServer;
    let socket: string;
    const id = randomBytes(6).toString('hex');
    try {
      this.dir ??= mkdtempSync(join(tmpdir(), 'tidemark-images-'));
      socket = join(this.dir, `${id}.sock`);
      exp = new ImageExport(image, { rw, tmpDir: this.dir });
      server = await startNbdServer({ listen: `unix:${socket}`, exports: [exp] });
    } catch (err) {
      exp?.close();
      hold.release();
      throw err;
    }
    const uri = nbdUri(server.address);
    const info: ImageInfo = {
      id, group: point.group, seq: point.seq, time: new Date(point.time).toISOString(), rw, size: image.size, uri, socket,
      attach: [
        `qemu-img info '${uri}'`,
        `mkdir -p /mnt/tidemark-${id} && nbdfuse /mnt/tidemark-${id} '${uri}' &`,
        `losetup -f --show${rw ? '' : ' -r'} /mnt/tidemark-${id}/nbd`,
        rw ? 'mount /dev/loopN /mnt/point' : 'mount -o ro,noload /dev/loopN /mnt/point',
      ],
      startedBy: user, started: new Date().toISOString(),
    };
    this.running.set(id, { info, server, exp, hold });
    return info;
  }

  async stop(id: string): Promise<ImageInfo> {
    const r = this.running.get(id);
    if (!r) throw new TidemarkError('TM_NOT_FOUND', `There is no running image "${id}"`);
    this.running.delete(id);
    await r.server.close();
    r.exp.close();
    r.hold.release();
    return r.info;
  }

  async closeAll(): Promise<void> {
    for (const id of [...this.running.keys()]) await this.stop(id);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
    this.cache.clear();
  }
}
