// Fault 11: a ValidatingAdmissionPolicy (with its binding) denies the update of one secret rekey
// has still to rewrite, mid-migration, then is lifted. rekey must name the refused object, and
// once the policy is gone complete by itself on later steps, verified, without a forced rewrite.
import '../../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWriters } from '../../faults/writers.ts';
import { keyIdsInEtcd } from '../../support/etcd-keys.ts';
import { kubeConfig, mergePatch } from '../../support/kube.ts';
import { waitFor } from '../../support/sandbox/net.ts';

const POLICY = 'fault-deny-one-secret-update';

describe('fault: an admission policy denies one object, then is lifted', () => {
  let r: Rotation;
  before(async () => {
    r = await prepareRotation({ prefix: 'admission' });
  });
  after(async () => {
    await r?.close();
  });

  it('names the refused object, then completes after the lift without --force: nothing lost', async (t) => {
    // the guarded one is the last seeded secret rekey lists (etcd's key order: namespace, then
    // name, byte by byte), the furthest ahead of it mid-migration; the writers own 40 others
    const keyOf = (s: { namespace: string; name: string }) => `${s.namespace}/${s.name}`;
    const guarded = r.seeded.reduce<(typeof r.seeded)[number] | undefined>(
      (last, s) => (last && keyOf(last) > keyOf(s) ? last : s),
      undefined,
    );
    if (!guarded) throw new Error('nothing seeded');
    const writers = startWriters(r.api, r.seeded.filter((s) => s !== guarded).slice(0, 40));
    r.track(writers.stop);
    const adm = kubeConfig(r.sb.env).makeApiClient(AdmissionregistrationV1Api);
    /** Whether an update of the guarded secret is admitted now (a dry run writes nothing). */
    const admitted = async () => {
      try {
        await r.api.patchNamespacedSecret(
          {
            name: guarded.name,
            namespace: guarded.namespace,
            body: { metadata: { labels: { probe: 'dry-run' } } },
            dryRun: 'All',
          },
          mergePatch,
        );
        return true;
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code === 422 || code === 403) return false;
        throw err;
      }
    };

    await r.serve();
    const progress = r.progress as ProgressLog;
    const at = await r.midMigration(0.25);
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
              expression: `!(object.metadata.namespace == '${guarded.namespace}' && object.metadata.name == '${guarded.name}')`,
              message: 'updates of this secret are denied by the fault test',
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
    await waitFor('the policy to deny the guarded secret', async () =>
      (await admitted()) ? undefined : true,
    );
    const deniedAt = Date.now();
    /** The guarded secret's key_id in etcd now. */
    const guardedKey = async () =>
      (await keyIdsInEtcd(r.sb.env, guarded.namespace)).get(guarded.name);
    // rekey is held at the gate and no step holds the Lease: the guarded secret must still be
    // ahead of it, or the test proves nothing
    const keyWhenDenied = await guardedKey();
    assert.ok(
      keyWhenDenied !== undefined && keyWhenDenied !== r.k2,
      `the guarded secret is still under the old key when the policy takes effect (${keyWhenDenied})`,
    );
    const arrivalsBefore = r.served?.gate.arrivals.length ?? 0;
    r.resume();
    const refused = await progress
      .waitFor(
        'rekey to name the refused secret',
        (x) =>
          x.progress.failed.some(
            (f) => f.namespace === guarded.namespace && f.name === guarded.name,
          ),
        150_000,
      )
      .catch(async (err: Error) => {
        // what a failure needs to be told apart: a false completion or a missed denial
        const newest = await progress.newest().catch(() => undefined);
        const steps = (r.served?.gate.arrivals ?? [])
          .slice(arrivalsBefore)
          .map((a) => `${a.type.split('.').at(-1)}@${a.at - deniedAt}ms=${a.status ?? '-'}`);
        throw new Error(
          `${err.message}; the guarded secret is under ${await guardedKey()} in etcd now ` +
            `(K2 ${r.k2}); newest revision ${newest?.number} ${newest?.phase}, failed ` +
            `${JSON.stringify(newest?.progress.failed)}; deliveries since the denial: ` +
            `${steps.join(' ')}\n${r.served?.output().slice(-4000) ?? ''}`,
        );
      });

    await adm.deleteValidatingAdmissionPolicyBinding({ name: POLICY });
    await adm.deleteValidatingAdmissionPolicy({ name: POLICY });
    await waitFor('the lifted policy to admit the guarded secret', async () =>
      (await admitted()) ? true : undefined,
    );
    const liftedAt = Date.now();
    const proof = await r.finish(240_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    const final = proof.final;
    recordAndAssert(
      t,
      r,
      proof,
      {
        fault: '11. admission denial, then lifted',
        injected: `a ValidatingAdmissionPolicy denying updates of 1 secret from ${at.listed}/${at.total} listed, lifted ${((liftedAt - deniedAt) / 1000).toFixed(0)} s later (once rekey named it)`,
        recoverSeconds: progress.recoveredAfter(liftedAt) ?? null,
        details: {
          namedAs: refused.progress.failed
            .map((f) => f.reason)
            .join('; ')
            .slice(0, 200),
          phaseWhenNamed: refused.phase,
          writes: writers.record.writes,
          writeErrors: writers.record.errors,
        },
      },
      {
        [`no object failed for good after the lift (${final?.progress.failed.length})`]:
          final?.progress.failed.length === 0,
        [`no forced rewrite (${final?.forced})`]: final?.forced === undefined,
      },
    );
  });
});
