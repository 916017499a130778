/**
 * Sealing and opening of blobs: keyed chunk ids, zstd compression and AES-256-GCM.
 *
 * A sealed blob is nonce (12) | ciphertext | tag (16); the associated data is the blob's
 * 32-byte id, so a blob cannot be passed off as another. The plaintext is zstd when that
 * shrinks it, raw otherwise (flag kept in the pack's blob table).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { Compressor, Decompressor } from 'zstd-napi';
import { TidemarkError } from '../../common/errors.js';
import type { MasterKey } from './master-key.js';

/** Blob flag bit: the plaintext is a zstd frame. */
export const FLAG_ZSTD = 1;

export interface SealedBlob {
  sealed: Buffer;
  flags: number;
  rawLength: number;
}

export class Sealer {
  private readonly compressor = new Compressor();
  /** Our own (zstd-napi's shared one resets its parameters on every call). */
  private readonly decompressor = new Decompressor();

  constructor(private readonly key: MasterKey, compressionLevel = 3) {
    this.compressor.setParameters({ compressionLevel });
  }

  /**
   * A 256-bit key of its own for one use (`info`) and one `salt`, derived from the
   * encryption key with HKDF-SHA-256: files that number their nonces (write logs) get a
   * fresh key each, so a counter nonce never repeats under a key.
   */
  subkey(info: string, salt: Uint8Array): Buffer {
    return Buffer.from(hkdfSync('sha256', this.key.encKey, salt, info, 32));
  }

  /** The keyed id of some content: HMAC-SHA-256(idKey, data). */
  id(data: Uint8Array): Buffer {
    return createHmac('sha256', this.key.idKey).update(data).digest();
  }

  /** Compress (when it helps) and encrypt `data` stored under `id`. */
  seal(id: Buffer, data: Uint8Array, compress = true): SealedBlob {
    let plain: Uint8Array = data;
    let flags = 0;
    if (compress && data.length >= 64) {
      const packed = this.compressor.compress(data);
      if (packed.length < data.length - data.length / 64) {
        plain = packed;
        flags |= FLAG_ZSTD;
      }
    }
    return { sealed: this.encrypt(id, plain), flags, rawLength: data.length };
  }

  /** AES-256-GCM with a random nonce and `aad` as associated data. */
  encrypt(aad: Uint8Array, plain: Uint8Array): Buffer {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key.encKey, nonce);
    cipher.setAAD(aad);
    const body = cipher.update(plain);
    const fin = cipher.final();
    return Buffer.concat([nonce, body, fin, cipher.getAuthTag()]);
  }

  /** Decrypt; TM_CORRUPT (with `what`) when the tag does not verify. */
  decrypt(aad: Uint8Array, sealed: Uint8Array, what: string): Buffer {
    if (sealed.length < 28) throw new TidemarkError('TM_CORRUPT', `${what}: sealed data is too short (${sealed.length} bytes)`);
    const decipher = createDecipheriv('aes-256-gcm', this.key.encKey, sealed.subarray(0, 12));
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    try {
      const body = decipher.update(sealed.subarray(12, sealed.length - 16));
      const rest = decipher.final();
      // GCM is a stream mode: final() checks the tag and returns no bytes, so no copy is needed.
      return rest.length === 0 ? body : Buffer.concat([body, rest]);
    } catch (err) {
      throw new TidemarkError('TM_CORRUPT', `${what}: authentication failed (the data was altered or damaged)`, { cause: err });
    }
  }

  /**
   * Open a sealed blob. The GCM tag already binds the ciphertext to `id` (its associated
   * data), so a blob that opens is the one sealed under that id by a holder of the key;
   * `checkId` (verify, prune, chunks received from another site) also recomputes the keyed
   * id of the content, which catches a writer that sealed the wrong bytes under an id.
   */
  open(id: Buffer, sealed: Uint8Array, flags: number, rawLength: number, what: string, checkId = true): Buffer {
    let plain = this.decrypt(id, sealed, what);
    if (flags & FLAG_ZSTD) {
      try {
        plain = this.decompressor.decompress(plain);
      } catch (err) {
        throw new TidemarkError('TM_CORRUPT', `${what}: cannot decompress`, { cause: err });
      }
    }
    if (plain.length !== rawLength) throw new TidemarkError('TM_CORRUPT', `${what}: length ${plain.length} differs from the recorded ${rawLength}`);
    if (checkId && !this.id(plain).equals(id)) throw new TidemarkError('TM_CORRUPT', `${what}: content does not match its id`);
    return plain;
  }
}
