// The lifecycle on a real apiserver and etcd, through the real CLI as rekey's own identity: a key
// rolled back (K1 -> K2 -> K1) ends with every object back under K1 in etcd, read independently,
// and `rekey migrate` exits 0; a ValidatingAdmissionPolicy that denies the update of one named
// Secret makes `rekey migrate` exit non-zero naming it, and once the policy is lifted the next
// `rekey migrate` exits 0 with everything under the new key, without --force.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AdmissionregistrationV1Api, type CoreV1Api } from '@kubernetes/client-node';
import { readAllValues } from '../support/independent-etcd.ts';
import { coreApi, kubeConfig, mergePatch } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor, rekeySettings } from '../support/rekey-fixture.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedSecrets } from '../support/secrets.ts';
import { waitForObservation } from '../support/settle.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));
const NS = 'life';
const GUARDED = 'guarded';
const POLICY = 'deny-guarded-secret-updates';
// what the sandbox's EncryptionConfiguration puts under the provider: rekey's scope here
const IN_SCOPE = ['/registry/secrets/', '/registry/configmaps/'];

describe('lifecycle: a rollback migrates back, a lifted refusal completes', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  let core: CoreV1Api;
  let cliEnv: Record<string, string>;

  /** `rekey migrate`, as an operator runs it (its own process, rekey's own credentials). */
  function migrate(): { code: number | null; out: string } {
    const r = spawnSync(process.execPath, [CLI, 'migrate', '--timeout', '240s'], {
      env: { ...process.env, ...cliEnv },
      encoding: 'utf8',
      timeout: 300_000,
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  }

  /** key_ids the keyring issued so far, oldest first. */
  const issued: string[] = [];

  /**
   * Points the plugin back at `to`, or else at a key_id it never had (after a rollback the
   * keyring's newest key is not new, so it advances again), and waits until rekey would see it.
   */
  async function rotateTo(to?: string): Promise<string> {
    let keyId = await rotate({ dir: sb.dir, ...(to ? { to } : {}) });
    while (!to && issued.includes(keyId)) keyId = await rotate({ dir: sb.dir });
    if (!issued.includes(keyId)) issued.push(keyId);
    await waitForKeyId(keyId, { dir: sb.dir });
    await waitForObservation(rekey, keyId, 60_000);
    return keyId;
  }

  /** Every value of every resource in scope, read from etcd without rekey's code, by key_id. */
  async function inScopeByKey(): Promise<Map<string, string[]>> {
    const values = await readAllValues(sb.env.etcd.url, `${sb.env.etcd.prefix}/`);
    const out = new Map<string, string[]>();
    for (const [key, what] of values) {
      if (!IN_SCOPE.some((p) => key.startsWith(p))) continue;
      out.set(what, [...(out.get(what) ?? []), key]);
    }
    return out;
  }

  /** Whether an update of the guarded Secret is admitted now (a dry run: nothing is written). */
  async function updateAdmitted(): Promise<boolean> {
    try {
      await core.patchNamespacedSecret(
        {
          name: GUARDED,
          namespace: NS,
          body: { metadata: { labels: { probe: 'dry-run' } } },
          dryRun: 'All',
        },
        mergePatch,
      );
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 422 || (err as { code?: number }).code === 403) {
        return false;
      }
      throw err;
    }
  }

  before(async () => {
    sb = await startSandbox();
    core = coreApi(sb.env);
    await seedSecrets(core, NS, { count: 20 });
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: GUARDED }, data: { v: 'eA==' } },
    });
    rekey = rekeyFor(sb.env);
    const kubeconfig = join(sb.dir, 'kubeconfig-rekey');
    writeFileSync(kubeconfig, kubeConfig(sb.env, { user: 'rekey' }).exportConfig());
    cliEnv = { ...rekeySettings(sb.env), KUBECONFIG: kubeconfig };
    await waitFor(
      'a key-id report rekey can act on',
      async () =>
        (await rekey.deps.observer.observe(sb.env.kms.providerName)).observations.length > 0 ||
        undefined,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const baseline = migrate();
    assert.equal(baseline.code, 0, baseline.out);
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('K1 -> K2 -> back to K1: every object under K1 in etcd, verified, `rekey migrate` exits 0', async () => {
    const k1 = (await rekey.deps.observer.observe(sb.env.kms.providerName)).observations[0]?.keyId;
    assert.ok(k1);
    issued.push(k1);
    const k2 = await rotateTo();
    const forward = migrate();
    assert.equal(forward.code, 0, forward.out);
    assert.deepEqual(
      [...(await inScopeByKey()).keys()],
      [`kms-v2:${sb.env.kms.providerName}:${k2}`],
    );

    assert.equal(await rotateTo(k1), k1);
    const back = migrate();
    assert.equal(back.code, 0, back.out);

    const byKey = await inScopeByKey();
    assert.deepEqual(
      [...byKey.keys()],
      [`kms-v2:${sb.env.kms.providerName}:${k1}`],
      `values not under K1: ${JSON.stringify([...byKey].filter(([k]) => !k.endsWith(`:${k1}`)))}`,
    );
    assert.ok((byKey.values().next().value ?? []).length >= 21, 'the seeded secrets are there');
    const revisions = (await rekey.deps.store.list(sb.env.kms.providerName))
      .map((s) => s.revision)
      .sort((a, b) => a.number - b.number);
    assert.deepEqual(
      revisions.map((r) => r.keyId),
      [k1, k2, k1],
      'the rollback is a revision of its own',
    );
    const newest = revisions.at(-1);
    assert.equal(newest?.phase, 'Completed');
    assert.equal(newest?.verification?.clean, true);
  });

  it('an admission denial exits non-zero naming the Secret; lifted, `rekey migrate` exits 0, all under the new key', async () => {
    const adm = kubeConfig(sb.env).makeApiClient(AdmissionregistrationV1Api);
    await adm.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: POLICY },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              {
                apiGroups: [''],
                apiVersions: ['v1'],
                operations: ['UPDATE'],
                resources: ['secrets'],
              },
            ],
          },
          validations: [
            {
              expression: `!(object.metadata.namespace == '${NS}' && object.metadata.name == '${GUARDED}')`,
              message: 'updates of this secret are denied by policy',
            },
          ],
        },
      },
    });
    await adm.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: POLICY },
        spec: { policyName: POLICY, validationActions: ['Deny'] },
      },
    });
    await waitFor('the policy to deny updates of the guarded Secret', async () =>
      (await updateAdmitted()) ? undefined : true,
    );

    const k3 = await rotateTo();
    assert.equal(issued.indexOf(k3), issued.length - 1, 'a key_id never used before');
    const refused = migrate();
    assert.notEqual(refused.code, 0, refused.out);
    assert.equal(refused.code, 1, `a refusal someone must lift exits 1 at once: ${refused.out}`);
    assert.match(refused.out, new RegExp(`${NS}/${GUARDED}`));
    const under = await inScopeByKey();
    const old = [...under].filter(([k]) => !k.endsWith(`:${k3}`)).flatMap(([, keys]) => keys);
    assert.deepEqual(
      old,
      [`/registry/secrets/${NS}/${GUARDED}`],
      'only the refused Secret is left',
    );

    await adm.deleteValidatingAdmissionPolicyBinding({ name: POLICY });
    await adm.deleteValidatingAdmissionPolicy({ name: POLICY });
    await waitFor('the lifted policy to admit updates of the guarded Secret', async () =>
      (await updateAdmitted()) ? true : undefined,
    );

    const lifted = migrate();
    assert.equal(lifted.code, 0, lifted.out);
    const byKey = await inScopeByKey();
    assert.deepEqual([...byKey.keys()], [`kms-v2:${sb.env.kms.providerName}:${k3}`]);
    const newest = (await rekey.deps.store.list(sb.env.kms.providerName))
      .map((s) => s.revision)
      .sort((a, b) => b.number - a.number)[0];
    assert.equal(newest?.keyId, k3);
    assert.equal(newest?.phase, 'Completed');
    assert.equal(newest?.verification?.clean, true);
    assert.deepEqual(newest?.progress.failed, []);
    assert.equal(newest?.forced, undefined, 'no forced rewrite was needed');
  });
});
