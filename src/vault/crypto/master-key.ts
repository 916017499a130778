/**
 * The vault's master key material and the key files that wrap it.
 *
 * Master key: 96 random bytes = encryption key (32) | chunk-id key (32) | gear seed (32).
 * Each key file wraps it with AES-256-GCM under a key derived from a passphrase by scrypt,
 * so more than one passphrase can open the same vault. Layout in docs/FORMAT.md, "Key files".
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { z } from 'zod';
import { TidemarkError } from '../../common/errors.js';

export interface MasterKey {
  /** AES-256-GCM key sealing every blob and trailer. */
  encKey: Buffer;
  /** HMAC-SHA-256 key for chunk ids. */
  idKey: Buffer;
  /** Seed of the chunker's gear table. */
  gearSeed: Buffer;
}

/** scrypt cost parameters stored in each key file. */
export interface KdfParams { N: number; r: number; p: number }

export const DEFAULT_KDF: KdfParams = { N: 1 << 15, r: 8, p: 1 };

const KeyFileSchema = z.object({
  format: z.literal('tidemark-key'),
  version: z.literal(1),
  kdf: z.literal('scrypt'),
  N: z.number().int().min(1024).max(1 << 22),
  r: z.number().int().min(1).max(64),
  p: z.number().int().min(1).max(16),
  salt: z.string(),
  nonce: z.string(),
  wrapped: z.string(),
  created: z.string(),
});

export type KeyFile = z.infer<typeof KeyFileSchema>;

/** Fresh random master key material. */
export function newMasterKey(): MasterKey {
  const raw = randomBytes(96);
  return { encKey: raw.subarray(0, 32), idKey: raw.subarray(32, 64), gearSeed: raw.subarray(64, 96) };
}

function deriveWrapKey(passphrase: string, salt: Buffer, kdf: KdfParams): Buffer {
  return scryptSync(passphrase.normalize('NFC'), salt, 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + (1 << 20) });
}

/** Wrap the master key under a passphrase; returns the key file's JSON object. */
export function wrapMasterKey(key: MasterKey, passphrase: string, kdf: KdfParams = DEFAULT_KDF, now = new Date()): KeyFile {
  const salt = randomBytes(32);
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveWrapKey(passphrase, salt, kdf), nonce);
  cipher.setAAD(Buffer.from('tidemark-key-v1'));
  const body = Buffer.concat([cipher.update(Buffer.concat([key.encKey, key.idKey, key.gearSeed])), cipher.final(), cipher.getAuthTag()]);
  return {
    format: 'tidemark-key', version: 1, kdf: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p,
    salt: salt.toString('base64'), nonce: nonce.toString('base64'), wrapped: body.toString('base64'), created: now.toISOString(),
  };
}

/** Parse a key file's text; TM_FORMAT when it is not one. */
export function parseKeyFile(text: string, where: string): KeyFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TidemarkError('TM_FORMAT', `${where} is not valid JSON`, { cause: err });
  }
  const parsed = KeyFileSchema.safeParse(json);
  if (!parsed.success) throw new TidemarkError('TM_FORMAT', `${where} is not a Tidemark key file: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Unwrap with a passphrase; null when the passphrase does not open this key file. */
export function unwrapMasterKey(file: KeyFile, passphrase: string): MasterKey | null {
  const body = Buffer.from(file.wrapped, 'base64');
  if (body.length !== 96 + 16) return null;
  const decipher = createDecipheriv('aes-256-gcm', deriveWrapKey(passphrase, Buffer.from(file.salt, 'base64'), file), Buffer.from(file.nonce, 'base64'));
  decipher.setAAD(Buffer.from('tidemark-key-v1'));
  decipher.setAuthTag(body.subarray(96));
  try {
    const raw = Buffer.concat([decipher.update(body.subarray(0, 96)), decipher.final()]);
    return { encKey: raw.subarray(0, 32), idKey: raw.subarray(32, 64), gearSeed: raw.subarray(64, 96) };
  } catch {
    return null;
  }
}
