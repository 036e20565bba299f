// The RevisionStore port on Secrets in rekey's namespace: create-if-absent by name, and every
// update guarded by the resourceVersion it was read at.
import type { V1Secret } from '@kubernetes/client-node';
import type { Revision } from '../../domain/revision.ts';
import type {
  CreateResult,
  RevisionStore,
  StoredRevision,
  WriteResult,
} from '../../ports/revision-store.ts';
import {
  LABEL_PROVIDER,
  LABEL_REVISION,
  providerLabel,
  revisionToSecret,
  secretToRevision,
} from './revision-codec.ts';
import type { CoreApi } from './typed-api.ts';

function code(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

function stored(s: V1Secret): StoredRevision {
  const r = secretToRevision(s);
  if (!r.ok) throw new Error(`damaged revision record: ${r.error}`);
  return { revision: r.revision, version: s.metadata?.resourceVersion ?? '' };
}

export function createRevisionStore(
  api: Pick<
    CoreApi,
    | 'listNamespacedSecret'
    | 'readNamespacedSecret'
    | 'createNamespacedSecret'
    | 'replaceNamespacedSecret'
    | 'deleteNamespacedSecret'
  >,
  { namespace }: { namespace: string },
): RevisionStore {
  return {
    async list(provider) {
      const list = await api.listNamespacedSecret({
        namespace,
        labelSelector: `${LABEL_REVISION}=true,${LABEL_PROVIDER}=${providerLabel(provider)}`,
      });
      const out: StoredRevision[] = [];
      for (const s of list.items) {
        const r = secretToRevision(s);
        // the label is cut at 63 characters: the exact provider is in the annotation
        if (r.ok && r.revision.provider === provider) {
          out.push({ revision: r.revision, version: s.metadata?.resourceVersion ?? '' });
        }
      }
      return out;
    },
    async createIfAbsent(revision: Revision): Promise<CreateResult> {
      try {
        const s = await api.createNamespacedSecret({
          namespace,
          body: revisionToSecret(revision, namespace),
        });
        return { result: 'created', stored: stored(s) };
      } catch (err) {
        if (code(err) !== 409) throw err;
        const s = await api.readNamespacedSecret({ name: revision.name, namespace });
        return { result: 'exists', stored: stored(s) };
      }
    },
    async update(revision, expectedVersion): Promise<WriteResult> {
      const body = revisionToSecret(revision, namespace);
      body.metadata = { ...body.metadata, resourceVersion: expectedVersion };
      try {
        const s = await api.replaceNamespacedSecret({ name: revision.name, namespace, body });
        return { result: 'updated', stored: stored(s) };
      } catch (err) {
        if (code(err) === 409 || code(err) === 404) return { result: 'conflict' };
        throw err;
      }
    },
    async delete(name, expectedVersion): Promise<WriteResult> {
      try {
        await api.deleteNamespacedSecret({
          name,
          namespace,
          ...(expectedVersion
            ? { body: { preconditions: { resourceVersion: expectedVersion } } }
            : {}),
        });
        return { result: 'deleted' };
      } catch (err) {
        if (code(err) === 409 || code(err) === 404) return { result: 'conflict' };
        throw err;
      }
    },
  };
}
