// How kube-apiserver names a KMS key_id in its metrics: never the key_id itself, its hash.
import { createHash } from 'node:crypto';

/** `sha256:` + hex(sha256(utf8(keyId))), as in `apiserver_envelope_encryption_key_id_hash_*`. */
export function keyIdHash(keyId: string): string {
  return `sha256:${createHash('sha256').update(keyId, 'utf8').digest('hex')}`;
}
