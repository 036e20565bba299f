// Work proportional to what is stale, measured: after a rotation the apiserver has adopted, a
// client writes every other seeded secret again (a label, as a partial `kubectl replace` would
// rewrite them), so etcd stores that half under the new key; then rekey's runner migrates. rekey
// reads each page's keyIDs from etcd and patches only the stale objects: the patches it sent and
// the objects it skipped are the figures.
import pLimit from 'p-limit';
import { coreApi, mergePatch } from '../support/kube.ts';
import type { TestSandbox } from '../support/sandbox-fixture.ts';
import { rotateAndAdopt } from './key-rotation.ts';
import { type RunnerResult, runRunner } from './runner-process.ts';

export interface HalfStaleRun {
  keyId: string;
  /** Seeded secrets the client wrote again under the new key before rekey ran. */
  writtenByClient: number;
  result: RunnerResult;
}

/** Rotates from `currentKeyId` (which rekey has completed), makes half of `seeded` current, migrates. */
export async function halfStaleRun(
  sb: TestSandbox,
  runnerEnv: NodeJS.ProcessEnv,
  currentKeyId: string,
  seeded: readonly { namespace: string; name: string }[],
): Promise<HalfStaleRun> {
  const keyId = await rotateAndAdopt(sb);
  const api = coreApi(sb.env);
  const limit = pLimit(16);
  const half = [...seeded]
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`))
    .filter((_, i) => i % 2 === 0);
  await Promise.all(
    half.map((s) =>
      limit(() =>
        api.patchNamespacedSecret(
          {
            name: s.name,
            namespace: s.namespace,
            body: { metadata: { labels: { 'bench.rekey.dev/written': keyId } } },
          },
          mergePatch,
        ),
      ),
    ),
  );
  const result = await runRunner(runnerEnv, currentKeyId);
  if (result.phase !== 'Completed') throw new Error(`rekey ended ${result.phase}, not Completed`);
  return { keyId, writtenByClient: half.length, result };
}
