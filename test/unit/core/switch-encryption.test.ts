// switchEncryption on fakes: the nodes and apiservers are simulated (each apiserver applies what
// its node's agent wrote when the test says so), the rewriter and etcd are in memory. Shows the
// stage order, that nothing is promoted before every live apiserver reports its own node's hash,
// that a node that cannot apply stops the switch Degraded naming it, that a re-run continues
// from the stored state, that the old provider goes only once etcd shows nothing under it, and
// that a rollback makes the previous revision the one the nodes run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SwitchDeps } from '../../../shared/core/switch-deps.ts';
import { rollbackSwitch, switchEncryption } from '../../../shared/core/switch-encryption.ts';
import type { ApiserverConfigState } from '../../../shared/domain/encryption-revisions/config-convergence.ts';
import {
  parseEncryptionDocument,
  providersFor,
  renderEncryptionDocument,
  withKmsEndpoints,
} from '../../../shared/domain/encryption-revisions/document.ts';
import { configHash } from '../../../shared/domain/encryption-revisions/revision.ts';
import {
  type ConfigRevisionRecord,
  desiredRevision,
} from '../../../shared/domain/encryption-revisions/switch-state.ts';
import type { StoredConfigRevision } from '../../../shared/ports/config-revisions.ts';
import type { ObjectRewriter } from '../../../shared/ports/object-rewriter.ts';

const FOUND = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - identity: {}
`;

const NODES = ['node-a', 'node-b'];

/** A tiny cluster: revision Secrets, node agents, apiservers, and etcd's prefixes per object. */
function fakeCluster() {
  const secrets = new Map<number, StoredConfigRevision>();
  let version = 0;
  const nodeWrites = new Map<string, { revision?: number; hash?: string; error?: string }>();
  const applied = new Map<string, string>();
  const brokenNodes = new Set<string>();
  /** etcd: object name -> write key of its stored value. */
  const etcd = new Map<string, string>([
    ['s-1', 'identity'],
    ['s-2', 'identity'],
  ]);
  const appliedDocs = new Map<string, string>();
  const endpoint = (node: string) => ({ 'kms-x': `unix:///run/${node}/kms.sock` });

  const cluster = {
    secrets,
    etcd,
    brokenNodes,
    nodeWrites,
    /** Every node agent writes the desired revision (one tick of each). */
    agentsTick() {
      const d = desiredRevision([...secrets.values()].map((s) => s.record));
      const stored = d ? secrets.get(d.number) : undefined;
      if (!stored) return;
      for (const node of NODES) {
        if (brokenNodes.has(node)) {
          nodeWrites.set(node, { revision: stored.record.number, error: 'EACCES: read-only' });
          continue;
        }
        const text = renderEncryptionDocument(
          withKmsEndpoints(parseEncryptionDocument(stored.text), endpoint(node)),
        );
        appliedDocs.set(configHash(text), text);
        nodeWrites.set(node, { revision: stored.record.number, hash: configHash(text) });
      }
    },
    /** Every apiserver reloads what its node's file holds. */
    reload() {
      for (const node of NODES) {
        const w = nodeWrites.get(node);
        if (w?.hash) applied.set(node, w.hash);
      }
    },
    /** What an apiserver on `node` writes new objects with now. */
    writesWith(node: string): string {
      const text = appliedDocs.get(applied.get(node) ?? '') ?? FOUND;
      const p = providersFor(parseEncryptionDocument(text), 'secrets')?.[0] ?? { identity: {} };
      return 'kms' in p ? `kms:${(p.kms as { name: string }).name}` : 'identity';
    },
  };

  const rewriter: ObjectRewriter = {
    async listPage() {
      return {
        items: [...etcd.keys()].map((name) => ({
          name,
          namespace: 'ns',
          uid: name,
          resourceVersion: '1',
        })),
      };
    },
    async noOpPatch(_resource, ref) {
      etcd.set(ref.name, cluster.writesWith('node-a'));
      return { ok: true, before: '1', after: '2' };
    },
    async forcedPatch() {
      throw new Error('not used');
    },
  };

  const deps: SwitchDeps = {
    revisions: {
      async list() {
        return [...secrets.values()].map((s) => structuredClone(s));
      },
      async create(record: ConfigRevisionRecord, text: string) {
        if (secrets.has(record.number)) return false;
        secrets.set(record.number, { record, text, version: String(++version) });
        return true;
      },
      async update(record: ConfigRevisionRecord, expected: string) {
        const s = secrets.get(record.number);
        if (!s || s.version !== expected) return false;
        secrets.set(record.number, { record, text: s.text, version: String(++version) });
        return true;
      },
    },
    nodes: {
      async list() {
        return NODES.map((node) => ({
          node,
          kmsEndpoints: endpoint(node),
          ...nodeWrites.get(node),
        }));
      },
    },
    apiservers: {
      async read() {
        const live: ApiserverConfigState[] = NODES.map((node) => ({
          id: `id-${node}`,
          node,
          applied: applied.get(node),
          reloadFailures: 0,
        }));
        return { live, readable: true };
      },
    },
    rewriter,
    scanner: {
      prefix: '/registry',
      async *values() {
        for (const [name, key] of etcd) {
          const kind = key === 'identity' ? 'identity' : 'kms-v2';
          const provider = key.startsWith('kms:') ? key.slice(4) : undefined;
          yield {
            key: `/registry/secrets/ns/${name}`,
            kind,
            ...(provider ? { provider } : {}),
          } as never;
        }
      },
    },
    clock: { now: () => new Date(0) },
  };
  // revision 1: the file as found, applied everywhere
  secrets.set(1, {
    record: { number: 1, stage: 'found', hash: configHash(FOUND), state: 'applied' },
    text: FOUND,
    version: String(++version),
  });
  cluster.agentsTick();
  cluster.reload();
  return { cluster, deps };
}

const once = { untilComplete: false, deadline: Number.MAX_SAFE_INTEGER };
const target = { type: 'kms' as const, name: 'kms-x' };
const states = (c: ReturnType<typeof fakeCluster>['cluster']) =>
  [...c.secrets.values()]
    .sort((a, b) => a.record.number - b.record.number)
    .map((s) => `${s.record.number}:${s.record.stage}:${s.record.state}`);

describe('switchEncryption', () => {
  it('runs the stages in order, each only after every apiserver reports its node hash', async () => {
    const { cluster, deps } = fakeCluster();
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
    const { cluster, deps } = fakeCluster();
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
    const { deps } = fakeCluster();
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
    const { cluster, deps } = fakeCluster();
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
