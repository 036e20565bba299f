// After a KMS -> KMS switch, rekey follows the new provider with no setting changed: on a
// managed-encryption sandbox whose files start with kms:sandbox-kms, `rekey encryption switch --to
// kms:sandbox-kms-b` moves everything to the second plugin; then, with REKEY_PROVIDER unset,
// `rekey reconcile` records sandbox-kms-b's key_id (the nodes' reported files name it as the write
// provider), and after a rotation of sandbox-kms-b's keyring `rekey reconcile --until-complete`
// records a revision of sandbox-kms-b for the new key_id, migrates and verifies it (exit 0). The
// switch and the rotation each leave their record: configuration revisions with the switch
// (`rekey encryption status`), key_id revisions of sandbox-kms-b (`rekey status`). etcd, read
// here without rekey's code, holds every value in scope under the new key_id of sandbox-kms-b.
// `rekey keys --retire` of sandbox-kms's key_id, with REKEY_PROVIDER unset (following
// sandbox-kms-b), says no while a value is still under sandbox-kms, naming that provider.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CoreV1Api } from '@kubernetes/client-node';
import { readReports } from '../../shared/adapters/k8s/key-id-reports.ts';
import { putRaw, rawValue, readAllValues } from '../support/independent-etcd.ts';
import { coreApi } from '../support/kube.ts';
import { type ManagedSwitch, SECOND, startManagedSwitch } from '../support/managed-switch.ts';
import { rotate, waitForKeyId } from '../support/sandbox/key-status.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { PROVIDER_NAME } from '../support/sandbox/sandbox.ts';
import { seedSecrets } from '../support/secrets.ts';

const NS = 'switch-follow';
// REKEY_PROVIDER unset: rekey follows the write provider the nodes report
const UNPINNED = { REKEY_PROVIDER: '' };

interface Last {
  kind: string;
  provider: string;
  revision: string;
  phase: string;
  verified: boolean;
}

describe('rekey follows the new provider after a KMS -> KMS switch', () => {
  let h: ManagedSwitch;
  const values: string[] = [];
  // one secret as etcd held it before the switch: under sandbox-kms's key_id
  let before1: { key: string; keyId: string; raw: Buffer } | undefined;

  before(async () => {
    h = await startManagedSwitch({ apiservers: 2, initial: 'kms' });
    const seeded = await seedSecrets(h.apis[0] as CoreV1Api, NS, { count: 30 });
    values.push(...seeded.map((s) => s.data?.value ?? ''));
    const { etcd } = h.sb.env;
    const all = await readAllValues(etcd.url, `${etcd.prefix}/secrets/${NS}/`);
    const [key, d] = [...all][0] ?? [];
    const raw = key ? await rawValue(etcd.url, key) : null;
    const prefix = `kms-v2:${PROVIDER_NAME}:`;
    assert.ok(
      key && raw && typeof d === 'string' && d.startsWith(prefix),
      `a secret under ${PROVIDER_NAME}: ${d}`,
    );
    before1 = { key, keyId: d.slice(prefix.length), raw };
  });

  after(async () => {
    await h?.stop();
  });

  async function reconcileUnpinned(): Promise<{ code: number; last: Last; out: string }> {
    const r = await h.run(
      ['reconcile', '--until-complete', '--timeout', '15m', '--output', 'json'],
      UNPINNED,
    );
    const json = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { last: Last };
    return { code: r.code, last: json.last, out: r.out };
  }

  it('switches kms:sandbox-kms -> kms:sandbox-kms-b', async () => {
    const r = await h.run([
      'encryption',
      'switch',
      '--to',
      `kms:${SECOND}`,
      '--until-complete',
      '--timeout',
      '20m',
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`completed: .* from kms:${PROVIDER_NAME} to kms:${SECOND}`));
  });

  it('without REKEY_PROVIDER, reconcile follows sandbox-kms-b: its key_id, Completed, verified', async () => {
    const { code, last, out } = await reconcileUnpinned();
    assert.equal(code, 0, out);
    assert.equal(last.provider, SECOND);
    assert.equal(last.revision, `encryption-key-${SECOND}-1`);
    assert.equal(last.phase, 'Completed');
    assert.equal(last.verified, true);
  });

  it("a rotation of sandbox-kms-b's key: a new revision of sandbox-kms-b, migrated and verified", async () => {
    const keyId = await rotate({ dir: h.sb.dir, provider: SECOND });
    await waitForKeyId(keyId, { dir: h.sb.dir, provider: SECOND, timeoutMs: 600_000 });
    // the apiservers use it; rekey sees it once a node agent reported it (every 2 s): until then a
    // step finds nothing to do, and --until-complete would end on the earlier revision
    const api = coreApi(h.sb.env);
    await waitFor(
      `a node agent to report ${keyId}`,
      async () =>
        (await readReports(api, 'rekey-system', SECOND)).some((x) => x.keyId === keyId) ||
        undefined,
    );
    const { code, last, out } = await reconcileUnpinned();
    assert.equal(code, 0, out);
    assert.equal(last.provider, SECOND);
    assert.equal(last.revision, `encryption-key-${SECOND}-2`);
    assert.equal(last.phase, 'Completed');
    assert.equal(last.verified, true);

    // etcd, read without rekey's code: every value in scope under the new key_id of sandbox-kms-b
    const { etcd } = h.sb.env;
    for (const resource of h.sb.env.encrypt ?? h.sb.env.resources) {
      const all = await readAllValues(etcd.url, `${etcd.prefix}/${resource}/`);
      assert.ok(all.size > 0);
      const off = [...all].filter(([, d]) => d !== `kms-v2:${SECOND}:${keyId}`);
      assert.deepEqual(off, [], `every ${resource} value under ${SECOND} ${keyId}`);
    }

    // the record of each: the switch in the configuration revisions, the rotation in revision 2
    const status = await h.run(['status', '--output', 'json'], UNPINNED);
    assert.equal(status.code, 0, status.out);
    const s = JSON.parse(status.out) as {
      provider: string;
      followed: string;
      revisions: { name: string; phase: string; verified: boolean | null }[];
    };
    assert.equal(s.provider, SECOND);
    assert.equal(s.followed, 'reports');
    assert.deepEqual(
      s.revisions.map((r) => [r.name, r.phase, r.verified]),
      [
        [`encryption-key-${SECOND}-2`, 'Completed', true],
        [`encryption-key-${SECOND}-1`, 'Completed', true],
      ],
    );
    const enc = await h.run(['encryption', 'status', '--output', 'json']);
    const e = JSON.parse(enc.out) as {
      revisions: { stage: string; state: string; switch?: { from: string; to: string } }[];
    };
    const last3 = e.revisions.slice(-3);
    assert.ok(
      last3.every(
        (x) =>
          x.state === 'applied' &&
          x.switch?.from === `kms:${PROVIDER_NAME}` &&
          x.switch.to === `kms:${SECOND}`,
      ),
      JSON.stringify(last3),
    );

    const printed = h.printed();
    for (const v of values) assert.ok(!printed.includes(v), 'a secret value was printed');
  });

  // after the rotation sandbox-kms-b wraps nothing by the first key_id (the sandbox's two keyrings
  // start on the same one): only the value put back under sandbox-kms needs it
  it(`keys --retire of ${PROVIDER_NAME}'s key_id, following ${SECOND}: no while a value is still under it`, async () => {
    assert.ok(before1);
    const { etcd } = h.sb.env;
    const now = await rawValue(etcd.url, before1.key);
    assert.ok(now, 'the secret is still in etcd');
    // the value as it was before the switch, as a switch part-way through leaves it
    await putRaw(etcd.url, before1.key, before1.raw);
    try {
      const r = await h.run(['keys', '--retire', before1.keyId], UNPINNED);
      assert.equal(r.code, 1, r.out);
      assert.ok(r.out.includes(`under provider(s) ${PROVIDER_NAME}`), r.out);
      assert.ok(r.out.includes(`secrets/${NS}/`), r.out);
      const json = await h.run(['keys', '--retire', before1.keyId, '--output', 'json'], UNPINNED);
      const report = JSON.parse(json.out.slice(json.out.indexOf('{'))) as {
        provider?: string;
        result: { verdict: string; objectCount?: number; providers?: string[] };
      };
      assert.equal(report.provider, SECOND);
      assert.equal(report.result.verdict, 'in-use');
      assert.ok((report.result.objectCount ?? 0) >= 1, json.out);
      assert.deepEqual(report.result.providers, [PROVIDER_NAME], json.out);
    } finally {
      await putRaw(etcd.url, before1.key, now);
    }
  });
});
