// A forced rewrite on the real sandbox (docs/architecture.md R9, for providers that hide a
// rotation): with the key_id unchanged, `force` records a new, forced revision that gives every
// secret a real change (an annotation, so a new resourceVersion) without touching its data, and
// etcd still shows the key. rekey leaves its active revision record to its own saves, so no step
// fails on its own write.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ReconcileConfig } from '../../shared/core/deps.ts';
import { reconcileStep, type StepOutcome } from '../../shared/core/reconcile-step.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { type Seeded, seedMany } from '../support/seed.ts';
import { untilSettled } from '../support/settle.ts';

const NAMESPACE = 'forced-0';
const MARKER = 'rekey.dev/forced-rewrite';

/** Steps (force on the first only, as the CLI does) until a step has no more work. */
async function forcedUntilSettled(
  rekey: RekeyUnderTest,
  limitMs: number,
): Promise<{ steps: StepOutcome[]; errors: string[] }> {
  const steps: StepOutcome[] = [];
  const errors: string[] = [];
  const deadline = Date.now() + limitMs;
  for (let n = 0; Date.now() < deadline; n++) {
    const config: ReconcileConfig = n === 0 ? { ...rekey.config, force: true } : rekey.config;
    try {
      const o = await reconcileStep(rekey.deps, config);
      steps.push(o);
      if (o.kind === 'step' && !o.more) return { steps, errors };
      if (o.kind !== 'step' || o.step.kind !== 'migrate') await sleep(1000);
    } catch (err) {
      // a failed invocation is retried by the next trigger, as Knative would
      errors.push(`${(err as Error).name}: ${(err as Error).message}`);
      await sleep(1000);
    }
  }
  throw new Error(
    `the forced rewrite did not settle in ${limitMs / 1000} s; last step: ${JSON.stringify(steps.at(-1))}; ` +
      `${errors.length} failed step(s), last: ${errors.at(-1) ?? '-'}`,
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('rekey: forced rewrite of an unchanged key_id', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  let seeded: Seeded[];
  let run: { steps: StepOutcome[]; errors: string[] } | undefined;
  before(async () => {
    sb = await startSandbox();
    seeded = await seedMany(coreApi(sb.env), { namespaces: 1, perNamespace: 50, prefix: 'forced' });
    rekey = rekeyFor(sb.env);
    await untilSettled(rekey, 120_000);
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('rewrites every secret under a forced revision, data and key unchanged', async (t) => {
    const api = coreApi(sb.env);
    const baseline = (await rekey.deps.store.list(rekey.config.provider)).map((s) => s.revision);
    assert.ok(baseline.length > 0, 'the baseline revision is recorded');
    assert.ok(baseline.every((r) => r.phase === 'Completed'));
    const newestBefore = Math.max(...baseline.map((r) => r.number));

    const versions = new Map<string, string>();
    for (const s of seeded) {
      const now = await api.readNamespacedSecret({ name: s.name, namespace: s.namespace });
      versions.set(s.name, now.metadata?.resourceVersion ?? '');
      assert.equal(now.metadata?.annotations?.[MARKER], undefined);
    }

    const began = Date.now();
    run = await forcedUntilSettled(rekey, 180_000);
    const { steps, errors } = run;
    t.diagnostic(
      `settled in ${((Date.now() - began) / 1000).toFixed(1)} s over ${steps.length} step(s); ` +
        `failed: ${JSON.stringify(errors)}`,
    );
    assert.ok(errors.length <= 1, `at most the one known failed step: ${JSON.stringify(errors)}`);

    const last = steps.at(-1);
    assert.ok(last?.kind === 'step');
    assert.deepEqual(last.step, { kind: 'complete', verified: true });
    assert.equal(last.counts.failed, 0);
    assert.ok(last.counts.listed >= seeded.length, JSON.stringify(last.counts));

    const revisions = (await rekey.deps.store.list(rekey.config.provider)).map((s) => s.revision);
    const forced = revisions.find((r) => r.number === newestBefore + 1);
    assert.ok(forced, 'a new revision was recorded');
    assert.equal(last.revision, forced.name);
    assert.equal(forced.forced, true);
    assert.equal(forced.phase, 'Completed');
    assert.equal(forced.verification?.clean, true);
    assert.equal(forced.keyId, baseline.find((r) => r.number === newestBefore)?.keyId);
    assert.equal(revisions.length, baseline.length + 1, 'exactly one new revision');

    for (const s of seeded) {
      const now = await api.readNamespacedSecret({ name: s.name, namespace: s.namespace });
      const id = `${s.namespace}/${s.name}`;
      assert.notEqual(now.metadata?.resourceVersion, versions.get(s.name), `${id} was rewritten`);
      assert.equal(now.metadata?.annotations?.[MARKER], forced.name, `${id} carries the marker`);
      assert.deepEqual(now.data, { value: s.value }, `${id} data unchanged`);
    }

    const inEtcd = await keyIdsInEtcd(sb.env, NAMESPACE);
    assert.equal(inEtcd.size, seeded.length);
    for (const s of seeded) assert.equal(inEtcd.get(s.name), 'local-1', `${s.name} in etcd`);

    // a plain step afterwards has nothing to do: the forced revision is not re-run
    const plain = await reconcileStep(rekey.deps, rekey.config);
    assert.ok(plain.kind === 'step');
    assert.equal(plain.revision, forced.name);
    assert.equal(plain.step.kind, 'nothing-to-do');
  });

  it('completes without a failed step and counts the objects it rewrote', () => {
    assert.ok(run, 'the forced rewrite ran');
    assert.deepEqual(run.errors, [], 'no step failed');
    const last = run.steps.at(-1);
    assert.ok(last?.kind === 'step');
    assert.ok(last.counts.reencrypted >= seeded.length, JSON.stringify(last.counts));
  });
});
