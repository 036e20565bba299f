// rekey as it runs for real: already polling when the key rotates. The time to first rewrite runs
// from the moment rotate() returns (the plugin now reports the new key_id) to the first patch the
// apiserver accepts, so it includes the key-id reporter's interval, rekey's observation, and the
// wait for the apiserver to adopt the key (its KMS health poll, which rekey hurries).
import { rotate } from '../support/sandbox/sandbox.ts';
import { type RunnerResult, startRunner } from './runner-process.ts';

export interface AcrossRotation {
  keyId: string;
  result: RunnerResult;
  firstRewriteMs: number;
}

/**
 * Starts a runner, rotates once it polls, and waits for the migration to complete. rekey must
 * already have completed the current key_id (`currentKeyId`), or the runner would work on that.
 */
export async function rekeyAcrossRotation(
  env: NodeJS.ProcessEnv,
  dir: string,
  currentKeyId: string,
): Promise<AcrossRotation> {
  const runner = startRunner(env, currentKeyId);
  let keyId: string;
  let rotatedAt: number;
  try {
    await runner.ready;
    keyId = await rotate({ dir });
    rotatedAt = Date.now();
  } catch (err) {
    runner.kill();
    throw err;
  }
  const result = await runner.done;
  if (result.phase !== 'Completed') throw new Error(`rekey ended ${result.phase}, not Completed`);
  return { keyId, result, firstRewriteMs: (result.firstRewriteAt ?? Number.NaN) - rotatedAt };
}
