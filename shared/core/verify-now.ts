// `verify` as a use case: scan etcd now for the newest revision's key_id over the scope the step
// would use (docs/architecture.md, "The proof"). Changes nothing.
import { newestRevision, type Revision } from '../domain/revision.ts';
import type { VerifierScan } from '../ports/verifier.ts';
import type { ProviderConfig, ReconcileConfig, ReconcileDeps } from './deps.ts';
import { requireProvider } from './followed-provider.ts';
import { resolveScope, type Scope } from './resolve-scope.ts';

export type VerifyNow = { provider: string } & (
  | { kind: 'no-verifier'; scope: Scope }
  | { kind: 'no-revision'; scope: Scope }
  | { kind: 'scanned'; scope: Scope; revision: Revision; scan: VerifierScan }
);

/** The scope the next step would use: the override, else the reported EncryptionConfiguration. */
export async function currentScope(deps: ReconcileDeps, config: ProviderConfig): Promise<Scope> {
  const seen = await deps.observer.observe(config.provider);
  return resolveScope(deps.served ? { served: deps.served } : {}, {
    provider: config.provider,
    ...(config.resources ? { override: config.resources } : {}),
    ...(seen.encryptionConfigs ? { encryptionConfigs: seen.encryptionConfigs } : {}),
  });
}

/** Throws NoProviderError when REKEY_PROVIDER is unset and no provider can be followed now. */
export async function verifyNow(
  deps: ReconcileDeps,
  settings: ReconcileConfig,
): Promise<VerifyNow> {
  const config = { ...settings, provider: await requireProvider(deps, settings) };
  const { provider } = config;
  const scope = await currentScope(deps, config);
  if (!deps.verifier) return { provider, kind: 'no-verifier', scope };
  const revision = newestRevision((await deps.store.list(config.provider)).map((s) => s.revision));
  if (!revision) return { provider, kind: 'no-revision', scope };
  const scan = await deps.verifier.scan({
    scope: scope.resources,
    provider: config.provider,
    currentKeyId: revision.keyId,
    currentKeyIdHash: revision.keyIdHash,
  });
  return { provider, kind: 'scanned', scope, revision, scan };
}
