// The ObjectRewriter port over the Kubernetes API: metadata-only paged lists and no-op patches
// guarded by uid + resourceVersion, whose responses are metadata only too. Secret data never
// crosses this boundary in either direction. A list whose continue token etcd compacted away
// answers 410 with a Status whose `metadata.continue` is an "inconsistent continue" token, which
// goes on after the same key at the newest resourceVersion (k8s.io/apiserver, etcd3 store:
// handleCompactedErrorForPaging): it is passed on, so a long listing need not start over.
// Metadata-only answers still carry annotations, which can hold a Secret's values: they are parsed
// without them (metadata-only.ts), and of an object only namespace, name, uid and resourceVersion
// are passed on.
import type { PatchAttempt } from '../../domain/rewrite-outcome.ts';
import type {
  CallOptions,
  ListPage,
  ObjectRef,
  ObjectRewriter,
} from '../../ports/object-rewriter.ts';
import { isRetryableStatus, type Retryable } from '../../ports/retryable.ts';
import { parseWithoutAnnotations } from './metadata-only.ts';
import { createResourceResolver } from './resource-paths.ts';
import { type RestClient, type RestResponse, retryAfterSecondsOf } from './rest-client.ts';

export const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io';
export const METADATA_ONE = 'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io';
const MERGE_PATCH = 'application/merge-patch+json';

/**
 * Raised for a list that failed (not an object outcome). It declares whether the slice engine may
 * list again (shared/ports/retryable.ts: the same statuses as a patch); otherwise it fails the step.
 */
export class ListError extends Error implements Retryable {
  override name = 'ListError';
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, status: number, retryAfterSeconds?: number) {
    super(message);
    this.status = status;
    this.retryable = isRetryableStatus(status);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

interface Meta {
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
}

function statusOf(r: RestResponse): { reason?: string; message?: string } {
  try {
    const s = parseWithoutAnnotations<{ reason?: string; message?: string }>(r.body);
    return {
      ...(s.reason ? { reason: s.reason } : {}),
      ...(s.message ? { message: s.message } : {}),
    };
  } catch {
    return r.body ? { message: r.body.slice(0, 300) } : {};
  }
}

/** The continue token a 410 Status carries (`metadata.continue`), if any. */
function continueOf(r: RestResponse): string | undefined {
  try {
    const s = parseWithoutAnnotations<{ metadata?: { continue?: unknown } }>(r.body);
    const c = s.metadata?.continue;
    return typeof c === 'string' && c !== '' ? c : undefined;
  } catch {
    return undefined;
  }
}

function toAttempt(before: string, r: RestResponse): PatchAttempt {
  if (r.status === 200) {
    // the new resourceVersion is all rekey takes from the object the patch returns
    const after = parseWithoutAnnotations<{ metadata?: Meta }>(r.body).metadata?.resourceVersion;
    return { ok: true, before, after: after ?? '' };
  }
  const ra = retryAfterSecondsOf(r);
  return {
    ok: false,
    status: r.status,
    ...statusOf(r),
    ...(ra === undefined ? {} : { retryAfterSeconds: ra }),
  };
}

export function createObjectRewriter(
  rest: RestClient,
  { fieldManager = 'rekey' } = {},
): ObjectRewriter {
  const paths = createResourceResolver(rest);

  async function patch(
    resource: string,
    ref: ObjectRef,
    { signal }: CallOptions = {},
    annotations?: Record<string, string>,
  ) {
    const p = await paths(resource);
    // uid + resourceVersion in a merge patch are preconditions: the write applies only to this
    // incarnation at this version, so a concurrent update wins (409) instead of being lost.
    const body = {
      metadata: {
        uid: ref.uid,
        resourceVersion: ref.resourceVersion,
        ...(annotations ? { annotations } : {}),
      },
    };
    const r = await rest.request({
      method: 'PATCH',
      path: p.itemPath(ref.namespace, ref.name),
      query: { fieldManager },
      body,
      contentType: MERGE_PATCH,
      accept: METADATA_ONE,
      ...(signal ? { signal } : {}),
    });
    return toAttempt(ref.resourceVersion, r);
  }

  return {
    async listPage({ resource, continueToken, limit, signal }): Promise<ListPage> {
      const p = await paths(resource);
      const r = await rest.request({
        path: p.listPath,
        query: { limit, continue: continueToken },
        accept: METADATA_LIST,
        ...(signal ? { signal } : {}),
      });
      if (r.status === 410) {
        const next = continueOf(r);
        return next ? { items: [], expired: true, continue: next } : { items: [], expired: true };
      }
      if (r.status !== 200) {
        const s = statusOf(r);
        throw new ListError(
          `list ${resource}: HTTP ${r.status} ${s.message ?? ''}`.trim(),
          r.status,
          retryAfterSecondsOf(r),
        );
      }
      const list = parseWithoutAnnotations<{
        metadata?: { continue?: string };
        items?: { metadata?: Meta }[];
      }>(r.body);
      const items: ObjectRef[] = [];
      for (const it of list.items ?? []) {
        const m = it.metadata;
        if (!m?.name || !m.uid || !m.resourceVersion) continue;
        items.push({
          namespace: m.namespace ?? '',
          name: m.name,
          uid: m.uid,
          resourceVersion: m.resourceVersion,
        });
      }
      const next = list.metadata?.continue;
      return next ? { items, continue: next } : { items };
    },
    noOpPatch: (resource, ref, options) => patch(resource, ref, options),
    forcedPatch: (resource, ref, marker, options) =>
      patch(resource, ref, options, { 'rekey.dev/forced-rewrite': marker }),
  };
}
