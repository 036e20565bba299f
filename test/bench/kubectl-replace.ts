// The manual method rekey is compared with, exactly as documented for it:
// `kubectl get secrets -A -o json | kubectl replace -f -`, as the admin user. What it achieved is
// counted from etcd (objects now under the new key_id), not taken from kubectl's word.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { etcdSummary } from '../support/etcd-keys.ts';
import type { TestSandbox } from '../support/sandbox-fixture.ts';

export interface KubectlReplaceResult {
  elapsedMs: number;
  exitCode: number | null;
  /** Objects kubectl reported it could not replace (e.g. conflicts with concurrent writers). */
  errors: number;
  /** Secrets under `keyId` in etcd afterwards. */
  reencrypted: number;
  /** Secrets in etcd. */
  total: number;
}

export async function kubectlReplace(
  sb: TestSandbox,
  keyId: string,
): Promise<KubectlReplaceResult> {
  const kubectl = sb.env.binaries.kubectl;
  if (!kubectl) throw new Error('the sandbox has no kubectl binary');
  const started = performance.now();
  // pipefail: a failed `get` must not pass for a replace of nothing. Output goes nowhere: it names
  // every object, and kubectl's errors are only counted, never printed.
  const child = spawn(
    'bash',
    [
      '-o',
      'pipefail',
      '-c',
      '"$KUBECTL" get secrets -A -o json | "$KUBECTL" replace -f - >/dev/null',
    ],
    {
      env: {
        ...process.env,
        KUBECTL: kubectl,
        KUBECONFIG: sb.env.kubeconfig, // its current context is the admin user on apiserver 0
        KUBECACHEDIR: join(sb.dir, 'kubectl-cache'),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let errors = 0;
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (line.startsWith('Error')) errors++;
  });
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const elapsedMs = performance.now() - started;
  const summary = await etcdSummary(sb.env);
  const reencrypted = summary.rows
    .filter((r) => r.keyID === keyId)
    .reduce((sum, r) => sum + r.count, 0);
  return { elapsedMs, exitCode, errors, reencrypted, total: summary.objects };
}
