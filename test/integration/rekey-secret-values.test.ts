// Secret values never reach rekey, not even through metadata: Secrets created with client-side
// `kubectl apply` carry their whole manifest, data included, in the last-applied-configuration
// annotation, which metadata-only lists and patch responses return. A full migration of such
// Secrets, in process (every answer its REST client handed on recorded) and through the real CLI
// at debug log level, must leave no trace of the value or its base64 anywhere in rekey: not in
// what its adapters received, its revisions, its step log, or the CLI's output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { METADATA_LIST } from '../../shared/adapters/k8s/object-rewriter.ts';
import { createRestClient } from '../../shared/adapters/k8s/rest-client.ts';
import { connection, kubeConfig } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor, rekeySettings } from '../support/rekey-fixture.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { untilSettled, waitForObservation } from '../support/settle.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));
const NS = 'applied';
// distinctive, and plain letters and digits so that no JSON or YAML escaping hides it from a search
const VALUE = `rekeyMustNeverSee${Date.now().toString(36)}Value`;
const B64 = Buffer.from(VALUE).toString('base64');
const NAMES = ['from-data', 'from-string-data', 'with-annotation'];

const MANIFEST = `apiVersion: v1
kind: Namespace
metadata:
  name: ${NS}
---
apiVersion: v1
kind: Secret
metadata:
  name: from-data
  namespace: ${NS}
data:
  password: ${B64}
---
apiVersion: v1
kind: Secret
metadata:
  name: from-string-data
  namespace: ${NS}
stringData:
  password: ${VALUE}
---
apiVersion: v1
kind: Secret
metadata:
  name: with-annotation
  namespace: ${NS}
  annotations:
    example.com/copied-from-vault: ${VALUE}
data:
  token: ${B64}
`;

/** Where `text` holds the value or its base64, if it does. */
function leak(text: string): string | undefined {
  for (const needle of [VALUE, B64]) {
    const at = text.indexOf(needle);
    if (at >= 0) return text.slice(Math.max(0, at - 200), at + needle.length + 50);
  }
  return undefined;
}

describe('secret values in metadata never reach rekey', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;

  before(async () => {
    sb = await startSandbox();
    const file = join(sb.dir, 'applied-secrets.yaml');
    writeFileSync(file, MANIFEST);
    const kubectl = sb.env.binaries.kubectl;
    assert.ok(kubectl, 'the sandbox built kubectl');
    // client-side apply, as people still run it: it writes last-applied-configuration
    const applied = spawnSync(
      kubectl,
      [
        '--kubeconfig',
        sb.env.kubeconfig,
        '--context',
        kubeConfig(sb.env).getCurrentContext(),
        'apply',
        '--server-side=false',
        '-f',
        file,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(applied.status, 0, `${applied.stdout}${applied.stderr}`);
    rekey = rekeyFor(sb.env);
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('the apiserver does send the value in metadata-only answers (what the test guards against)', async () => {
    const raw = createRestClient(connection(sb.env, { user: 'rekey' }));
    try {
      const r = await raw.request({
        path: `/api/v1/namespaces/${NS}/secrets`,
        accept: METADATA_LIST,
      });
      assert.equal(r.status, 200, r.body);
      assert.ok(r.body.includes('kubectl.kubernetes.io/last-applied-configuration'), r.body);
      assert.ok(r.body.includes(VALUE) && r.body.includes(B64), 'value and base64 arrive raw');
    } finally {
      raw.close();
    }
  });

  it('a full migration of kubectl-applied Secrets leaves no trace of their values in rekey', async () => {
    const provider = sb.env.kms.providerName;
    await waitForObservation(rekey, 'local-1', 60_000);
    await untilSettled(rekey, 240_000, { keyId: 'local-1' });
    const next = await rotate({ dir: sb.dir });
    await waitForKeyId(next, { dir: sb.dir });
    await waitForObservation(rekey, next, 60_000);
    const before = rekey.exchanges.length;
    await untilSettled(rekey, 300_000, { keyId: next });

    const newest = (await rekey.deps.store.list(provider))
      .map((s) => s.revision)
      .sort((a, b) => b.number - a.number)[0];
    assert.equal(newest?.keyId, next);
    assert.equal(newest?.phase, 'Completed', JSON.stringify(newest));

    // the path was taken: each applied Secret listed and patched, its answer handed on
    const migration = rekey.exchanges.slice(before);
    for (const name of NAMES) {
      const patched = migration.filter(
        (e) =>
          e.request.method === 'PATCH' &&
          e.request.path === `/api/v1/namespaces/${NS}/secrets/${name}`,
      );
      assert.ok(patched.length >= 1, `${name} was patched`);
      assert.ok(
        patched.every((e) => e.response.status === 200 && e.response.body.includes(name)),
        `${name}: a 200 with its metadata`,
      );
    }
    assert.ok(
      migration.some(
        (e) =>
          e.request.method === undefined &&
          e.request.accept === METADATA_LIST &&
          /\/secrets$/.test(e.request.path) &&
          NAMES.every((n) => e.response.body.includes(`"name":"${n}"`)),
      ),
      'the Secrets were listed, metadata only',
    );

    for (const e of rekey.exchanges) {
      const where = leak(e.response.body);
      assert.equal(where, undefined, `${e.request.method ?? 'GET'} ${e.request.path}: ${where}`);
      assert.equal(leak(JSON.stringify(e.request)), undefined, 'nor in what rekey sent');
    }
    assert.ok(
      !rekey.exchanges.some((e) => e.response.body.includes('last-applied-configuration')),
      'no annotation is handed on',
    );
    const revisions = JSON.stringify(await rekey.deps.store.list(provider));
    assert.equal(leak(revisions), undefined, 'revisions');
    assert.equal(leak(rekey.logs.join('\n')), undefined, 'the step log');
  });

  it('`rekey migrate` at debug log level prints no trace of them either', async () => {
    const kubeconfig = join(sb.dir, 'kubeconfig-rekey');
    writeFileSync(kubeconfig, kubeConfig(sb.env, { user: 'rekey' }).exportConfig());
    const next = await rotate({ dir: sb.dir });
    await waitForKeyId(next, { dir: sb.dir });
    await waitForObservation(rekey, next, 60_000);
    const r = spawnSync(process.execPath, [CLI, 'migrate', '--timeout', '240s'], {
      env: { ...process.env, ...rekeySettings(sb.env), KUBECONFIG: kubeconfig, LOG_LEVEL: 'debug' },
      encoding: 'utf8',
      timeout: 300_000,
    });
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, out);
    assert.equal(leak(out), undefined, 'the CLI output');
    // the migration reached the applied Secrets: they are now written with the new key
    await waitFor(
      'the revision of the new key Completed',
      async () => {
        const revs = await rekey.deps.store.list(sb.env.kms.providerName);
        return revs.some((s) => s.revision.keyId === next && s.revision.phase === 'Completed')
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  });
});
