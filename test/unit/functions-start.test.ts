// A function's composition root refuses a configuration that can never work with exit code 2 and
// one line naming the problem, never a stack trace: a missing setting, an unreadable kubeconfig, a
// webhook secret that cannot verify, delegated steps without a Broker.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const main = (fn: string) =>
  fileURLToPath(new URL(`../../functions/${fn}/main.ts`, import.meta.url));

function start(fn: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, [main(fn)], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stderr: r.stderr };
}

/** A kubeconfig that parses (nothing is called before the refusal). */
const KUBECONFIG = join(mkdtempSync(join(tmpdir(), 'rekey-start-')), 'kubeconfig');
writeFileSync(
  KUBECONFIG,
  JSON.stringify({
    'current-context': 'c',
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
    users: [{ name: 'u', user: { token: 't' } }],
  }),
);

describe('function start-up refuses bad configuration with exit 2', () => {
  const cases: [string, string, Record<string, string>, RegExp][] = [
    [
      'no provider',
      'reconcile',
      {},
      /rekey reconcile: invalid configuration:\n {2}REKEY_PROVIDER: is required/,
    ],
    [
      'an unreadable kubeconfig',
      'kms-event',
      { REKEY_PROVIDER: 'p', KUBECONFIG: '/nonexistent/kubeconfig' },
      /rekey kms-event: kubeconfig \/nonexistent\/kubeconfig: ENOENT/,
    ],
    [
      'a webhook secret that cannot verify',
      'webhook',
      { REKEY_PROVIDER: 'p', KUBECONFIG, REKEY_WEBHOOK_SECRETS: 'whsec_short' },
      /rekey webhook: .*whsec_<base64 of at least 16 bytes>/,
    ],
    [
      'delegated steps without K_SINK',
      'cluster-event',
      { REKEY_PROVIDER: 'p', REKEY_STEP_MODE: 'delegate' },
      /REKEY_STEP_MODE: delegate needs K_SINK/,
    ],
  ];
  for (const [what, fn, env, message] of cases) {
    it(what, () => {
      const r = start(fn, env);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }
});
