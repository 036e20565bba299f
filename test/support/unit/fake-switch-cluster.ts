// A tiny simulated cluster for the encryption switch's use cases (switchEncryption, and the
// EncryptionSwitch object's tick): revision Secrets, node agents in write mode,
// apiservers that reload what their node's agent wrote when the test says so (or fail to, counting
// the failure as their metrics do), and etcd's write key per object, listed in pages whose continue
// token the test can expire. Nothing here talks to a cluster.
import type { SwitchDeps } from '../../../shared/core/switch-deps.ts';
import type { ApiserverConfigState } from '../../../shared/domain/encryption-revisions/config-convergence.ts';
import {
  parseEncryptionDocument,
  providersFor,
  renderEncryptionDocument,
  withKmsEndpoints,
  writeKey,
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
  /** Each apiserver's automatic_reloads_total{status="failure"}, by node. */
  const reloadFailures = new Map<string, number>();
  /** Every no-op patch, by object name, in order. */
  const patches: string[] = [];
  /** The same patches as `<resource> <namespace>/<name>`: every resource lists the same objects. */
  const resourcePatches: string[] = [];
  /** Continue tokens the apiserver answers 410 for (etcd compacted past them). */
  const expiredTokens = new Set<string>();
  let listings = 0;
  /** Revision number -> the etcd object that stores it, when the test puts revisions in scope. */
  const revisionObjects = new Map<number, string>();
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
    reloadFailures,
    patches,
    resourcePatches,
    expiredTokens,
    revisionObjects,
    /** Objects per list page (undefined: the caller's limit). */
    pageSize: undefined as number | undefined,
    /** The apiserver on `node` tried to load its node's file and failed. */
    failReload(node: string) {
      reloadFailures.set(node, (reloadFailures.get(node) ?? 0) + 1);
    },
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
    /** Every apiserver (or those on `nodes`) reloads what its node's file holds. */
    reload(nodes: readonly string[] = NODES) {
      for (const node of nodes) {
        const w = nodeWrites.get(node);
        if (w?.hash) applied.set(node, w.hash);
      }
    },
    /** What an apiserver on `node` writes new objects with now. */
    writesWith(node: string): string {
      const text = appliedDocs.get(applied.get(node) ?? '') ?? FOUND;
      const p = providersFor(parseEncryptionDocument(text), 'secrets')?.[0] ?? { identity: {} };
      return writeKey(p);
    },
  };

  const rewriter: ObjectRewriter = {
    // names in order; a continue token is `<listing>:<last name of the page before>`
    async listPage({ continueToken, limit }) {
      if (continueToken && expiredTokens.has(continueToken)) return { items: [], expired: true };
      const listing = continueToken ? continueToken.split(':')[0] : String(++listings);
      const after = continueToken?.slice(continueToken.indexOf(':') + 1);
      const names = [...etcd.keys()].sort();
      const rest = after === undefined ? names : names.filter((n) => n > after);
      const page = rest.slice(0, cluster.pageSize ?? limit);
      const last = page[page.length - 1];
      return {
        items: page.map((name) => ({ name, namespace: 'ns', uid: name, resourceVersion: '1' })),
        ...(rest.length > page.length && last ? { continue: `${listing}:${last}` } : {}),
      };
    },
    async noOpPatch(resource, ref) {
      patches.push(ref.name);
      resourcePatches.push(`${resource} ${ref.namespace}/${ref.name}`);
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
        const next = String(++version);
        secrets.set(record.number, {
          record: structuredClone(record),
          text: s.text,
          version: next,
        });
        // a revision stored in scope is written with the apiserver's current write provider
        const own = revisionObjects.get(record.number);
        if (own) etcd.set(own, cluster.writesWith('node-a'));
        return next;
      },
      objectOf(number: number) {
        const name = revisionObjects.get(number);
        return name ? { namespace: 'ns', name } : undefined;
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
          reloadFailures: reloadFailures.get(node) ?? 0,
        }));
        return { live, readable: true };
      },
    },
    rewriter,
    scanner: {
      prefix: '/registry',
      async *values() {
        for (const [name, key] of etcd) {
          const kind =
            key === 'identity' ? 'identity' : key.startsWith('aescbc:') ? 'aescbc' : 'kms-v2';
          const provider = key.includes(':') ? key.slice(key.indexOf(':') + 1) : undefined;
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
