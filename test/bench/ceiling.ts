// The apiserver's own ceiling for no-op rewrites on this machine: the very request rekey sends
// (rekey's ObjectRewriter: merge patch of uid + resourceVersion, metadata-only response), as the
// admin user (exempt from API Priority and Fairness), with none of rekey's bookkeeping
// (checkpoints, retries, Leases), at several concurrencies. The stale secrets are split evenly
// between the levels, so one rotation serves the whole sweep.
import pLimit from 'p-limit';
import { createObjectRewriter } from '../../shared/adapters/k8s/object-rewriter.ts';
import { createRestClient } from '../../shared/adapters/k8s/rest-client.ts';
import type { ObjectRef } from '../../shared/ports/object-rewriter.ts';
import { connection } from '../support/kube.ts';
import type { SandboxEnv } from '../support/sandbox/env-file.ts';

export interface CeilingLevel {
  concurrency: number;
  objects: number;
  /** Patches that changed the resourceVersion (the object was rewritten, so re-encrypted). */
  rewritten: number;
  errors: number;
  perSecond: number;
}

export async function noOpCeiling(env: SandboxEnv, levels: number[]): Promise<CeilingLevel[]> {
  const rest = createRestClient(connection(env), {
    maxSockets: Math.max(...levels),
  });
  const rewriter = createObjectRewriter(rest, { fieldManager: 'rekey-bench' });
  try {
    const refs: ObjectRef[] = [];
    let continueToken: string | undefined;
    do {
      const page = await rewriter.listPage({
        resource: 'secrets',
        limit: 500,
        ...(continueToken ? { continueToken } : {}),
      });
      if (page.expired) throw new Error('the listing expired mid-way: run the bench again');
      refs.push(...page.items);
      continueToken = page.continue;
    } while (continueToken);
    const share = Math.floor(refs.length / levels.length);
    const out: CeilingLevel[] = [];
    for (const [i, concurrency] of levels.entries()) {
      const slice = refs.slice(i * share, (i + 1) * share);
      const limit = pLimit(concurrency);
      const started = performance.now();
      const attempts = await Promise.all(
        slice.map((ref) => limit(() => rewriter.noOpPatch('secrets', ref))),
      );
      const seconds = (performance.now() - started) / 1000;
      const rewritten = attempts.filter((a) => a.ok && a.after !== a.before).length;
      out.push({
        concurrency,
        objects: slice.length,
        rewritten,
        errors: attempts.filter((a) => !a.ok).length,
        perSecond: rewritten / seconds,
      });
    }
    return out;
  } finally {
    rest.close();
  }
}
