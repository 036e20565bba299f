// What `rekey encryption switch --to` may name, and the provider a target becomes in a revision.
// aescbc and secretbox keys are generated here (32 random bytes, base64) and go into the revision
// only: they are never returned on their own, logged or put in an error.
import { randomBytes } from 'node:crypto';
import { DomainError } from '../errors.ts';
import type { RawProvider } from './document.ts';

export type SwitchTarget =
  | { type: 'identity' }
  | { type: 'aescbc' }
  | { type: 'secretbox' }
  | { type: 'kms'; name: string };

/** A target or a switch rekey refuses (bad input: the caller answers 4xx / exit 2). */
export class SwitchTargetError extends DomainError {
  override readonly name = 'SwitchTargetError';
}

/** Why aesgcm is refused, as upstream documents it. */
export const AESGCM_REFUSAL =
  'aesgcm is refused: its keys must be rotated every 200,000 writes or the nonce may repeat, ' +
  'and nothing rotates them automatically; use kms (v2), or aescbc or secretbox';

const KMS_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Parses `identity`, `aescbc`, `secretbox` or `kms:<provider name>`. */
export function parseSwitchTarget(text: string): SwitchTarget {
  const t = text.trim();
  if (t === 'aesgcm') throw new SwitchTargetError(AESGCM_REFUSAL);
  if (t === 'identity' || t === 'aescbc' || t === 'secretbox') return { type: t };
  if (t.startsWith('kms:')) {
    const name = t.slice(4);
    if (!KMS_NAME.test(name) || name.includes(':')) {
      throw new SwitchTargetError(`kms:<name> needs a provider name (letters, digits, . _ -)`);
    }
    return { type: 'kms', name };
  }
  throw new SwitchTargetError(
    `--to must be identity, aescbc, secretbox or kms:<provider name>, got "${t.slice(0, 40)}"`,
  );
}

export function formatSwitchTarget(t: SwitchTarget): string {
  return t.type === 'kms' ? `kms:${t.name}` : t.type;
}

/** A new local key: 32 random bytes, base64 (AES-256 for aescbc, the secretbox key size). */
export function generateLocalKey(): string {
  return randomBytes(32).toString('base64');
}

export interface TargetProviderOptions {
  /** kms only: where the plugin listens (`unix:///...`) and the call timeout. */
  kms?: { endpoint: string; timeout?: string | undefined } | undefined;
  /** aescbc/secretbox only: the key's name, the one etcd values will carry in their prefix. */
  keyName?: string | undefined;
  /** aescbc/secretbox only: makes the key (default {@link generateLocalKey}). */
  generateKey?: (() => string) | undefined;
}

/** The provider entry a target becomes. kms targets are KMS v2. */
export function targetProvider(
  target: SwitchTarget,
  { kms, keyName, generateKey = generateLocalKey }: TargetProviderOptions = {},
): RawProvider {
  switch (target.type) {
    case 'identity':
      return { identity: {} };
    case 'kms': {
      if (!kms?.endpoint) {
        throw new SwitchTargetError(`kms:${target.name} needs the plugin's endpoint`);
      }
      return {
        kms: {
          apiVersion: 'v2',
          name: target.name,
          endpoint: kms.endpoint,
          ...(kms.timeout ? { timeout: kms.timeout } : {}),
        },
      };
    }
    default: {
      if (!keyName) throw new SwitchTargetError(`${target.type} needs a key name`);
      return { [target.type]: { keys: [{ name: keyName, secret: generateKey() }] } };
    }
  }
}
