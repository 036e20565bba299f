// The one test of "this stored value is under the provider's current key", shared by the proof
// (shared/domain/proof.ts) and the migration plan, so the two can never count differently.
// Pure: it sees a value's classification, never its bytes.
import type { EncryptionInfo } from './encrypted-value.ts';

/**
 * Whether a value is wrapped, as KMS v2, by `keyId` of `provider` (a key_id, or a test of one where
 * only the key_id's hash is known: shared/domain/key-id.ts keyMatcher). A malformed value never
 * is: the apiserver could not read it either. KMS v1 never is: only a v2 rewrite moves it.
 */
export function underCurrentKey(
  value: Pick<EncryptionInfo, 'kind' | 'provider' | 'keyID' | 'error'>,
  provider: string,
  keyId: string | ((keyID: string) => boolean),
): boolean {
  return (
    value.kind === 'kms-v2' &&
    value.provider === provider &&
    (typeof keyId === 'string' ? value.keyID === keyId : keyId(value.keyID ?? '')) &&
    value.error === undefined
  );
}
