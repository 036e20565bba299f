// Stages 1 and 2 of `identity -> kms:sandbox-kms` on two real kube-apiservers with automatic
// reload, writers running through both throughout: each node's file is written the node agent's
// way (this node's plugin socket in its copy, temp file + rename), and each stage waits until every
// live apiserver reports the hash of its own node's file. The audit of every moment observed, and
// of every mix of two consecutive revisions, shows no apiserver ever wrote with a provider the
// other could not read; after stage 2 new writes are stored under the kms provider (etcd), and no
// write was lost. Stages 3 (migration) and 4 (removing identity) are not driven here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { CoreV1Api } from '@kubernetes/client-node';
import { writeEncryptionConfigFile } from '../../functions/key-id-reporter/write-config.ts';
import { createConfigHashReader } from '../../shared/adapters/apiserver-metrics/config-hash-reader.ts';
import { createRestClient } from '../../shared/adapters/k8s/rest-client.ts';
import { typedApi } from '../../shared/adapters/k8s/typed-api.ts';
import { assessConfigConvergence } from '../../shared/domain/encryption-revisions/config-convergence.ts';
import {
  parseEncryptionDocument,
  type RawEncryptionConfig,
} from '../../shared/domain/encryption-revisions/document.ts';
import { planSwitch } from '../../shared/domain/encryption-revisions/plan-stages.ts';
import { ConfigRevision, configHash } from '../../shared/domain/encryption-revisions/revision.ts';
import {
  type AppliedMoment,
  checkWriteReadSafety,
  rolloutMoments,
} from '../../shared/domain/encryption-revisions/write-read-safety.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { connection, coreApi } from '../support/kube.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { PROVIDER_NAME } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedSecrets } from '../support/secrets.ts';
import { startWorkload } from '../support/workload.ts';

const NS = 'switch-stages';
// the apiserver re-reads its file about once a minute, health-checking a new kms provider first
const STAGE_DEADLINE_MS = 300_000;

describe('encryption switch stages 1-2 (identity -> kms) on two apiservers', () => {
  let sb: TestSandbox;
  let close = () => {};

  before(async () => {
    sb = await startSandbox({ apiservers: 2, managedEncryption: { initial: 'identity' } });
  });
  after(async () => {
    close();
    await sb?.stop();
  });

  it('converges stage by stage, never unsafe, new writes under kms, nothing lost', async () => {
    const { env } = sb;
    const apis: CoreV1Api[] = env.apiservers.map((_, i) => coreApi(env, { apiserver: i }));
    const seeded = await seedSecrets(apis[0] as CoreV1Api, NS, { count: 24 });
    const owned = seeded.map((s) => ({ namespace: NS, name: s.metadata?.name ?? '' }));
    const before = await keyIdsInEtcd(env, NS);
    assert.deepEqual(new Set(before.values()), new Set(['identity']));

    const conn = connection(env, { user: 'rekey' });
    const rest = createRestClient(conn);
    close = () => rest.close();
    const reader = createConfigHashReader({
      rest,
      coordination: typedApi(rest).coordination,
      apiserverUrls: env.apiservers.map((a) => a.url),
      fallbackServer: conn.server,
      clock: systemClock,
    });

    const first = env.apiservers[0];
    assert.ok(first);
    const found = new ConfigRevision(1, 'found', readFileSync(first.encryptionConfig, 'utf8'));
    const plan = planSwitch({
      current: found,
      target: { type: 'kms', name: PROVIDER_NAME },
      resources: env.encrypt ?? env.resources,
      kms: { endpoint: `unix://${first.plugin.socket}`, timeout: '3s' },
    });
    assert.deepEqual(
      plan.revisions.map((r) => r.stage),
      ['add-read', 'write', 'remove-old'],
    );
    const resources = plan.resources;
    // the plan itself: any two consecutive revisions side by side are safe
    const planned = [found, ...plan.revisions].map((r) => ({
      number: r.number,
      doc: parseEncryptionDocument(r.text()),
    }));
    assert.deepEqual(checkWriteReadSafety(rolloutMoments(planned), resources), []);

    // every hash an apiserver may report -> the document behind it
    const known = new Map<string, RawEncryptionConfig>();
    for (const a of env.apiservers) {
      const text = readFileSync(a.encryptionConfig, 'utf8');
      known.set(configHash(text), parseEncryptionDocument(text));
    }

    const half = Math.ceil(owned.length / 2);
    const writers = [
      startWorkload(apis[0] as CoreV1Api, owned.slice(0, half), { clients: 2, pauseMs: 20 }),
      startWorkload(apis[1] as CoreV1Api, owned.slice(half), { clients: 2, pauseMs: 20 }),
    ];
    const moments: AppliedMoment[] = [];
    try {
      for (const rev of plan.revisions.slice(0, 2)) {
        const startSnap = await reader.read();
        const failuresAtStart = Object.fromEntries(
          startSnap.live.map((a) => [a.id, a.reloadFailures]),
        );
        const expected = new Map<string, string>();
        for (const a of env.apiservers) {
          const written = writeEncryptionConfigFile({
            file: a.encryptionConfig,
            text: rev.text(),
            kmsEndpoints: { [PROVIDER_NAME]: `unix://${a.plugin.socket}` },
          });
          expected.set(a.hostname, written.hash);
          known.set(
            written.hash,
            parseEncryptionDocument(readFileSync(a.encryptionConfig, 'utf8')),
          );
        }
        await waitFor(
          `every apiserver on revision ${rev.number} (${rev.stage})`,
          async () => {
            const snap = await reader.read();
            if (!snap.readable) return undefined;
            const applied: Record<string, RawEncryptionConfig> = {};
            for (const a of snap.live) {
              const doc = a.applied ? known.get(a.applied) : undefined;
              assert.ok(doc, `${a.node} reports a hash no revision has: ${a.applied}`);
              applied[a.node ?? a.id] = doc;
            }
            moments.push({ at: new Date().toISOString(), applied });
            const verdict = assessConfigConvergence(
              snap.live,
              (a) => expected.get(a.node ?? ''),
              failuresAtStart,
            );
            assert.notEqual(verdict.state, 'degraded', verdict.reason);
            return verdict.state === 'converged' ? true : undefined;
          },
          { timeoutMs: STAGE_DEADLINE_MS, intervalMs: 1000 },
        );
      }
      // writes after stage 2 are under kms, whichever apiserver takes them
      for (const [i, api] of apis.entries()) {
        await api.createNamespacedSecret({
          namespace: NS,
          body: { metadata: { name: `after-${i}` }, data: { value: 'YWZ0ZXI=' } },
        });
      }
      await waitFor(
        'writers to rewrite some seeded secrets under kms',
        async () => {
          const ids = await keyIdsInEtcd(env, NS);
          return [...ids.values()].filter((k) => k !== 'identity').length > 4 ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    } finally {
      const results = await Promise.all(writers.map((w) => w.stop()));
      for (const r of results) assert.deepEqual(r.errors, [], 'no write or read failed');
      // no lost update: every secret holds its writer's last acknowledged value, via either apiserver
      for (const r of results) {
        for (const [key, value] of r.lastWritten) {
          const [namespace = '', name = ''] = key.split('/');
          for (const api of apis) {
            const s = await api.readNamespacedSecret({ name, namespace });
            assert.equal(s.data?.value, value, `${key} as last written`);
          }
        }
      }
    }
    const after = await keyIdsInEtcd(env, NS);
    assert.notEqual(after.get('after-0'), 'identity');
    assert.notEqual(after.get('after-1'), 'identity');
    assert.ok(moments.length >= 2);
    assert.deepEqual(checkWriteReadSafety(moments, resources), [], 'the audit of every moment');
  });
});
