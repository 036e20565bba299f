// Turns an EncryptionConfiguration resource name (`secrets`, `configmaps`, `widgets.example.com`)
// into REST paths, through API discovery (cached per client).
import type { RestClient } from './rest-client.ts';

export interface ResourcePaths {
  resource: string;
  namespaced: boolean;
  /** All objects across namespaces. */
  listPath: string;
  itemPath(namespace: string, name: string): string;
}

export class UnknownResourceError extends Error {
  override name = 'UnknownResourceError';
}

interface ApiResourceList {
  resources?: { name: string; namespaced: boolean; verbs?: string[] }[];
}

async function getJson<T>(rest: RestClient, path: string): Promise<T> {
  const r = await rest.request({ path });
  if (r.status !== 200) {
    throw new UnknownResourceError(
      `discovery GET ${path}: HTTP ${r.status} ${r.body.slice(0, 200)}`,
    );
  }
  return JSON.parse(r.body) as T;
}

async function groupVersionPath(rest: RestClient, group: string): Promise<string> {
  if (group === '') return '/api/v1';
  const g = await getJson<{ preferredVersion?: { groupVersion: string } }>(rest, `/apis/${group}`);
  if (!g.preferredVersion)
    throw new UnknownResourceError(`API group ${group} has no preferred version`);
  return `/apis/${g.preferredVersion.groupVersion}`;
}

/** Resolves a resource name; `plural` alone is the core group, `plural.group` any other. */
export function createResourceResolver(
  rest: RestClient,
): (resource: string) => Promise<ResourcePaths> {
  const cache = new Map<string, Promise<ResourcePaths>>();
  const resolve = async (resource: string): Promise<ResourcePaths> => {
    const dot = resource.indexOf('.');
    const plural = dot < 0 ? resource : resource.slice(0, dot);
    const group = dot < 0 ? '' : resource.slice(dot + 1);
    const base = await groupVersionPath(rest, group);
    const list = await getJson<ApiResourceList>(rest, base);
    const found = list.resources?.find((r) => r.name === plural);
    if (!found) throw new UnknownResourceError(`resource ${resource} is not served by ${base}`);
    const namespaced = found.namespaced;
    return {
      resource,
      namespaced,
      listPath: `${base}/${plural}`,
      itemPath: (namespace, name) =>
        namespaced
          ? `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}/${encodeURIComponent(name)}`
          : `${base}/${plural}/${encodeURIComponent(name)}`,
    };
  };
  return (resource) => {
    let p = cache.get(resource);
    if (!p) {
      p = resolve(resource);
      p.catch(() => cache.delete(resource));
      cache.set(resource, p);
    }
    return p;
  };
}
