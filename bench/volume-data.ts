/**
 * Deterministic data for the volume bench: the source file copied onto the volumes (half
 * incompressible, half text-like) and the random offsets read back.
 */
import { createCipheriv } from 'node:crypto';
import { promises as fs } from 'node:fs';

const MiB = 1024 * 1024;

/** xorshift32: a tiny seeded generator, so every run and machine gets the same bytes and offsets. */
export function seededRandom(seed: number): () => number {
  let x = (seed >>> 0) || 0x9e3779b9;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

const WORDS = ('the of and to in is was for on that with as by at from it this be are or an have not which ' +
  'volume journal write read block sector flush commit vault image point seq offset length backing export ' +
  'server client request reply error timeout retry status group baseline snapshot restore replica checksum ' +
  'INFO WARN DEBUG 2026-11-23 id=4711 user=postgres host=db01 latency_ms=12 bytes=4096 ok=true').split(' ');

/** One MiB of log/prose-like text (compresses several-fold, like ordinary files and logs). */
function textChunk(rand: () => number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < MiB) {
    const words = 6 + Math.floor(rand() * 14);
    let line = `${Math.floor(rand() * 1e6)}`;
    for (let i = 0; i < words; i++) line += ` ${WORDS[Math.floor(rand() * WORDS.length)]}`;
    line += '\n';
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1').subarray(0, MiB);
}

/**
 * Write `mib` MiB to `file`: even-numbered MiB are AES-CTR keystream (random-looking,
 * incompressible), odd-numbered ones text-like; both depend only on `seed`. Interleaved
 * rather than two halves so every region of the volume sees both kinds of data.
 */
export async function writeSourceFile(file: string, mib: number, seed: number): Promise<void> {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(seed >>> 0, 0);
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  const rand = seededRandom(seed);
  const fh = await fs.open(file, 'w');
  try {
    for (let i = 0; i < mib; i++) await fh.write(i % 2 === 0 ? cipher.update(zeros) : textChunk(rand));
  } finally {
    await fh.close();
  }
}

/** `count` distinct 4 KiB-aligned offsets below `bytes`, in random order. */
export function randomOffsets(bytes: number, count: number, seed: number): number[] {
  const blocks = Math.floor(bytes / 4096);
  const rand = seededRandom(seed);
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, blocks)) chosen.add(Math.floor(rand() * blocks));
  return [...chosen].map((b) => b * 4096);
}
