// The proof an operator retires a key on, on a real apiserver and etcd that encrypt secrets,
// configmaps and a custom resource: rekey with no REKEY_RESOURCES takes its scope from the
// reported EncryptionConfiguration, moves all three to the new key, and verifies it; a value put
// back under the old key directly in etcd makes the next verdict not clean, by name; `keys
// --retire` says no before the migration and yes after, with counts equal to an independent read.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { verifyNow } from '../../shared/core/verify-now.ts';
import { putRaw, rawValue, readAllValues } from '../support/independent-etcd.ts';
import { coreApi, kubeConfig } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor, rekeySettings } from '../support/rekey-fixture.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { ensureNamespace, seedSecrets } from '../support/secrets.ts';
import { untilSettled, waitForObservation } from '../support/settle.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));
const NS = 'scope';
const N = 12;
const SCOPE = ['configmaps', 'secrets', 'widgets.example.com'];
const STORAGE = ['/registry/configmaps/', '/registry/secrets/', '/registry/example.com/widgets/'];

describe('proof: scope from the EncryptionConfiguration, never vacuous, and key retirement', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  let cliEnv: Record<string, string>;
  let k1 = '';
  let k2 = '';
  let oldWidget: Buffer | null = null;
  const widgetKey = `/registry/example.com/widgets/${NS}/w-0`;

  function cli(args: string[], env: Record<string, string> = {}) {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...cliEnv, ...env },
      encoding: 'utf8',
      timeout: 240_000,
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  }

  before(async () => {
    sb = await startSandbox({ encrypt: SCOPE });
    const admin = kubeConfig(sb.env);
    const core = coreApi(sb.env);
    await ensureNamespace(core, NS);
    await seedSecrets(core, NS, { count: N });
    for (let i = 0; i < N; i++) {
      await core.createNamespacedConfigMap({
        namespace: NS,
        body: { metadata: { name: `c-${i}` }, data: { k: `v${i}` } },
      });
    }
    const custom = admin.makeApiClient(CustomObjectsApi);
    for (let i = 0; i < N; i++) {
      await custom.createNamespacedCustomObject({
        group: 'example.com',
        version: 'v1',
        namespace: NS,
        plural: 'widgets',
        body: {
          apiVersion: 'example.com/v1',
          kind: 'Widget',
          metadata: { name: `w-${i}` },
          spec: { n: i },
        },
      });
    }
    // rekey's RBAC grows with the scope: what infra/README.md tells an operator to grant
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: {
        metadata: { name: 'rekey-scope-widgets' },
        rules: [{ apiGroups: ['example.com'], resources: ['widgets'], verbs: ['list', 'patch'] }],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: 'rekey-scope-widgets' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'rekey-scope-widgets',
        },
        subjects: [{ kind: 'User', name: 'rekey', apiGroup: 'rbac.authorization.k8s.io' }],
      },
    });
    // no REKEY_RESOURCES: the scope comes from the key-id reports
    rekey = rekeyFor(sb.env, { REKEY_RESOURCES: '' });
    const kubeconfig = join(sb.dir, 'kubeconfig-rekey');
    writeFileSync(kubeconfig, kubeConfig(sb.env, { user: 'rekey' }).exportConfig());
    cliEnv = { ...rekeySettings(sb.env, { REKEY_RESOURCES: '' }), KUBECONFIG: kubeconfig };
    const baseline = (await untilSettled(rekey, 120_000)).at(-1);
    assert.ok(
      baseline?.kind === 'step' && baseline.phase === 'Completed',
      JSON.stringify(baseline),
    );
    k1 = (await rekey.deps.observer.observe(sb.env.kms.providerName)).observations[0]?.keyId ?? '';
    assert.ok(k1);
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('keys --retire <old> says no (exit 1, naming objects) once the apiservers moved on, before the migration', async () => {
    oldWidget = await rawValue(sb.env.etcd.url, widgetKey);
    assert.ok(oldWidget, 'the widget is in etcd at its group-aware storage path');
    k2 = await rotate({ dir: sb.dir });
    await waitForKeyId(k2, { dir: sb.dir });
    await waitForObservation(rekey, k2);
    const r = cli(['keys', '--retire', k1]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /no: key_id .* is still needed/);
    assert.ok(r.out.includes(`under provider(s) ${sb.env.kms.providerName}`), r.out);
    assert.match(r.out, new RegExp(`example\\.com/widgets/${NS}/w-`));
    assert.match(r.out, /backups/);
  });

  it('moves every secret, configmap and widget to the new key with no REKEY_RESOURCES, verified', async () => {
    const steps = await untilSettled(rekey, 300_000, { keyId: k2 });
    const last = steps.at(-1);
    assert.ok(last?.kind === 'step', JSON.stringify(last));
    assert.equal(last.phase, 'Completed', JSON.stringify(last));
    assert.deepEqual(last.step, { kind: 'complete', verified: true });
    assert.equal(last.scope.source, 'encryption-config');
    for (const r of SCOPE) {
      assert.ok(
        last.scope.resources.some((x) => x.resource === r && x.write),
        `${r} in scope: ${JSON.stringify(last.scope)}`,
      );
    }
    // an independent read of etcd: every value of the three resources is under K2
    const values = await readAllValues(sb.env.etcd.url, `${sb.env.etcd.prefix}/`);
    const inScope = [...values].filter(([k]) => STORAGE.some((p) => k.startsWith(p)));
    const widgets = inScope.filter(([k]) => k.startsWith('/registry/example.com/widgets/'));
    assert.equal(widgets.length, N);
    const wrong = inScope.filter(([, d]) => d !== `kms-v2:${sb.env.kms.providerName}:${k2}`);
    assert.deepEqual(wrong, []);
    // the revision's per-resource proof agrees with the API's count
    const revisions = await rekey.deps.store.list(sb.env.kms.providerName);
    const proof = revisions.find((s) => s.revision.name === last.revision)?.revision.verification;
    for (const row of proof?.resources ?? []) {
      assert.equal(row.current, row.scanned, JSON.stringify(row));
      assert.ok(row.listed !== undefined && row.scanned >= row.listed, JSON.stringify(row));
    }
    assert.equal(proof?.resources?.length, SCOPE.length);
  });

  it('keys --retire <old> says yes (exit 0) after it, and the inventory equals an independent count', async () => {
    const r = cli(['keys', '--retire', k1]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^yes: /m);
    const inv = cli(['keys', '--output', 'json']);
    assert.equal(inv.code, 0, inv.out);
    const inventory = JSON.parse(inv.out) as {
      totalScanned: number;
      rows: { kind: string; provider?: string; keyId?: string; total: number }[];
    };
    const values = await readAllValues(sb.env.etcd.url, `${sb.env.etcd.prefix}/`);
    const independent = new Map<string, number>();
    for (const d of values.values()) independent.set(d, (independent.get(d) ?? 0) + 1);
    const ours = new Map<string, number>();
    for (const row of inventory.rows) {
      const d = row.kind === 'kms-v2' ? `kms-v2:${row.provider}:${row.keyId}` : row.kind;
      ours.set(d, (ours.get(d) ?? 0) + row.total);
    }
    // etcd moves on between the two reads (leases, reports): compare the KMS rows, which only
    // rekey's rewrite and the reporters' writes change, and the totals within those writes
    const kmsOnly = (m: Map<string, number>) =>
      new Map([...m].filter(([d]) => d.startsWith(`kms-v2:${sb.env.kms.providerName}:${k1}`)));
    assert.deepEqual(kmsOnly(ours), kmsOnly(independent));
    assert.equal(
      ours.get(`kms-v2:${sb.env.kms.providerName}:${k2}`) !== undefined,
      true,
      JSON.stringify([...ours]),
    );
  });

  it('a widget put back under the old key directly in etcd makes the first verdict not clean, naming it', async () => {
    assert.ok(oldWidget);
    await putRaw(sb.env.etcd.url, widgetKey, oldWidget);
    const v = await verifyNow(rekey.deps, rekey.config);
    assert.equal(v.kind, 'scanned');
    assert.ok(v.kind === 'scanned' && v.scan.available, JSON.stringify(v));
    const result = v.scan.result;
    assert.equal(result.clean, false);
    assert.ok(result.offenders.includes(`widgets.example.com/${NS}/w-0`), result.offenders.join());
    const row = result.resources?.find((x) => x.resource === 'widgets.example.com');
    assert.equal(row?.olderKeyIds, 1);
    const r = cli(['verify']);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`widgets\\.example\\.com/${NS}/w-0`));
    const retire = cli(['keys', '--retire', k1]);
    assert.equal(retire.code, 1, retire.out);
  });

  it('a wrong REKEY_ETCD_PREFIX is never verified: rekey migrate exits non-zero with a clear reason', async () => {
    const k3 = await rotate({ dir: sb.dir });
    await waitForKeyId(k3, { dir: sb.dir });
    await waitForObservation(rekey, k3);
    const r = cli(['migrate', '--timeout', '4m'], { REKEY_ETCD_PREFIX: '/kubernetes.io' });
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /holds no apiserver data/);
    const newest = (await rekey.deps.store.list(sb.env.kms.providerName))
      .map((s) => s.revision)
      .sort((a, b) => b.number - a.number)[0];
    assert.notEqual(newest?.phase, 'Completed');
    assert.equal(newest?.verification?.clean, false);
  });
});
