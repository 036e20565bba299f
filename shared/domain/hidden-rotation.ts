// Providers that hide rotation (docs/architecture.md R9, docs/kms-facts.md §8). When the KMS
// reports new key material but the plugin's key_id is unchanged (aws-encryption-provider reports
// the key ARN), the apiservers keep their DEK seed (upstream rotates it only on a key_id change),
// nothing stored becomes stale and a no-op rewrite re-encrypts nothing. rekey records this, says
// so, starts no useless migration, and names the two ways forward.

import { keyIdHash } from './key-id.ts';
import type { KmsRotation } from './kms-rotation.ts';

export type { KmsRotation } from './kms-rotation.ts';

/** A documented way forward when a rotation is hidden. */
export interface WayForward {
  kind: 'forced-rewrite' | 'new-provider';
  how: string;
  sideEffects: readonly string[];
}

/**
 * `key-id-changed`: the plugin reports a new key_id, the normal path migrates.
 * `hidden`: the key_id names the key itself and will not change.
 * `not-yet-adopted`: the key_id is unchanged for now; versioned key_ids (GCP, Vault) change once
 * the plugin uses the new version, so a fresh observation will tell.
 */
export type KmsRotationAssessment =
  | { stale: true; kind: 'key-id-changed'; explanation: string }
  | { stale: false; kind: 'hidden'; explanation: string; waysForward: readonly WayForward[] }
  | { stale: false; kind: 'not-yet-adopted'; explanation: string };

/** The documented ways forward from a hidden rotation (also for the README and the CLI). */
export const HIDDEN_ROTATION_WAYS_FORWARD: readonly WayForward[] = [
  {
    kind: 'forced-rewrite',
    how:
      'restart the kube-apiservers one at a time, so each wraps a fresh DEK seed with the new ' +
      'material, then run a forced rewrite (a real change to every object in scope)',
    sideEffects: [
      'every object in scope gets a new resourceVersion',
      'every watcher (controllers, operators, caches) sees a MODIFIED event per object',
      'the write load of updating every object once',
      'etcd cannot prove the result: the stored key_id stays the same',
    ],
  },
  {
    kind: 'new-provider',
    how:
      'create a new KMS key, run a second plugin instance for it and put a new kms provider first ' +
      'in the EncryptionConfiguration: the key_id changes, rekey migrates and etcd proves it',
    sideEffects: [
      'objects re-encrypted by the migration get a new resourceVersion, as in any rotation',
      'keep the old provider (second) until the migration is verified',
    ],
  },
];

/** Inputs of {@link assessKmsRotation}. */
export interface KmsRotationInput {
  provider: string;
  /** The key_id the apiservers (or the plugin's Status) report now. */
  pluginKeyId: string;
  /** The key_id of the provider's newest revision, if any. */
  recordedKeyId?: string;
  /**
   * When the newest revision recorded a key_id change (the revision before it had another
   * key_id): when it was observed. Events arrive in any order, so the key_id change a rotation
   * caused may be recorded before the rotation's own event arrives.
   */
  recordedChangeAt?: string;
  /** What the assessment reads of the rotation: the key's names, its new material and when. */
  kmsRotation: Pick<KmsRotation, 'key' | 'aliases' | 'newMaterialId' | 'at'>;
}

/** Decides whether a KMS rotation made anything stale. */
export function assessKmsRotation({
  provider,
  pluginKeyId,
  recordedKeyId,
  recordedChangeAt,
  kmsRotation,
}: KmsRotationInput): KmsRotationAssessment {
  const { key, aliases = [], newMaterialId, at } = kmsRotation;
  const reported = `key_id ${keyIdHash(pluginKeyId)}`;
  if (
    recordedKeyId === pluginKeyId &&
    recordedChangeAt !== undefined &&
    Date.parse(recordedChangeAt) >= Date.parse(at)
  ) {
    return {
      stale: true,
      kind: 'key-id-changed',
      explanation: `provider "${provider}" reports ${reported}, recorded at ${recordedChangeAt}, after this rotation: objects under the previous key_id are stale and are being migrated`,
    };
  }
  if (
    (recordedKeyId !== undefined && recordedKeyId !== pluginKeyId) ||
    (newMaterialId !== undefined && newMaterialId !== '' && pluginKeyId.includes(newMaterialId))
  ) {
    return {
      stale: true,
      kind: 'key-id-changed',
      explanation: `provider "${provider}" now reports ${reported}: objects under the previous key_id are stale and will be migrated`,
    };
  }
  const rotated = `the KMS rotated ${key} at ${at}${newMaterialId ? ` (material ${newMaterialId})` : ''}`;
  if ([key, ...aliases].some((name) => namesSameKey(pluginKeyId, name))) {
    return {
      stale: false,
      kind: 'hidden',
      explanation:
        `${rotated}, but provider "${provider}" still reports ${reported}, which names the key, not ` +
        'its material: the apiservers keep their DEK seed while the key_id is unchanged, so no ' +
        'object became stale and a rewrite would change nothing. Data stays readable (the KMS ' +
        'keeps old material for decryption). Ways forward: a forced rewrite after an apiserver ' +
        'restart, or a new key behind a new provider.',
      waysForward: HIDDEN_ROTATION_WAYS_FORWARD,
    };
  }
  return {
    stale: false,
    kind: 'not-yet-adopted',
    explanation:
      `${rotated}; provider "${provider}" still reports ${reported}. A plugin whose key_id names ` +
      'the key version changes it once it uses the new version (apiservers poll Status every 60 s); ' +
      'the next observation will tell',
  };
}

/** Whether a plugin key_id and a KMS key name denote the same key (ARN, bare key id, alias). */
function namesSameKey(keyId: string, name: string): boolean {
  if (keyId === '' || name === '') return false;
  if (keyId === name) return true;
  if (keyId.startsWith('arn:') && name.startsWith('arn:')) return false;
  return shortName(keyId) === shortName(name);
}

/** `arn:aws:kms:r:a:key/abc` and `abc` -> `key/abc`; `arn:...:alias/x` and `alias/x` -> `alias/x`. */
function shortName(name: string): string {
  const arn = /^arn:[^:]+:kms:[^:]*:[^:]*:((?:key|alias)\/.+)$/.exec(name);
  if (arn?.[1] !== undefined) return arn[1];
  if (name.startsWith('alias/')) return name;
  return /^[A-Za-z0-9-]+$/.test(name) ? `key/${name}` : name;
}
