// driveEncryptionSwitch on a simulated cluster (test/support/unit/fake-switch-cluster.ts) and an
// in-memory EncryptionSwitch: one tick at a time, the declared switch goes through every stage
// as the nodes and apiservers follow, its conditions say where it is, a node agent that cannot
// apply or stops reporting makes it Degraded with its reason, and a Completed switch is left alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { driveEncryptionSwitch } from '../../../shared/core/drive-encryption-switch.ts';
import type { EncryptionSwitchStatus } from '../../../shared/domain/encryption-revisions/switch-conditions.ts';
import type {
  EncryptionSwitchStore,
  StoredEncryptionSwitch,
} from '../../../shared/ports/encryption-switches.ts';
import { fakeSwitchCluster } from '../../support/unit/fake-switch-cluster.ts';

function memorySwitches(spec: unknown) {
  const state: { object: StoredEncryptionSwitch | undefined; writes: number } = {
    object: { name: 'cluster', generation: 1, resourceVersion: '1', spec },
    writes: 0,
  };
  const store: EncryptionSwitchStore = {
    async get(name) {
      return name === state.object?.name ? structuredClone(state.object) : undefined;
    },
    async updateStatus(s, status) {
      if (!state.object || s.resourceVersion !== state.object.resourceVersion) return false;
      state.writes++;
      state.object = {
        ...state.object,
        resourceVersion: String(Number(state.object.resourceVersion) + 1),
        status: structuredClone(status),
      };
      return true;
    },
  };
  return { state, store };
}

const conds = (s: Partial<EncryptionSwitchStatus> | undefined) =>
  Object.fromEntries((s?.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));

describe('driveEncryptionSwitch', () => {
  it('drives the declared switch one tick at a time to Completed', async () => {
    const { cluster, deps } = fakeSwitchCluster();
    const { state, store } = memorySwitches({ target: 'kms:kms-x' });
    const tick = () =>
      driveEncryptionSwitch(
        { switches: store, switching: deps },
        { deadline: Number.MAX_SAFE_INTEGER },
      );
    const seen: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await tick();
      assert.equal(r.kind, 'ticked');
      const s = state.object?.status;
      seen.push(`${s?.stage} ${conds(s).Progressing} ${conds(s).Completed}`);
      if (conds(s).Completed === 'True/Switched') break;
      // the nodes write what is desired, then the apiservers reload it
      cluster.agentsTick();
      cluster.reload();
    }
    assert.deepEqual(
      [...new Set(seen)],
      [
        'AddRead True/AddingReadProvider False/NotDone',
        'Write True/SwitchingWriteProvider False/NotDone',
        'RemoveOld True/RemovingOldProvider False/NotDone',
        'Done False/Switched True/Switched',
      ],
    );
    // one tick runs as far as it can without waiting: migrate, verify and promote remove-old at once
    assert.deepEqual([...cluster.etcd.values()], ['kms:kms-x', 'kms:kms-x']);
    assert.equal(state.object?.status?.observedGeneration, 1);
    assert.deepEqual(state.object?.status?.switchRevisions, [2, 3, 4]);
    assert.equal(state.object?.status?.configRevision, 4);

    // Completed for this generation: not driven again, nothing written
    const writes = state.writes;
    assert.deepEqual(await tick(), { kind: 'up-to-date', generation: 1 });
    assert.equal(state.writes, writes);
  });

  it('a node agent that cannot apply the stage: Degraded NodeAgentCannotApply, nothing promoted', async () => {
    const { cluster, deps } = fakeSwitchCluster();
    const { state, store } = memorySwitches({ target: 'kms:kms-x' });
    const tick = () =>
      driveEncryptionSwitch(
        { switches: store, switching: deps },
        { deadline: Number.MAX_SAFE_INTEGER },
      );
    await tick();
    cluster.brokenNodes.add('node-b');
    cluster.agentsTick();
    await tick();
    assert.deepEqual(conds(state.object?.status), {
      Progressing: 'False/NodeAgentCannotApply',
      Completed: 'False/NotDone',
      Degraded: 'True/NodeAgentCannotApply',
    });
    assert.match(state.object?.status?.conditions?.[2]?.message ?? '', /node-b/);
    assert.equal(cluster.secrets.get(3)?.record.state, 'planned');
    // fixed: the next ticks go on
    cluster.brokenNodes.delete('node-b');
    cluster.agentsTick();
    cluster.reload();
    await tick();
    assert.equal(conds(state.object?.status).Degraded, 'False/AsExpected');
  });

  it('a node agent that stopped reporting: Degraded NodeAgentNotReporting while the stage waits', async () => {
    const { cluster, deps } = fakeSwitchCluster();
    const { state, store } = memorySwitches({ target: 'kms:kms-x' });
    const tick = () =>
      driveEncryptionSwitch(
        { switches: store, switching: deps, agentMaxAgeMs: 60_000 },
        { deadline: Number.MAX_SAFE_INTEGER },
      );
    cluster.time.nowMs = 10 * 60_000;
    cluster.confirmedAt.set('node-a', new Date(cluster.time.nowMs).toISOString());
    // node-b's agent last confirmed 2 minutes ago: it stopped
    cluster.confirmedAt.set('node-b', new Date(cluster.time.nowMs - 120_000).toISOString());
    await tick();
    assert.deepEqual(conds(state.object?.status), {
      Progressing: 'True/AddingReadProvider',
      Completed: 'False/NotDone',
      Degraded: 'True/NodeAgentNotReporting',
    });
    assert.match(state.object?.status?.conditions?.[2]?.message ?? '', /node-b/);
    cluster.confirmedAt.set('node-b', new Date(cluster.time.nowMs).toISOString());
    await tick();
    assert.equal(conds(state.object?.status).Degraded, 'False/AsExpected');
  });

  it('an invalid spec or a refused switch is Degraded with its reason; no object: nothing to do', async () => {
    const { deps } = fakeSwitchCluster();
    const bad = memorySwitches({ target: 'aesgcm' });
    await driveEncryptionSwitch(
      { switches: bad.store, switching: deps },
      { deadline: Number.MAX_SAFE_INTEGER },
    );
    assert.equal(conds(bad.state.object?.status).Degraded, 'True/InvalidSpec');
    assert.match(bad.state.object?.status?.conditions?.[2]?.message ?? '', /200,000 writes/);

    // a switch to another target is in progress (started on the command line)
    const { cluster, deps: d2 } = fakeSwitchCluster();
    const first = memorySwitches({ target: 'kms:kms-x' });
    await driveEncryptionSwitch(
      { switches: first.store, switching: d2 },
      { deadline: Number.MAX_SAFE_INTEGER },
    );
    assert.equal(cluster.secrets.get(2)?.record.state, 'rolling-out');
    const other = memorySwitches({ target: 'secretbox' });
    await driveEncryptionSwitch(
      { switches: other.store, switching: d2 },
      { deadline: Number.MAX_SAFE_INTEGER },
    );
    assert.equal(conds(other.state.object?.status).Degraded, 'True/Refused');
    assert.match(other.state.object?.status?.conditions?.[2]?.message ?? '', /in progress/);

    const none = memorySwitches({});
    none.state.object = undefined;
    assert.deepEqual(
      await driveEncryptionSwitch({ switches: none.store, switching: deps }, { deadline: 0 }),
      { kind: 'none' },
    );
  });
});

describe('driveEncryptionSwitch: writes', () => {
  it('does not write a status that did not change, whatever the stored key order', async () => {
    const { deps } = fakeSwitchCluster();
    const { state, store } = memorySwitches({ target: 'kms:kms-x' });
    const tick = () =>
      driveEncryptionSwitch(
        { switches: store, switching: deps },
        { deadline: Number.MAX_SAFE_INTEGER },
      );
    await tick();
    assert.equal(state.writes, 1);
    // as the apiserver answers it: keys in another order
    const reorder = (o: unknown): unknown =>
      Array.isArray(o)
        ? o.map(reorder)
        : o && typeof o === 'object'
          ? Object.fromEntries(
              Object.entries(o)
                .reverse()
                .map(([k, v]) => [k, reorder(v)]),
            )
          : o;
    if (state.object?.status) state.object.status = reorder(state.object.status) as never;
    const r = await tick();
    assert.equal(r.kind === 'ticked' && r.written, false);
    assert.equal(state.writes, 1);
  });
});
