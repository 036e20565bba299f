// The one place a step or command learns which kms provider it works for: the pinned one
// (REKEY_PROVIDER), else the write provider every node's reported EncryptionConfiguration names,
// read now (shared/domain/followed-provider.ts decides). Every use case that needs a provider
// starts here, so after a KMS -> KMS switch they all follow the new provider together.
import { decideFollowedProvider, type FollowedProvider } from '../domain/followed-provider.ts';
import type { ProviderConfig, ReconcileConfig, ReconcileDeps } from './deps.ts';

/** What names the provider in messages and probes when REKEY_PROVIDER pins none. */
export const FOLLOWED = '(the write provider)';

export type Unfollowed = Exclude<FollowedProvider, { kind: 'follow' }>;

/** Which provider to follow now. */
export async function followedProvider(
  deps: Pick<ReconcileDeps, 'configs'>,
  config: Pick<ReconcileConfig, 'provider'>,
): Promise<FollowedProvider> {
  if (config.provider) return decideFollowedProvider({ pinned: config.provider, readings: [] });
  const readings = deps.configs ? await deps.configs.read() : [];
  return decideFollowedProvider({ readings });
}

/** The config with its provider resolved, or why there is none to follow now. */
export async function withFollowedProvider<C extends ReconcileConfig>(
  deps: Pick<ReconcileDeps, 'configs'>,
  config: C,
): Promise<{ config: C & ProviderConfig } | { unfollowed: Unfollowed }> {
  const followed = await followedProvider(deps, config);
  if (followed.kind !== 'follow') return { unfollowed: followed };
  return { config: { ...config, provider: followed.provider } };
}

/** An error saying why no provider can be followed now (for callers that only throw). */
export class NoProviderError extends Error {
  override readonly name = 'NoProviderError';
  /** A `wait` settles by itself (R11: a caller may answer 503 and come back). */
  readonly retryable: boolean;
  readonly unfollowed: Unfollowed;

  constructor(unfollowed: Unfollowed) {
    super(unfollowed.reason);
    this.unfollowed = unfollowed;
    this.retryable = unfollowed.kind === 'wait';
  }
}

/** The provider to follow now; throws NoProviderError when there is none. */
export async function requireProvider(
  deps: Pick<ReconcileDeps, 'configs'>,
  config: Pick<ReconcileConfig, 'provider'>,
): Promise<string> {
  const followed = await followedProvider(deps, config);
  if (followed.kind !== 'follow') throw new NoProviderError(followed);
  return followed.provider;
}
