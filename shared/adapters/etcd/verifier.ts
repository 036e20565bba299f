// The Verifier port on etcd: one snapshot of everything under the prefix, judged by the pure
// ProofTally, with each resource's scanned count checked against a metadata count from the API
// taken right after the scan (an object created meanwhile makes the check fail safe, never pass).
import { parseGroupResource } from '../../domain/group-resource.ts';
import { ProofTally } from '../../domain/proof.ts';
import { storagePrefix } from '../../domain/storage-paths.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Verifier, VerifierScan } from '../../ports/verifier.ts';
import { createEtcdInspector, type EtcdInspectorOptions } from './inspector.ts';

/** How many objects of a resource the API lists now; undefined when it cannot tell. */
export type CountObjects = (resource: string) => Promise<number | undefined>;

export function createEtcdVerifier(
  options: Omit<EtcdInspectorOptions, 'resources' | 'namespace'>,
  { clock, countObjects }: { clock: Clock; countObjects: CountObjects },
): Verifier {
  const etcdPrefix = options.prefix ?? '/registry';
  return {
    async scan({ scope, provider, currentKeyId, currentKeyIdHash }): Promise<VerifierScan> {
      const tally = new ProofTally(
        scope.map((s) => ({
          resource: s.resource,
          write: s.write,
          storagePrefix: storagePrefix(parseGroupResource(s.resource), etcdPrefix),
        })),
        { provider, currentKeyId, etcdPrefix, ...(currentKeyIdHash ? { currentKeyIdHash } : {}) },
      );
      const inspector = createEtcdInspector(options);
      try {
        for await (const v of inspector.values()) tally.add(v);
      } catch (err) {
        const cause = (err as Error).cause as Error | undefined;
        const why = cause ? `: ${cause.message}` : '';
        return { available: false, reason: `etcd scan failed: ${(err as Error).message}${why}` };
      } finally {
        inspector.close();
      }
      const listed = new Map<string, number>();
      for (const s of scope) {
        const n = await countObjects(s.resource).catch(() => undefined);
        if (n !== undefined) listed.set(s.resource, n);
      }
      const proof = tally.result(listed);
      return {
        available: true,
        result: {
          clean: proof.clean,
          offenders: proof.offenders,
          offenderCount: proof.offenderCount,
          scanned: proof.totalScanned,
          checkedAt: clock.now().toISOString(),
          resources: proof.resources,
          strays: proof.strays,
          problems: proof.problems,
        },
      };
    },
  };
}
