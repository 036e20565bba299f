// The ConfigRevisionStore port on Secrets in rekey's state namespace: one Secret per numbered
// EncryptionConfiguration revision, `rekey-encryption-config-<n>`, the rendered file in `data`
// (it may hold aescbc/secretbox keys: readable by rekey and the node agents only), its stage,
// rollout state and switch in `rekey.dev/config-*` annotations; stage 3's progress as the same
// `rekey.dev/progress.<resource>` checkpoint annotations a key_id revision carries (plus
// `config-failed`, the refused objects by name), and a rolling-out stage's reload baseline in
// `config-reload-baseline`. The node agents read the same Secrets (`readDesiredConfig` below).
import type { V1Secret } from '@kubernetes/client-node';
import {
  ANNOTATION_PREFIX,
  checkpointsToAnnotations,
  parseCheckpoints,
} from '../../domain/checkpoint.ts';
import type { ReloadBaseline } from '../../domain/encryption-revisions/reload-baseline.ts';
import { REVISION_STAGES, type RevisionStage } from '../../domain/encryption-revisions/revision.ts';
import {
  type ConfigRevisionRecord,
  desiredRevision,
  ROLLOUT_STATES,
  type RolloutState,
  type SwitchRecord,
} from '../../domain/encryption-revisions/switch-state.ts';
import type { ConfigRevisionStore, StoredConfigRevision } from '../../ports/config-revisions.ts';
import type { CoreApi } from './typed-api.ts';

export const CONFIG_REVISION_SECRET_TYPE = 'rekey.dev/encryption-config-revision';
export const LABEL_CONFIG_REVISION = `${ANNOTATION_PREFIX}encryption-config-revision`;
export const CONFIG_DATA_KEY = 'encryption-config.yaml';
const A = (k: string) => `${ANNOTATION_PREFIX}config-${k}`;

export const configRevisionName = (n: number) => `rekey-encryption-config-${n}`;

export function configRevisionToSecret(
  r: ConfigRevisionRecord,
  namespace: string,
  text?: string,
): V1Secret {
  const annotations: Record<string, string> = {
    [A('number')]: String(r.number),
    [A('stage')]: r.stage,
    [A('hash')]: r.hash,
    [A('state')]: r.state,
  };
  if (r.switch) annotations[A('switch')] = JSON.stringify(r.switch);
  if (r.migration) annotations[A('migration')] = r.migration;
  if (r.degraded) annotations[A('degraded')] = r.degraded;
  if (r.progress) {
    Object.assign(annotations, checkpointsToAnnotations(r.progress.checkpoints));
    annotations[A('failed')] = JSON.stringify(r.progress.failed);
  }
  if (r.reloadBaseline) annotations[A('reload-baseline')] = JSON.stringify(r.reloadBaseline);
  return {
    metadata: {
      name: configRevisionName(r.number),
      namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'rekey',
        [LABEL_CONFIG_REVISION]: 'true',
      },
      annotations,
    },
    type: CONFIG_REVISION_SECRET_TYPE,
    ...(text !== undefined
      ? { data: { [CONFIG_DATA_KEY]: Buffer.from(text, 'utf8').toString('base64') } }
      : {}),
  };
}

function parseSwitch(v: string | undefined): SwitchRecord | undefined {
  if (!v) return undefined;
  try {
    const s = JSON.parse(v) as SwitchRecord;
    return typeof s.id === 'number' && typeof s.target === 'string' && Array.isArray(s.resources)
      ? s
      : undefined;
  } catch {
    return undefined;
  }
}

function parseBaseline(v: string | undefined): ReloadBaseline | undefined {
  if (!v) return undefined;
  try {
    const raw = JSON.parse(v) as unknown;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
    const out: ReloadBaseline = {};
    for (const [id, n] of Object.entries(raw)) {
      if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) out[id] = n;
    }
    return out;
  } catch {
    return undefined;
  }
}

function parseFailed(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  try {
    const raw = JSON.parse(v) as unknown;
    return Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** The record and text of a revision Secret; undefined for one that is not (or is damaged). */
export function secretToConfigRevision(s: V1Secret): StoredConfigRevision | undefined {
  const a = s.metadata?.annotations ?? {};
  const number = Number(a[A('number')]);
  const stage = a[A('stage')] as RevisionStage;
  const state = a[A('state')] as RolloutState;
  const b64 = s.data?.[CONFIG_DATA_KEY];
  if (!Number.isSafeInteger(number) || number < 1 || b64 === undefined) return undefined;
  if (!REVISION_STAGES.includes(stage) || !ROLLOUT_STATES.includes(state)) return undefined;
  const sw = parseSwitch(a[A('switch')]);
  const migration = a[A('migration')];
  // a corrupt checkpoint is left out: its resource is rewritten from the start (harmless)
  const { checkpoints } = parseCheckpoints(a);
  const failed = parseFailed(a[A('failed')]);
  const baseline = parseBaseline(a[A('reload-baseline')]);
  return {
    record: {
      number,
      stage,
      hash: a[A('hash')] ?? '',
      state,
      ...(sw ? { switch: sw } : {}),
      ...(migration === 'migrated' || migration === 'verified' ? { migration } : {}),
      ...(a[A('degraded')] ? { degraded: a[A('degraded')] } : {}),
      ...(checkpoints.length > 0 || failed !== undefined
        ? { progress: { checkpoints, failed: failed ?? [] } }
        : {}),
      ...(baseline ? { reloadBaseline: baseline } : {}),
    },
    text: Buffer.from(b64, 'base64').toString('utf8'),
    version: s.metadata?.resourceVersion ?? '',
  };
}

type SecretApi = Pick<
  CoreApi,
  'listNamespacedSecret' | 'createNamespacedSecret' | 'replaceNamespacedSecret'
>;

async function listRevisions(api: SecretApi, namespace: string) {
  const list = await api.listNamespacedSecret({
    namespace,
    labelSelector: `${LABEL_CONFIG_REVISION}=true`,
  });
  return list.items
    .map(secretToConfigRevision)
    .filter((r): r is StoredConfigRevision => r !== undefined);
}

const code = (err: unknown) => (err as { code?: number }).code;

export function createConfigRevisionStore(
  api: SecretApi,
  { namespace }: { namespace: string },
): ConfigRevisionStore {
  return {
    list: () => listRevisions(api, namespace),
    objectOf: (number) => ({ namespace, name: configRevisionName(number) }),
    async create(record, text) {
      try {
        await api.createNamespacedSecret({
          namespace,
          body: configRevisionToSecret(record, namespace, text),
        });
        return true;
      } catch (err) {
        if (code(err) === 409) return false;
        throw err;
      }
    },
    async update(record, expectedVersion) {
      // the text is kept: replace carries it back unchanged
      const current = (await listRevisions(api, namespace)).find(
        (r) => r.record.number === record.number,
      );
      if (!current || current.version !== expectedVersion) return false;
      const body = configRevisionToSecret(record, namespace, current.text);
      if (body.metadata) body.metadata.resourceVersion = expectedVersion;
      try {
        const written = await api.replaceNamespacedSecret({
          name: configRevisionName(record.number),
          namespace,
          body,
        });
        return written.metadata?.resourceVersion ?? '';
      } catch (err) {
        if (code(err) === 409 || code(err) === 404) return false;
        throw err;
      }
    },
  };
}

/** The node agent's question: which revision (number and text) should this node run now. */
export async function readDesiredConfig(
  api: Pick<CoreApi, 'listNamespacedSecret'>,
  namespace: string,
): Promise<{ stored: StoredConfigRevision[]; desired?: StoredConfigRevision | undefined }> {
  const stored = await listRevisions(api as SecretApi, namespace);
  const d = desiredRevision(stored.map((s) => s.record));
  return { stored, desired: stored.find((s) => s.record.number === d?.number) };
}
