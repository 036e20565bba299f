// The local server's ciphertext: AES-256-GCM under the version's own material, with the version id
// in a clear header so Decrypt can find it (as Cloud KMS does inside its opaque ciphertext). The
// CryptoKey name is bound as associated data, so a ciphertext of another key never opens here.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const MAGIC = 0x4b; // 'K'
const HEADER = 1 + 4; // magic, version id (u32 BE)
const IV = 12;
const TAG = 16;

function aadFor(key: string, versionId: number, aad: Uint8Array): Buffer {
  const head = Buffer.from(`${key}#${versionId}\0`, 'utf8');
  return Buffer.concat([head, aad]);
}

export function newMaterial(): Buffer {
  return randomBytes(32);
}

export function seal(
  material: Buffer,
  key: string,
  versionId: number,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt8(MAGIC, 0);
  header.writeUInt32BE(versionId, 1);
  const iv = randomBytes(IV);
  const cipher = createCipheriv('aes-256-gcm', material, iv);
  cipher.setAAD(aadFor(key, versionId, aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), body]);
}

/** The version id a ciphertext names, or undefined when it is not one of ours. */
export function versionIdOf(ciphertext: Uint8Array): number | undefined {
  const buf = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
  if (buf.length < HEADER + IV + TAG || buf.readUInt8(0) !== MAGIC) return undefined;
  return buf.readUInt32BE(1);
}

/** The plaintext, or undefined when the ciphertext does not authenticate under this key. */
export function open(
  material: Buffer,
  key: string,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Buffer | undefined {
  const versionId = versionIdOf(ciphertext);
  if (versionId === undefined) return undefined;
  const buf = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
  const iv = buf.subarray(HEADER, HEADER + IV);
  const tag = buf.subarray(HEADER + IV, HEADER + IV + TAG);
  const decipher = createDecipheriv('aes-256-gcm', material, iv);
  decipher.setAAD(aadFor(key, versionId, aad));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(buf.subarray(HEADER + IV + TAG)), decipher.final()]);
  } catch {
    return undefined;
  }
}
