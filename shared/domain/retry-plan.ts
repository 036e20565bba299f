// Which objects a retry pass re-patches (docs/architecture.md R13): the objects the migration
// recorded as refused, and the in-scope objects the last etcd scan found under another key. Named
// objects are looked up one by one; a resource whose names were capped (100 failures, 50
// offenders) is listed again instead, which a no-op rewrite makes harmless. Pure: it sees names
// and counts, never an object.
import type { MigrationProgress } from './migration-progress.ts';
import type { VerificationResult } from './verification.ts';

/** One object to re-patch. `namespace` is '' for a cluster-scoped object. */
export interface RetryTarget {
  resource: string;
  namespace: string;
  name: string;
}

/** What a retry pass does: re-patch `targets`, and list `relist` again from the start. */
export interface RetryPlan {
  targets: RetryTarget[];
  relist: string[];
}

/** What keeps a finished migration from completing, in numbers. */
export interface Outstanding {
  /** Objects the apiserver refused for good (admission, 403, 422): someone has to allow them. */
  refused: number;
  /** Objects in scope the last scan found under another key: a re-patch may move them. */
  offending: number;
  /** Values outside the scope under an older key_id: no re-patch of rekey's reaches them. */
  strays: number;
}

/** Counts what blocks completion; `verification` only when its scan is the one that counts. */
export function outstanding(
  failedCount: number,
  verification:
    | Pick<VerificationResult, 'clean' | 'offenders' | 'offenderCount' | 'strays'>
    | undefined,
): Outstanding {
  if (!verification || verification.clean) return { refused: failedCount, offending: 0, strays: 0 };
  const total = Math.max(verification.offenderCount ?? 0, verification.offenders.length);
  const strays = Math.min(verification.strays ?? 0, total);
  return { refused: failedCount, offending: total - strays, strays };
}

/**
 * The objects to re-patch for a revision's progress and last scan, over the resources in scope.
 * A failure without a resource (recorded before failures named theirs) lists its resources again.
 */
export function planRetry({
  progress,
  verification,
  scope,
}: {
  progress: MigrationProgress;
  verification?: VerificationResult | undefined;
  scope: readonly string[];
}): RetryPlan {
  const inScope = new Set(scope);
  const relist = new Set<string>();
  const targets = new Map<string, RetryTarget>();
  const add = (t: RetryTarget) => targets.set(`${t.resource}/${t.namespace}/${t.name}`, t);

  const named = new Map<string, number>();
  for (const f of progress.failed) {
    if (f.resource === undefined) {
      for (const cp of progress.resources) if (cp.counts.failed > 0) relist.add(cp.resource);
      continue;
    }
    named.set(f.resource, (named.get(f.resource) ?? 0) + 1);
    add({ resource: f.resource, namespace: f.namespace, name: f.name });
  }
  for (const cp of progress.resources) {
    if (cp.counts.failed > (named.get(cp.resource) ?? 0)) relist.add(cp.resource);
  }

  if (verification && !verification.clean) {
    const { offending } = outstanding(0, verification);
    let parsed = 0;
    for (const name of verification.offenders) {
      const t = parseOffender(name, inScope);
      if (!t) continue;
      parsed++;
      add(t);
    }
    if (parsed < offending) {
      const rows = (verification.resources ?? []).filter(
        (r) => r.olderKeyIds + r.otherProviders + r.plaintext > 0,
      );
      for (const r of rows.length > 0 ? rows.map((x) => x.resource) : scope) relist.add(r);
    }
  }

  const again = [...relist].filter((r) => inScope.has(r)).sort();
  const listed = new Set(again);
  return {
    targets: [...targets.values()].filter(
      (t) => inScope.has(t.resource) && !listed.has(t.resource),
    ),
    relist: again,
  };
}

/**
 * An offender's name (`<resource>/<namespace>/<name>` or `<resource>/<name>`, as the proof writes
 * it) as a target, when its resource is in scope; a stray (an etcd path outside it) is not one.
 */
export function parseOffender(name: string, scope: ReadonlySet<string>): RetryTarget | undefined {
  const slash = name.indexOf('/');
  if (slash < 0) return undefined;
  const resource = name.slice(0, slash);
  if (!scope.has(resource)) return undefined;
  const parts = name.slice(slash + 1).split('/');
  if (parts.length === 1 && parts[0]) return { resource, namespace: '', name: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) {
    return { resource, namespace: parts[0], name: parts[1] };
  }
  return undefined;
}
