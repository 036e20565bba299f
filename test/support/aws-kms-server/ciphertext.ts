// The local KMS's ciphertext blob: it names the key and the material that sealed it (as AWS's
// opaque blob does internally), so Decrypt finds any earlier material. AES-256-GCM under the
// material's own random secret; the header and the encryption context are authenticated.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KmsFault } from './wire.ts';

const MAGIC = Buffer.from('RKK1', 'ascii');
const MATERIAL_BYTES = 32; // material ids are 64 hex chars
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SealedHeader {
  keyId: string;
  materialId: string;
}

function canonicalContext(context: Record<string, string>): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((k) => [k, context[k]]);
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

function header({ keyId, materialId }: SealedHeader): Buffer {
  const id = Buffer.from(keyId, 'utf8');
  if (id.length > 255) throw new Error(`key id too long: ${keyId}`);
  return Buffer.concat([MAGIC, Buffer.of(id.length), id, Buffer.from(materialId, 'hex')]);
}

export function seal(
  head: SealedHeader,
  secret: Buffer,
  plaintext: Buffer,
  context: Record<string, string>,
): Buffer {
  const h = header(head);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secret, iv);
  cipher.setAAD(Buffer.concat([h, canonicalContext(context)]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([h, iv, cipher.getAuthTag(), body]);
}

function invalid(): KmsFault {
  return new KmsFault('InvalidCiphertextException', '');
}

/** Reads which key and material sealed a blob; InvalidCiphertextException if it is not ours. */
export function readHeader(blob: Buffer): SealedHeader & { headerBytes: number } {
  if (blob.length < MAGIC.length + 1 || !blob.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw invalid();
  }
  const idLen = blob[MAGIC.length] ?? 0;
  const idEnd = MAGIC.length + 1 + idLen;
  const headerBytes = idEnd + MATERIAL_BYTES;
  if (blob.length < headerBytes + IV_BYTES + TAG_BYTES) throw invalid();
  return {
    keyId: blob.subarray(MAGIC.length + 1, idEnd).toString('utf8'),
    materialId: blob.subarray(idEnd, headerBytes).toString('hex'),
    headerBytes,
  };
}

export function open(blob: Buffer, secret: Buffer, context: Record<string, string>): Buffer {
  const { headerBytes } = readHeader(blob);
  const iv = blob.subarray(headerBytes, headerBytes + IV_BYTES);
  const tag = blob.subarray(headerBytes + IV_BYTES, headerBytes + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', secret, iv);
  decipher.setAAD(Buffer.concat([blob.subarray(0, headerBytes), canonicalContext(context)]));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([
      decipher.update(blob.subarray(headerBytes + IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw invalid(); // wrong encryption context or a tampered blob, as AWS reports either
  }
}
