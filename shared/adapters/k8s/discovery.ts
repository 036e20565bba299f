// Every resource the cluster serves, from API discovery, so the EncryptionConfiguration's wildcards
// (`*.`, `*.apps`, `*.*`) can be resolved to concrete resources. It also marks the group/versions
// that an APIService delegates to another server (`spec.service` set): their objects live in that
// server's storage, not in this etcd, so neither a rewrite nor the etcd proof applies to them.
import type { ServedResource } from '../../ports/served-resources.ts';
import type { RestClient } from './rest-client.ts';

/** The ServedResources port's item, plus where discovery found it. */
export interface DiscoveredResource extends ServedResource {
  /** The version it was found in: the group's preferred one when it is served there. */
  version: string;
}

export class DiscoveryError extends Error {
  override name = 'DiscoveryError';
}

interface ApiVersions {
  versions?: string[];
}
interface ApiGroupList {
  groups?: {
    name: string;
    versions?: { groupVersion: string; version: string }[];
    preferredVersion?: { groupVersion: string; version: string };
  }[];
}
interface ApiResourceList {
  resources?: { name: string; namespaced: boolean; verbs?: string[] }[];
}
interface ApiServiceList {
  items?: { spec?: { group?: string; version?: string; service?: unknown } }[];
}

interface GroupVersion {
  group: string;
  version: string;
  path: string;
}

async function getJson<T>(rest: Pick<RestClient, 'request'>, path: string): Promise<T> {
  const r = await rest.request({ path });
  if (r.status !== 200) {
    const hint = r.status === 403 ? ' (rekey needs get/list on this resource)' : '';
    throw new DiscoveryError(
      `discovery GET ${path}: HTTP ${r.status}${hint} ${r.body.slice(0, 200)}`,
    );
  }
  try {
    return JSON.parse(r.body) as T;
  } catch (err) {
    throw new DiscoveryError(`discovery GET ${path}: not JSON`, { cause: err });
  }
}

/** `group/version` of every APIService answered by another server. */
async function aggregatedGroupVersions(rest: Pick<RestClient, 'request'>): Promise<Set<string>> {
  const list = await getJson<ApiServiceList>(rest, '/apis/apiregistration.k8s.io/v1/apiservices');
  const remote = new Set<string>();
  for (const { spec } of list.items ?? []) {
    if (spec?.service) remote.add(`${spec.group ?? ''}/${spec.version ?? ''}`);
  }
  return remote;
}

function groupVersions(core: ApiVersions, groups: ApiGroupList): GroupVersion[] {
  const all: GroupVersion[] = (core.versions ?? []).map((version) => ({
    group: '',
    version,
    path: `/api/${version}`,
  }));
  for (const g of groups.groups ?? []) {
    const preferred = g.preferredVersion?.version;
    // preferred first, so a resource served in several versions is reported once, from it
    const versions = [...(g.versions ?? [])].sort(
      (a, b) => Number(b.version === preferred) - Number(a.version === preferred),
    );
    for (const v of versions) {
      all.push({ group: g.name, version: v.version, path: `/apis/${v.groupVersion}` });
    }
  }
  return all;
}

/**
 * Lists what the cluster serves, subresources (`pods/status`) left out. A group/version served
 * by an aggregated APIServer that does not answer is skipped (its objects are not in this etcd);
 * any other failure rejects with DiscoveryError, since a missing resource could hide from scope.
 */
export async function listServedResources(
  rest: Pick<RestClient, 'request'>,
): Promise<DiscoveredResource[]> {
  const [core, groups, remote] = await Promise.all([
    getJson<ApiVersions>(rest, '/api'),
    getJson<ApiGroupList>(rest, '/apis'),
    aggregatedGroupVersions(rest),
  ]);
  const gvs = groupVersions(core, groups);
  const lists = await Promise.all(
    gvs.map(async (gv) => {
      const aggregated = remote.has(`${gv.group}/${gv.version}`);
      try {
        return { gv, aggregated, list: await getJson<ApiResourceList>(rest, gv.path) };
      } catch (err) {
        if (aggregated) return { gv, aggregated, list: {} };
        throw err;
      }
    }),
  );
  const seen = new Set<string>();
  const served: DiscoveredResource[] = [];
  for (const { gv, aggregated, list } of lists) {
    for (const r of list.resources ?? []) {
      const key = `${r.name}.${gv.group}`;
      if (r.name.includes('/') || seen.has(key)) continue;
      seen.add(key);
      served.push({
        group: gv.group,
        resource: r.name,
        version: gv.version,
        namespaced: r.namespaced,
        verbs: [...(r.verbs ?? [])],
        aggregated,
      });
    }
  }
  return served;
}

/**
 * Whether rekey can rewrite the resource in this etcd with a no-op update: stored here (not
 * aggregated) and listable and updatable. Leaves out virtual resources such as tokenreviews,
 * bindings and componentstatuses, which `*.*` matches but nothing stores.
 */
export function isRewritable(r: ServedResource): boolean {
  const can = (verb: string) => r.verbs.includes(verb);
  return !r.aggregated && can('list') && (can('update') || can('patch'));
}
