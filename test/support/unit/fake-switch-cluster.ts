// A tiny simulated cluster for the encryption switch's use cases (switchEncryption, and the
// EncryptionSwitch object's tick): revision Secrets, node agents in write mode,
// apiservers that reload what their node's agent wrote when the test says so, and etcd's write
// key per object. Nothing here talks to a cluster.
import type { SwitchDeps } from '../../../shared/core/switch-deps.ts';
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

export const FOUND = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - identity: {}
`;

export const NODES = ['node-a', 'node-b'];

/** A tiny cluster: revision Secrets, node agents, apiservers, and etcd's prefixes per object. */
export function fakeSwitchCluster() {
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

  /** When each node's agent last confirmed its report (absent: unknown). */
  const confirmedAt = new Map<string, string>();
  const time = { nowMs: 0 };
  const cluster = {
    secrets,
    confirmedAt,
    time,
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
          ...(confirmedAt.has(node) ? { confirmedAt: confirmedAt.get(node) } : {}),
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
    clock: { now: () => new Date(time.nowMs) },
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
