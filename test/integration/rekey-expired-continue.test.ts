// An expired continue token on a real apiserver: right after the migration's first page, etcd is
// compacted past that page's resourceVersion (as the apiserver's own compactor would, every five
// minutes on a long pass), so the next list answers 410 Gone. The apiserver's 410 carries an
// "inconsistent continue" token; rekey must go on with it (the list request after the 410 carries
// exactly that token), never list from the first page again, and still complete verified with
// every secret counted once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { METADATA_LIST } from '../../shared/adapters/k8s/object-rewriter.ts';
import type { RestClient, RestRequest } from '../../shared/adapters/k8s/rest-client.ts';
import { composeApp } from '../../shared/app/compose.ts';
import { loadConfig } from '../../shared/config/config.ts';
import type { ProviderConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { connection, coreApi } from '../support/kube.ts';
import { rekeySettings } from '../support/rekey-fixture.ts';
import { rotate } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';
import { untilSettled } from '../support/settle.ts';

const SECRETS = '/api/v1/secrets';
const PAGE = 50;

interface SecretList {
  token: string | undefined;
  status: number;
  /** The continue token the answer carries (a page's, or the one in a 410 Status). */
  next: string | undefined;
}

const continueIn = (body: string): string | undefined => {
  try {
    return (
      (JSON.parse(body) as { metadata?: { continue?: string } }).metadata?.continue || undefined
    );
  } catch {
    return undefined;
  }
};

/**
 * Compacts etcd past `token`'s resourceVersion the way the apiserver's compactor does (it records
 * the revision under `compact_rev_key`, which the apiserver watches to drop its watch-cache
 * snapshots, about 15 s later), then waits until the apiserver answers 410 to `token`: the state
 * the test needs, not a time.
 */
async function expire(sb: TestSandbox, rest: RestClient, token: string): Promise<number> {
  const etcd = new Etcd3({ hosts: sb.env.etcd.url });
  try {
    // a revision past the token's: etcd still serves reads at the compaction revision itself
    const bumped = await etcd.put('compact_rev_key').value('0');
    const revision = Number(bumped.header.revision);
    await etcd.put('compact_rev_key').value(String(revision));
    await etcd.kv.compact({ revision: String(revision), physical: true });
    for (let probes = 1; probes <= 240; probes++) {
      const r = await rest.request({
        path: SECRETS,
        query: { limit: 1, continue: token },
        accept: METADATA_LIST,
      });
      if (r.status === 410) return revision;
      // the apiserver drops its cached snapshots on its own schedule (every 15 s): ask again
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`the apiserver kept serving continue token ${token} after compaction`);
  } finally {
    etcd.close();
  }
}

describe('rekey: a continue token expired mid-migration (410)', () => {
  let sb: TestSandbox;
  let deps: ReconcileDeps;
  let config: ProviderConfig;
  let close: () => void;
  const lists: SecretList[] = [];
  /** Set once rotated: the next first page of the migration's listing triggers the compaction. */
  let armed = false;
  let compactedAt: number | undefined;

  before(async () => {
    sb = await startSandbox();
    await seedMany(coreApi(sb.env), { namespaces: 4, perNamespace: 100, prefix: 'expiry' });
    let raw: RestClient | undefined;
    const app = composeApp(
      loadConfig(
        rekeySettings(sb.env, {
          REKEY_PAGE_SIZE: String(PAGE),
          REKEY_BUDGET_SECONDS: '60',
        }),
      ),
      {
        connection: connection(sb.env, { user: 'rekey' }),
        wrapRest: (rest) => {
          raw = rest;
          return {
            async request(req: RestRequest) {
              const res = await rest.request(req);
              const pageOfMigration = req.path === SECRETS && req.query?.limit === PAGE;
              if (!pageOfMigration) return res;
              const token = req.query?.continue as string | undefined;
              const next = continueIn(res.body);
              lists.push({ token, status: res.status, next });
              if (armed && token === undefined && res.status === 200 && next && raw) {
                armed = false;
                compactedAt = await expire(sb, raw, next);
              }
              return res;
            },
            close: () => rest.close(),
          };
        },
      },
    );
    deps = app.deps;
    config = { ...app.reconcile, provider: sb.env.kms.providerName };
    close = app.close;
    // baseline: the current key recorded, nothing stale
    await untilSettled({ deps, config }, 120_000);
  });
  after(async () => {
    close?.();
    await sb?.stop();
  });

  it('goes on with the token the 410 carries and completes verified, each secret counted once', async (t) => {
    const k2 = await rotate({ dir: sb.dir });
    lists.length = 0;
    armed = true;
    const steps = await untilSettled({ deps, config }, 300_000, { keyId: k2 });
    const last = steps.at(-1);
    assert.ok(last?.kind === 'step');
    assert.deepEqual(last.step, { kind: 'complete', verified: true });
    assert.ok(compactedAt, 'etcd was compacted after the first page');
    t.diagnostic(
      `compacted at revision ${compactedAt}; lists: ${lists
        .map((l) => `${l.token ? 'token' : 'start'}->${l.status}`)
        .join(' ')}`,
    );

    // the first page, then its token answered 410 with another token, then that token
    const [first, expired, resumed, ...rest] = lists;
    assert.ok(first && expired && resumed, JSON.stringify(lists));
    assert.equal(first.token, undefined);
    assert.equal(first.status, 200);
    assert.equal(expired.token, first.next, 'the second list asks for the first page token');
    assert.equal(expired.status, 410);
    assert.ok(expired.next, 'the 410 carries a continue token');
    assert.notEqual(expired.next, expired.token);
    assert.equal(resumed.token, expired.next, 'the list after the 410 carries its token');
    assert.equal(resumed.status, 200);
    assert.ok(
      rest.every((l) => l.token !== undefined && l.status === 200),
      `never listed from the start again: ${JSON.stringify(rest.map((l) => l.status))}`,
    );

    // every secret counted once: as many as the API lists now (no secret was created or deleted)
    const all = await coreApi(sb.env).listSecretForAllNamespaces();
    const stored = await deps.store.list(config.provider);
    const revision = stored.find((s) => s.revision.name === last.revision)?.revision;
    const secrets = revision?.progress.resources.find((r) => r.resource === 'secrets');
    assert.equal(secrets?.done, true);
    assert.equal(secrets?.counts.listed, all.items.length);
    assert.equal(last.counts.failed, 0);
    for (let n = 0; n < 4; n++) {
      const keys = await keyIdsInEtcd(sb.env, `expiry-${n}`);
      assert.equal(keys.size, 100);
      assert.ok(
        [...keys.values()].every((k) => k === k2),
        `expiry-${n} all under ${k2}`,
      );
    }
  });
});
