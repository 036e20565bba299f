// `rekey encryption switch` end to end on two real kube-apiservers with automatic reload, a node
// agent in write mode on each node (the key-id reporter with REKEY_CONFIG_WRITE=true, next to the
// second plugin, as the reporter's ServiceAccount with infra/components/config-write's grant), and
// writers through both apiservers throughout: identity -> kms:sandbox-kms, then
// kms:sandbox-kms -> kms:sandbox-kms-b, each through the CLI alone, ending with every value in
// scope under the target (etcd), data intact, no lost update, and an audit of every moment seen
// proving no apiserver wrote with a provider the other could not read. Then a node agent that
// cannot write its file: the switch stops Degraded naming that node, promotes nothing, and
// `rekey encryption rollback` brings every apiserver back to the previous revision.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CoreV1Api } from '@kubernetes/client-node';
import { checkWriteReadSafety } from '../../shared/domain/encryption-revisions/write-read-safety.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { type ManagedSwitch, SECOND, startManagedSwitch } from '../support/managed-switch.ts';
import { PROVIDER_NAME } from '../support/sandbox/sandbox.ts';
import type { TestSandbox } from '../support/sandbox-fixture.ts';
import { seedSecrets } from '../support/secrets.ts';
import { switchWithWriters as auditedSwitch } from '../support/switch-with-writers.ts';

const NS = 'switch-cli';
// three stages of about a minute each (the apiserver's reload poll) on a loaded machine
const SWITCH_TIMEOUT = '20m';

describe('rekey encryption switch on two apiservers with node agents in write mode', () => {
  let h: ManagedSwitch;
  let sb: TestSandbox;
  let apis: CoreV1Api[];
  let owned: { namespace: string; name: string }[] = [];
  let untouched: Map<string, string>;
  const run = (args: string[]) => h.run(args);

  before(async () => {
    h = await startManagedSwitch({ apiservers: 2, initial: 'identity' });
    sb = h.sb;
    apis = h.apis;
    const seeded = await seedSecrets(apis[0] as CoreV1Api, NS, { count: 30 });
    // the first 20 are written throughout; the last 10 never change: their data must survive
    owned = seeded.slice(0, 20).map((s) => ({ namespace: NS, name: s.metadata?.name ?? '' }));
    untouched = new Map(seeded.slice(20).map((s) => [s.metadata?.name ?? '', s.data?.value ?? '']));
  });

  after(async () => {
    await h?.stop();
  });

  /** Runs the CLI while writers write and every applied configuration is audited. */
  const switchWithWriters = (args: string[]) => auditedSwitch(h, owned, args);

  async function assertAllUnder(kind: string, provider: string | null) {
    for (const resource of sb.env.encrypt ?? sb.env.resources) {
      const summary = await etcdSummary(sb.env, resource);
      const off = summary.rows.filter((r) => r.kind !== kind || r.provider !== provider);
      assert.deepEqual(off, [], `every ${resource} value under ${kind} ${provider ?? ''}`);
    }
    for (const [name, value] of untouched) {
      for (const api of apis) {
        const s = await api.readNamespacedSecret({ name, namespace: NS });
        assert.equal(s.data?.value, value, `${name} intact`);
      }
    }
  }

  it('identity -> kms:sandbox-kms through the CLI', async () => {
    const r = await switchWithWriters([
      'encryption',
      'switch',
      '--to',
      `kms:${PROVIDER_NAME}`,
      '--until-complete',
      '--timeout',
      SWITCH_TIMEOUT,
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /completed: .*identity to kms:sandbox-kms/);
    await assertAllUnder('kms-v2', PROVIDER_NAME);
    assert.deepEqual([...r.unknown], [], 'every applied hash is a file a node agent wrote');
    assert.ok(r.moments.length > 10, 'the audit saw the rollout');
    assert.deepEqual(checkWriteReadSafety(r.moments, sb.env.encrypt ?? sb.env.resources), []);
    const status = await run(['encryption', 'status', '--output', 'json']);
    assert.equal(status.code, 0, status.out);
    const s = JSON.parse(status.out) as {
      revisions: { number: number; stage: string; state: string }[];
      apiservers: { onNodeHash: boolean }[];
    };
    assert.deepEqual(
      s.revisions.map((x) => [x.stage, x.state]),
      [
        ['found', 'applied'],
        ['add-read', 'applied'],
        ['write', 'applied'],
        ['remove-old', 'applied'],
      ],
    );
    assert.ok(s.apiservers.length === 2 && s.apiservers.every((a) => a.onNodeHash));
    assert.doesNotMatch(status.out, /secret:|k8s:enc/);
  });

  it('kms:sandbox-kms -> kms:sandbox-kms-b through the CLI', async () => {
    const r = await switchWithWriters([
      'encryption',
      'switch',
      '--to',
      `kms:${SECOND}`,
      '--until-complete',
      '--timeout',
      SWITCH_TIMEOUT,
    ]);
    assert.equal(r.code, 0, r.out);
    await assertAllUnder('kms-v2', SECOND);
    assert.deepEqual([...r.unknown], []);
    assert.deepEqual(checkWriteReadSafety(r.moments, sb.env.encrypt ?? sb.env.resources), []);
  });

  it('a node agent that cannot write: Degraded naming the node, no promotion, rollback ends clean', async () => {
    const bad = sb.env.apiservers[1];
    assert.ok(bad);
    await h.stopAgent(1);
    h.startAgent(1, { REKEY_CONFIG_FILE: join(sb.dir, 'no-such-directory', 'encryption.yaml') });
    const r = await run([
      'encryption',
      'switch',
      '--to',
      'identity',
      '--until-complete',
      '--timeout',
      SWITCH_TIMEOUT,
    ]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`degraded: .*${bad.hostname}.*cannot apply`));
    const status = await run(['encryption', 'status', '--output', 'json']);
    const s = JSON.parse(status.out) as {
      revisions: { number: number; stage: string; state: string; degraded?: string }[];
    };
    const last = s.revisions.slice(-3);
    assert.deepEqual(
      last.map((x) => [x.stage, x.state]),
      [
        ['add-read', 'rolling-out'],
        ['write', 'planned'],
        ['remove-old', 'planned'],
      ],
      'nothing promoted past the stage that failed',
    );
    assert.match(last[0]?.degraded ?? '', new RegExp(bad.hostname));

    // the operator fixes the node and goes back to the previous revision
    await h.stopAgent(1);
    h.startAgent(1);
    const back = await run([
      'encryption',
      'rollback',
      '--until-complete',
      '--timeout',
      SWITCH_TIMEOUT,
    ]);
    assert.equal(back.code, 0, back.out);
    const after = JSON.parse((await run(['encryption', 'status', '--output', 'json'])).out) as {
      desired: number;
      revisions: { number: number; stage: string; state: string }[];
      apiservers: { onNodeHash: boolean; nodeRevision: number }[];
    };
    assert.deepEqual(
      after.revisions.slice(-3).map((x) => x.state),
      ['rolled-back', 'abandoned', 'abandoned'],
    );
    assert.ok(after.apiservers.every((a) => a.onNodeHash && a.nodeRevision === after.desired));
    await assertAllUnder('kms-v2', SECOND);
  });
});
