// switchEncryption on fakes: the nodes and apiservers are simulated (each apiserver applies what
// its node's agent wrote when the test says so), the rewriter and etcd are in memory. Shows the
// stage order, that nothing is promoted before every live apiserver reports its own node's hash,
// that a node that cannot apply stops the switch Degraded naming it, that a re-run continues
// from the stored state, that the old provider goes only once etcd shows nothing under it, and
// that a rollback makes the previous revision the one the nodes run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rollbackSwitch, switchEncryption } from '../../../shared/core/switch-encryption.ts';
import { fakeSwitchCluster } from '../../support/unit/fake-switch-cluster.ts';

const once = { untilComplete: false, deadline: Number.MAX_SAFE_INTEGER };
const target = { type: 'kms' as const, name: 'kms-x' };
const states = (c: ReturnType<typeof fakeSwitchCluster>['cluster']) =>
  [...c.secrets.values()]
    .sort((a, b) => a.record.number - b.record.number)
    .map((s) => `${s.record.number}:${s.record.stage}:${s.record.state}`);

describe('switchEncryption', () => {
  it('runs the stages in order, each only after every apiserver reports its node hash', async () => {
    const { cluster, deps } = fakeSwitchCluster();
    let r = await switchEncryption(deps, { target }, once);
    assert.equal(r.state, 'progressing');
    assert.deepEqual(states(cluster), [
      '1:found:applied',
      '2:add-read:rolling-out',
      '3:write:planned',
      '4:remove-old:planned',
    ]);
    // the nodes wrote it, the apiservers did not reload yet: still waiting, nothing promoted
    cluster.agentsTick();
    r = await switchEncryption(deps, { target }, once);
    assert.equal(r.state, 'progressing');
    assert.match(r.message, /waiting for node-a/);
    assert.equal(cluster.secrets.get(3)?.record.state, 'planned');

    cluster.reload();
    r = await switchEncryption(deps, { target }, once);
    assert.equal(cluster.secrets.get(2)?.record.state, 'applied');
    assert.equal(cluster.secrets.get(3)?.record.state, 'rolling-out');
    assert.deepEqual([...cluster.etcd.values()], ['identity', 'identity'], 'no migration yet');

    cluster.agentsTick();
    cluster.reload();
    // stage 2 converges, stage 3 migrates and proves, stage 4 starts
    r = await switchEncryption(deps, { target }, once);
    assert.equal(r.state, 'progressing');
    assert.deepEqual([...cluster.etcd.values()], ['kms:kms-x', 'kms:kms-x']);
    assert.equal(cluster.secrets.get(3)?.record.migration, 'verified');
    assert.equal(cluster.secrets.get(4)?.record.state, 'rolling-out');

    cluster.agentsTick();
    cluster.reload();
    r = await switchEncryption(deps, { target }, once);
    assert.equal(r.state, 'completed', r.message);
    assert.match(r.message, /from identity to kms:kms-x/);
    assert.deepEqual(states(cluster).slice(1), [
      '2:add-read:applied',
      '3:write:applied',
      '4:remove-old:applied',
    ]);
    // the stored text holds this node's endpoint only after the agent localized it; never printed
    assert.doesNotMatch(JSON.stringify(cluster.secrets.get(4)?.record), /providers/);
  });

  it('a node that cannot apply: Degraded naming it, nothing promoted; rollback goes back', async () => {
    const { cluster, deps } = fakeSwitchCluster();
    await switchEncryption(deps, { target }, once);
    cluster.brokenNodes.add('node-b');
    cluster.agentsTick();
    cluster.reload();
    const r = await switchEncryption(deps, { target }, once);
    assert.equal(r.state, 'degraded');
    assert.match(r.message, /node-b: its node agent cannot apply it \(EACCES/);
    assert.equal(cluster.secrets.get(2)?.record.state, 'rolling-out');
    assert.match(cluster.secrets.get(2)?.record.degraded ?? '', /node-b/);
    assert.equal(cluster.secrets.get(3)?.record.state, 'planned');

    cluster.brokenNodes.delete('node-b');
    const back = await rollbackSwitch(deps, once);
    assert.equal(back.state, 'progressing');
    assert.deepEqual(states(cluster), [
      '1:found:rolling-out',
      '2:add-read:rolled-back',
      '3:write:abandoned',
      '4:remove-old:abandoned',
    ]);
    cluster.agentsTick();
    cluster.reload();
    const done = await rollbackSwitch(deps, once).catch((e: Error) => e);
    // nothing left to roll back to from revision 1, but it converged: status says applied
    assert.ok(done instanceof Error);
    const again = await switchEncryption(deps, {}, once);
    assert.equal(again.state, 'completed');
    assert.equal(cluster.secrets.get(1)?.record.state, 'applied');
  });

  it('refuses a second target while a switch is in progress, and a kms no node reports', async () => {
    const { deps } = fakeSwitchCluster();
    await assert.rejects(
      switchEncryption(deps, { target: { type: 'kms', name: 'nowhere' } }, once),
      /kms:nowhere is not reported as available on every node \(missing: node-a, node-b\)/,
    );
    await switchEncryption(deps, { target }, once);
    await assert.rejects(
      switchEncryption(deps, { target: { type: 'identity' } }, once),
      /a switch to kms:kms-x is in progress/,
    );
  });

  it('keeps the old provider while etcd still holds a value under it', async () => {
    const { cluster, deps } = fakeSwitchCluster();
    await switchEncryption(deps, { target }, once);
    cluster.agentsTick();
    cluster.reload();
    await switchEncryption(deps, { target }, once);
    cluster.agentsTick();
    cluster.reload();
    const noScan = { ...deps, scanner: undefined };
    const r = await switchEncryption(noScan, { target }, once);
    assert.equal(r.state, 'unverifiable');
    assert.equal(cluster.secrets.get(4)?.record.state, 'planned', 'identity not removed');
  });
});
