// `verify` as a use case: scan etcd now for the newest revision's key_id over the scope the step
// would use (docs/architecture.md, "The proof"). Changes nothing.
import { newestRevision, type Revision } from '../domain/revision.ts';
import type { VerifierScan } from '../ports/verifier.ts';
import type { ReconcileConfig, ReconcileDeps } from './deps.ts';
import { resolveScope, type Scope } from './resolve-scope.ts';

export type VerifyNow =
  | { kind: 'no-verifier'; scope: Scope }
  | { kind: 'no-revision'; scope: Scope }
  | { kind: 'scanned'; scope: Scope; revision: Revision; scan: VerifierScan };

/** The scope the next step would use: the override, else the reported EncryptionConfiguration. */
export async function currentScope(deps: ReconcileDeps, config: ReconcileConfig): Promise<Scope> {
  const seen = await deps.observer.observe(config.provider);
  return resolveScope(deps.served ? { served: deps.served } : {}, {
    provider: config.provider,
    ...(config.resources ? { override: config.resources } : {}),
    ...(seen.encryptionConfigs ? { encryptionConfigs: seen.encryptionConfigs } : {}),
  });
}

export async function verifyNow(deps: ReconcileDeps, config: ReconcileConfig): Promise<VerifyNow> {
  const scope = await currentScope(deps, config);
  if (!deps.verifier) return { kind: 'no-verifier', scope };
  const revision = newestRevision((await deps.store.list(config.provider)).map((s) => s.revision));
  if (!revision) return { kind: 'no-revision', scope };
  const scan = await deps.verifier.scan({
    scope: scope.resources,
    provider: config.provider,
    currentKeyId: revision.keyId,
    currentKeyIdHash: revision.keyIdHash,
  });
  return { kind: 'scanned', scope, revision, scan };
}
