// On the real Knative tier (`sandbox up --knative`: Knative Eventing 1.22's Broker, channel and
// sources, infra/'s Triggers as deployed, each function as its own process and ServiceAccount),
// a key rotation alone, with no rekey command, ends with every object under the new key,
// verified: the key-id reporter's update -> ApiServerSource -> Broker -> cluster-event -> step
// requested -> Broker -> reconcile -> continuations -> completion.
import '../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { observeBroker } from '../support/knative/observer.ts';
import type { Recorder } from '../support/knative/recorder.ts';
import { upKnative } from '../support/knative/up.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { rotate } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';

describe('e2e on the real Knative tier: a key rotation alone is carried through by events', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  let observer: Recorder;

  before(async () => {
    sb = await startSandbox();
    await seedMany(coreApi(sb.env), { namespaces: 3, perNamespace: 100, prefix: 'kn' });
    const knative = await upKnative(sb.env);
    // a Trigger without a filter sees every event on the Broker: the chain, as data
    observer = await observeBroker(sb.env, knative);
    rekey = rekeyFor(sb.env);
  });
  after(async () => {
    rekey?.close();
    await observer?.close();
    await sb?.stop();
  });

  const newest = async () =>
    (await rekey.deps.store.list(sb.env.kms.providerName))
      .map((s) => s.revision)
      .sort((a, b) => b.number - a.number)[0];
  const logs = () =>
    sb.env.processes
      .filter((p) => /^(rekey|knative)-/.test(p.name))
      .map((p) => `--- ${p.name}:\n${readFileSync(p.log, 'utf8').slice(-1500)}`)
      .join('\n');
  const seen = (type: string, since: number) =>
    observer.deliveries.filter((d) => d.attributes.type === type && d.at >= since);

  it('ends with every object under the new key, verified, driven by events alone', async () => {
    // the first revision, started by the reporters' first reports as they reached cluster-event
    await waitFor(
      'the first revision to complete',
      async () => ((await newest())?.phase === 'Completed' ? true : undefined),
      { timeoutMs: 300_000, intervalMs: 2000 },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${logs()}`);
    });

    const rotatedAt = Date.now();
    const k2 = await rotate({ dir: sb.dir });
    const done = await waitFor(
      'a revision for the new key, Completed or Degraded',
      async () => {
        const r = await newest();
        return r?.keyIdHash === keyIdHash(k2) && (r.phase === 'Completed' || r.phase === 'Degraded')
          ? r
          : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 2000 },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${logs()}`);
    });
    assert.equal(done.phase, 'Completed', done.lastError);
    assert.equal(done.verification?.clean, true);
    assert.deepEqual(
      (await etcdSummary(sb.env)).rows.map((r) => r.keyID),
      [k2],
      'every Secret in etcd is under the new key',
    );

    // the chain, as the Broker carried it
    const reports = seen('dev.knative.apiserver.ref.update', rotatedAt).filter((d) =>
      /^\/apis\/v1\/namespaces\/rekey-system\/configmaps\/key-id-report-/.test(
        d.attributes.subject ?? '',
      ),
    );
    const observed = () =>
      observer.deliveries
        .map((d) => `${d.at - rotatedAt} ${d.attributes.type} ${d.attributes.subject ?? ''}`)
        .join('\n');
    assert.ok(
      reports.length > 0,
      `the ApiServerSource reported the key-id report update; the Broker carried:\n${observed()}\n${logs()}`,
    );
    assert.equal(reports[0]?.attributes.kind, 'ConfigMap');
    const requests = seen('dev.rekey.step.requested', rotatedAt);
    assert.ok(
      requests.some((d) => (d.data as { requestedBy?: string }).requestedBy === 'cluster-event'),
      'cluster-event handed a step to reconcile through the Broker',
    );
    assert.ok(
      seen('dev.rekey.revision.created', rotatedAt).length > 0,
      'reconcile started a revision',
    );
    assert.ok(seen('dev.rekey.migration.completed', rotatedAt).length > 0, 'and announced its end');
  });
});
