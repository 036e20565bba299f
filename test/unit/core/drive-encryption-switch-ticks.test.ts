// The EncryptionSwitch object's tick across ticks, on the simulated cluster: stage 3 that does not
// finish within one tick's budget goes on at the next tick from the page where it stopped (each
// object patched once; only a restarted listing, after an expired continue token, patches its
// first page again; the revision whose saves carry the progress is never patched), and an
// apiserver whose reload failed during a stage makes the switch Degraded ApiserverReloadFailed
// naming it on a later tick (failures from before the stage do not count).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { driveEncryptionSwitch } from '../../../shared/core/drive-encryption-switch.ts';
import type { EncryptionSwitchStatus } from '../../../shared/domain/encryption-revisions/switch-conditions.ts';
import { fakeSwitchCluster } from '../../support/unit/fake-switch-cluster.ts';
import { memorySwitches } from '../../support/unit/memory-switches.ts';

const conds = (s: Partial<EncryptionSwitchStatus> | undefined) =>
  Object.fromEntries((s?.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));

/** Six Secrets listed two per page; each tick's budget is spent before its first page. */
function setUp() {
  const { cluster, deps } = fakeSwitchCluster();
  for (const n of [3, 4, 5, 6]) cluster.etcd.set(`s-${n}`, 'identity');
  cluster.pageSize = 2;
  const { state, store } = memorySwitches({ target: 'kms:kms-x' });
  // the fake clock stands at 0: a deadline of 0 lets a tick rewrite one page, no more
  const tick = () => driveEncryptionSwitch({ switches: store, switching: deps }, { deadline: 0 });
  return { cluster, state, tick };
}

/** Ticks until stage 3 has started: add-read and write rolled out and applied everywhere. */
async function toStageThree({ cluster, state, tick }: ReturnType<typeof setUp>) {
  for (let i = 0; i < 6 && state.object?.status?.stage !== 'Migrate'; i++) {
    await tick();
    cluster.agentsTick();
    cluster.reload();
  }
  assert.equal(state.object?.status?.stage, 'Migrate');
}

describe('driveEncryptionSwitch across ticks: stage 3 resumed per page', () => {
  it('a stage 3 cut by the budget after one page goes on from page 2 at the next tick', async () => {
    const t = setUp();
    const { cluster, state, tick } = t;
    await toStageThree(t);
    assert.deepEqual(cluster.patches, ['s-1', 's-2'], 'one page in the first tick of stage 3');
    assert.deepEqual(conds(state.object?.status), {
      Progressing: 'True/Migrating',
      Completed: 'False/NotDone',
      Degraded: 'False/AsExpected',
    });
    const progress = cluster.secrets.get(3)?.record.progress;
    assert.match(progress?.checkpoints[0]?.continueToken ?? '', /:s-2$/);
    assert.equal(progress?.checkpoints[0]?.counts.listed, 2);

    await tick();
    assert.deepEqual(cluster.patches, ['s-1', 's-2', 's-3', 's-4'], 'page 2, page 1 not again');
    assert.equal(cluster.secrets.get(3)?.record.progress?.checkpoints[0]?.counts.listed, 4);

    // the last page: migrated, proven from etcd, the old provider's removal rolling out
    await tick();
    assert.deepEqual(cluster.patches, ['s-1', 's-2', 's-3', 's-4', 's-5', 's-6']);
    assert.equal(cluster.secrets.get(3)?.record.migration, 'verified');
    assert.equal(cluster.secrets.get(3)?.record.progress, undefined, 'progress kept until done');
    assert.equal(cluster.secrets.get(4)?.record.state, 'rolling-out');
    assert.deepEqual(new Set(cluster.etcd.values()), new Set(['kms:kms-x']));

    cluster.agentsTick();
    cluster.reload();
    await tick();
    assert.equal(conds(state.object?.status).Completed, 'True/Switched');
  });

  it('an expired continue token restarts the listing: only its first page is patched twice', async () => {
    const t = setUp();
    const { cluster, tick } = t;
    await toStageThree(t);
    assert.deepEqual(cluster.patches, ['s-1', 's-2']);
    // etcd compacted past the saved token, and the 410 carries none to go on with
    cluster.expiredTokens.add(
      cluster.secrets.get(3)?.record.progress?.checkpoints[0]?.continueToken ?? '',
    );
    await tick();
    assert.deepEqual(cluster.patches, ['s-1', 's-2', 's-1', 's-2'], 'listed again from the start');
    await tick();
    await tick();
    await tick();
    const counts = new Map<string, number>();
    for (const p of cluster.patches) counts.set(p, (counts.get(p) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(counts), {
      's-1': 2,
      's-2': 2,
      's-3': 1,
      's-4': 1,
      's-5': 1,
      's-6': 1,
    });
    assert.equal(cluster.secrets.get(3)?.record.migration, 'verified');
    assert.deepEqual(new Set(cluster.etcd.values()), new Set(['kms:kms-x']));
  });
});

describe('driveEncryptionSwitch: the revision stage 3 checkpoints on', () => {
  it('is left out of the rewrite (each save stores it anew) and still proven off the old provider', async () => {
    const t = setUp();
    const { cluster, tick } = t;
    // the write revision's own Secret is one of the objects in scope
    cluster.etcd.set('s-0-revision-3', 'identity');
    cluster.revisionObjects.set(3, 's-0-revision-3');
    await toStageThree(t);
    for (let i = 0; i < 4 && cluster.secrets.get(3)?.record.migration !== 'verified'; i++) {
      await tick();
    }
    assert.equal(cluster.secrets.get(3)?.record.migration, 'verified');
    assert.equal(cluster.patches.includes('s-0-revision-3'), false, 'never patched');
    assert.equal(cluster.etcd.get('s-0-revision-3'), 'kms:kms-x');
    assert.equal(new Set(cluster.patches).size, cluster.patches.length, 'no object patched twice');
  });
});

describe('driveEncryptionSwitch across ticks: reload failures', () => {
  const tickOf = (t: ReturnType<typeof fakeSwitchCluster>, store: unknown) => () =>
    driveEncryptionSwitch(
      { switches: store as never, switching: t.deps },
      { deadline: Number.MAX_SAFE_INTEGER },
    );

  it('a reload that fails during a stage is Degraded ApiserverReloadFailed at a later tick, naming it', async () => {
    const t = fakeSwitchCluster();
    const { cluster } = t;
    const { state, store } = memorySwitches({ target: 'kms:kms-x' });
    const tick = tickOf(t, store);
    // a failure from before the switch: part of the baseline, not this stage's
    cluster.failReload('node-a');
    await tick();
    assert.equal(state.object?.status?.stage, 'AddRead');
    assert.deepEqual(cluster.secrets.get(2)?.record.reloadBaseline, {
      'id-node-a': 1,
      'id-node-b': 0,
    });
    cluster.agentsTick();
    await tick();
    assert.equal(conds(state.object?.status).Degraded, 'False/AsExpected', 'still waiting');
    // node-a loads it; node-b's apiserver fails to (a tick later than the stage began)
    cluster.reload(['node-a']);
    cluster.failReload('node-b');
    await tick();
    assert.deepEqual(conds(state.object?.status), {
      Progressing: 'False/ApiserverReloadFailed',
      Completed: 'False/NotDone',
      Degraded: 'True/ApiserverReloadFailed',
    });
    assert.match(state.object?.status?.conditions?.[2]?.message ?? '', /node-b \(id-node-b\)/);
    assert.doesNotMatch(state.object?.status?.conditions?.[2]?.message ?? '', /node-a/);
    assert.equal(cluster.secrets.get(3)?.record.state, 'planned', 'nothing further rolled out');
    // still failing at the next tick: still Degraded
    await tick();
    assert.equal(conds(state.object?.status).Degraded, 'True/ApiserverReloadFailed');

    // the failure followed by a successful reload: the stage converges and the switch goes on
    cluster.reload(['node-b']);
    await tick();
    assert.equal(conds(state.object?.status).Degraded, 'False/AsExpected');
    assert.equal(state.object?.status?.stage, 'Write');
    assert.equal(cluster.secrets.get(2)?.record.state, 'applied');
    // the new stage's baseline holds the failures counted so far: they are not its own
    assert.deepEqual(cluster.secrets.get(3)?.record.reloadBaseline, {
      'id-node-a': 1,
      'id-node-b': 1,
    });
    cluster.agentsTick();
    cluster.reload();
    await tick();
    assert.equal(conds(state.object?.status).Degraded, 'False/AsExpected');
  });
});
