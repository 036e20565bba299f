// When switchEncryption may say Completed: only when the requested resources are covered by the
// switch that finished, and, when the running configuration already writes them with the target,
// only once etcd shows no value in scope under another provider (else it migrates them first, or
// says it cannot prove it). On the simulated cluster of test/support/unit/fake-switch-cluster.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { driveEncryptionSwitch } from '../../../shared/core/drive-encryption-switch.ts';
import { switchEncryption } from '../../../shared/core/switch-encryption.ts';
import { configHash } from '../../../shared/domain/encryption-revisions/revision.ts';
import type { EncryptionSwitchStatus } from '../../../shared/domain/encryption-revisions/switch-conditions.ts';
import { fakeSwitchCluster } from '../../support/unit/fake-switch-cluster.ts';
import { memorySwitches } from '../../support/unit/memory-switches.ts';

const once = { untilComplete: false, deadline: Number.MAX_SAFE_INTEGER };
const target = { type: 'kms' as const, name: 'kms-x' };
const conds = (s: Partial<EncryptionSwitchStatus> | undefined) =>
  Object.fromEntries((s?.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));

/** The file as found already writes secrets with kms-x (edited by hand); etcd is not moved. */
const HAND_EDITED = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - kms:
          apiVersion: v2
          name: kms-x
          endpoint: unix:///run/kms.sock
      - aescbc:
          keys:
            - name: key1
              secret: c2VjcmV0IGlzIHNlY3VyZSwgSSB0aGluaw==
      - identity: {}
`;

function handEdited() {
  const fake = fakeSwitchCluster();
  const { cluster } = fake;
  cluster.secrets.set(1, {
    record: { number: 1, stage: 'found', hash: configHash(HAND_EDITED), state: 'applied' },
    text: HAND_EDITED,
    version: 'hand',
  });
  cluster.agentsTick();
  cluster.reload();
  cluster.etcd.set('s-1', 'aescbc:key1');
  cluster.etcd.set('s-2', 'identity');
  return fake;
}

async function switchedSecrets(fake: ReturnType<typeof fakeSwitchCluster>) {
  for (let i = 0; i < 6; i++) {
    const r = await switchEncryption(fake.deps, { target, resources: ['secrets'] }, once);
    if (r.state === 'completed') return;
    fake.cluster.agentsTick();
    fake.cluster.reload();
  }
  assert.fail('the switch of secrets did not complete');
}

describe('switchEncryption: completion', () => {
  it('a finished switch of secrets does not complete a request for secrets and configmaps', async () => {
    const fake = fakeSwitchCluster();
    await switchedSecrets(fake);
    const r = await switchEncryption(
      fake.deps,
      { target, resources: ['secrets', 'configmaps'] },
      once,
    ).catch((e: Error) => ({ state: 'refused', message: e.message }));
    assert.notEqual(r.state, 'completed', r.message);
    assert.match(r.message, /configmaps/);
    // the resources it did switch are still complete
    const again = await switchEncryption(fake.deps, { target, resources: ['secrets'] }, once);
    assert.equal(again.state, 'completed', again.message);
  });

  it('a local target: the resources not switched yet get a switch of their own, then it completes', async () => {
    const fake = fakeSwitchCluster();
    const aescbc = { type: 'aescbc' as const };
    const run = async (resources: string[]) => {
      for (let i = 0; i < 8; i++) {
        const r = await switchEncryption(fake.deps, { target: aescbc, resources }, once);
        if (r.state === 'completed') return r;
        fake.cluster.agentsTick();
        fake.cluster.reload();
      }
      return assert.fail(`${resources.join(', ')}: not completed`);
    };
    await run(['secrets']);
    const first = fake.cluster.secrets.size;
    const both = await run(['secrets', 'configmaps']);
    assert.ok(fake.cluster.secrets.size > first, 'a switch planned for configmaps');
    const last = [...fake.cluster.secrets.values()].at(-1)?.record.switch;
    assert.deepEqual(last?.resources, ['configmaps']);
    assert.match(both.message, /configmaps switched from identity to aescbc:key-r/);
    // both switched now: completed again without planning anything
    const size = fake.cluster.secrets.size;
    const again = await run(['secrets', 'configmaps']);
    assert.equal(again.state, 'completed');
    assert.equal(fake.cluster.secrets.size, size);
  });

  it('an EncryptionSwitch whose resources grew after Completed is not Completed for them', async () => {
    const fake = fakeSwitchCluster();
    const { state, store } = memorySwitches({ target: 'kms:kms-x', resources: ['secrets'] });
    const tick = () =>
      driveEncryptionSwitch(
        { switches: store, switching: fake.deps },
        { deadline: Number.MAX_SAFE_INTEGER },
      );
    for (let i = 0; i < 8 && conds(state.object?.status).Completed !== 'True/Switched'; i++) {
      await tick();
      fake.cluster.agentsTick();
      fake.cluster.reload();
    }
    assert.equal(conds(state.object?.status).Completed, 'True/Switched');
    const object = state.object;
    assert.ok(object);
    state.object = {
      ...object,
      generation: 2,
      spec: { target: 'kms:kms-x', resources: ['secrets', 'configmaps'] },
    };
    await tick();
    assert.equal(state.object?.status?.observedGeneration, 2);
    assert.notEqual(conds(state.object?.status).Completed, 'True/Switched');
    assert.match(conds(state.object?.status).Completed ?? '', /^False\//);
  });

  it('a configuration that already writes with the target: migrates what etcd holds under others, then completes', async () => {
    const { cluster, deps } = handEdited();
    const notes: string[] = [];
    let r = await switchEncryption(deps, { target }, { ...once, onNote: (l) => notes.push(l) });
    assert.notEqual(r.state, 'completed', r.message);
    for (let i = 0; i < 6 && r.state !== 'completed'; i++) {
      cluster.agentsTick();
      cluster.reload();
      r = await switchEncryption(deps, { target }, once);
    }
    assert.equal(r.state, 'completed', r.message);
    assert.deepEqual([...cluster.etcd.values()], ['kms:kms-x', 'kms:kms-x']);
    assert.match(notes.join('\n'), /not under kms:kms-x/);
  });

  it('in one run until complete: migrates, then proves again over every provider', async () => {
    const { cluster, deps } = handEdited();
    const following = {
      ...deps,
      sleep: async () => {
        cluster.agentsTick();
        cluster.reload();
      },
    };
    const r = await switchEncryption(following, { target }, { ...once, untilComplete: true });
    assert.equal(r.state, 'completed', r.message);
    assert.match(r.message, /none under another provider/);
    assert.deepEqual([...cluster.etcd.values()], ['kms:kms-x', 'kms:kms-x']);
    assert.deepEqual(
      [...cluster.secrets.values()].map((s) => `${s.record.stage}:${s.record.migration ?? ''}`),
      ['found:', 'write:verified'],
    );
  });

  it('already in place and etcd clean: completed at once, nothing rewritten', async () => {
    const { cluster, deps } = handEdited();
    cluster.etcd.set('s-1', 'kms:kms-x');
    cluster.etcd.set('s-2', 'kms:kms-x');
    const r = await switchEncryption(deps, { target }, once);
    assert.equal(r.state, 'completed', r.message);
    assert.match(r.message, /already written with kms:kms-x/);
    assert.deepEqual(cluster.patches, []);
    assert.equal(cluster.secrets.size, 1, 'no revision planned');
  });

  it('already in place but etcd not readable: cannot prove it, not completed', async () => {
    const { deps } = handEdited();
    const r = await switchEncryption({ ...deps, scanner: undefined }, { target }, once);
    assert.equal(r.state, 'unverifiable', r.message);
  });
});
