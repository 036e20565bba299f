// The ObjectLookup port over the Kubernetes API: a metadata-only list narrowed by field selectors
// to one name (and namespace), so it needs only the `list` rekey already holds on every resource in
// scope, never `get`, and no data crosses the boundary (annotations, which can, are dropped while
// the answer is parsed: metadata-only.ts).
import type { ObjectLookup } from '../../ports/object-lookup.ts';
import type { ObjectRef } from '../../ports/object-rewriter.ts';
import { parseWithoutAnnotations } from './metadata-only.ts';
import { ListError, METADATA_LIST } from './object-rewriter.ts';
import { createResourceResolver } from './resource-paths.ts';
import { type RestClient, retryAfterSecondsOf } from './rest-client.ts';

interface Meta {
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
}

export function createObjectLookup(rest: RestClient): ObjectLookup {
  const paths = createResourceResolver(rest);
  return {
    async find(resource, namespace, name, options = {}): Promise<ObjectRef | undefined> {
      const p = await paths(resource);
      const selector = [
        `metadata.name=${name}`,
        ...(p.namespaced ? [`metadata.namespace=${namespace}`] : []),
      ].join(',');
      const r = await rest.request({
        path: p.listPath,
        query: { fieldSelector: selector },
        accept: METADATA_LIST,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (r.status !== 200) {
        throw new ListError(
          `find ${resource} ${namespace ? `${namespace}/` : ''}${name}: HTTP ${r.status}`,
          r.status,
          retryAfterSecondsOf(r),
        );
      }
      const list = parseWithoutAnnotations<{ items?: { metadata?: Meta }[] }>(r.body);
      const m = list.items?.find((it) => it.metadata?.name === name)?.metadata;
      if (!m?.name || !m.uid || !m.resourceVersion) return undefined;
      return {
        namespace: m.namespace ?? '',
        name: m.name,
        uid: m.uid,
        resourceVersion: m.resourceVersion,
      };
    },
  };
}
