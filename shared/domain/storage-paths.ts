// Where kube-apiserver keeps each resource in etcd. The proof from etcd is only as good as this
// mapping: scanning `/registry/widgets.example.com/` or `/registry/deployments.apps/` reads nothing
// and would look "clean", so the rules below copy the apiserver's own (docs/kms-facts.md §6).
//
// Checked against the Kubernetes sources (v1.34.4 module, and kubernetes/kubernetes history):
// - pkg/kubeapiserver/default_storage_factory_builder.go: SpecialDefaultResourcePrefixes
//   (replicationcontrollers -> controllers, endpoints -> services/endpoints, nodes -> minions,
//   services -> services/specs, ingresses of extensions and networking.k8s.io -> ingress; until
//   1.25 also podsecuritypolicies of policy and extensions -> podsecuritypolicy) and the
//   AddCohabitatingResources calls (events.k8s.io events live with core events, extensions
//   resources with their apps/networking.k8s.io/policy/core twins).
// - apiserver pkg/server/storage/storage_factory.go ResourcePrefix: a built-in resource without a
//   special prefix is stored under its lower-cased resource name, without its group.
// - apiserver pkg/server/options/etcd.go SimpleStorageFactory.ResourcePrefix: `group/resource`;
//   it backs custom resources (apiextensions NewCRDRESTOptionsGetter) and the embedded
//   apiextensions and aggregator servers (EtcdOptions.ApplyTo), hence
//   /registry/apiextensions.k8s.io/customresourcedefinitions/.
// - the etcd3 store joins --etcd-prefix (default /registry) and that resource prefix.
import {
  formatGroupResource,
  type GroupResource,
  InvalidGroupResourceError,
  isBuiltInGroup,
} from './group-resource.ts';

export const DEFAULT_ETCD_PREFIX = '/registry';

const SPECIAL_PREFIXES: Readonly<Record<string, string>> = {
  replicationcontrollers: 'controllers',
  endpoints: 'services/endpoints',
  nodes: 'minions',
  services: 'services/specs',
  'ingresses.extensions': 'ingress',
  'ingresses.networking.k8s.io': 'ingress',
  // PodSecurityPolicy was removed in 1.25; kept so that data an older apiserver wrote is found.
  'podsecuritypolicies.policy': 'podsecuritypolicy',
  'podsecuritypolicies.extensions': 'podsecuritypolicy',
};

// The apiserver stores a resource served by two groups once, under the first of its cohabitants
// that is enabled; extensions is no longer served, so the first one is always the one.
const COHABITANTS: Readonly<Record<string, GroupResource>> = {
  'events.events.k8s.io': { group: '', resource: 'events' },
  'networkpolicies.extensions': { group: 'networking.k8s.io', resource: 'networkpolicies' },
  'deployments.extensions': { group: 'apps', resource: 'deployments' },
  'daemonsets.extensions': { group: 'apps', resource: 'daemonsets' },
  'replicasets.extensions': { group: 'apps', resource: 'replicasets' },
  'replicationcontrollers.extensions': { group: '', resource: 'replicationcontrollers' },
  'podsecuritypolicies.extensions': { group: 'policy', resource: 'podsecuritypolicies' },
  'ingresses.extensions': { group: 'networking.k8s.io', resource: 'ingresses' },
};

/**
 * The resource whose storage (path and EncryptionConfiguration entry) a resource shares:
 * events.k8s.io events are core events; every other resource is its own.
 */
export function storageGroupResource(gr: GroupResource): GroupResource {
  return COHABITANTS[formatGroupResource(gr)] ?? gr;
}

// path.Join semantics of the apiserver: one leading slash, no empty or trailing segments.
function normalizePrefix(etcdPrefix: string): string {
  const segments = etcdPrefix.split('/').filter(Boolean);
  return segments.length ? `/${segments.join('/')}` : '';
}

/**
 * The etcd key prefix, with a trailing slash, under which kube-apiserver stores `gr`:
 * `/registry/secrets/`, `/registry/deployments/` (no group for built-ins),
 * `/registry/services/specs/`, `/registry/example.com/widgets/` (custom resources keep their group).
 */
export function storagePrefix(gr: GroupResource, etcdPrefix = DEFAULT_ETCD_PREFIX): string {
  if (gr.resource === '*' || gr.group === '*') {
    throw new InvalidGroupResourceError(
      `${formatGroupResource(gr)} is a wildcard, not one resource with one storage path`,
    );
  }
  const base = normalizePrefix(etcdPrefix);
  if (!isBuiltInGroup(gr.group)) return `${base}/${gr.group}/${gr.resource}/`;
  const stored = storageGroupResource(gr);
  const segment = SPECIAL_PREFIXES[formatGroupResource(stored)] ?? stored.resource.toLowerCase();
  return `${base}/${segment}/`;
}

/**
 * Which candidate an etcd key belongs to: the one with the longest storage prefix the key starts
 * with (so `services/endpoints/` wins over a plain `services/`), the first on a tie (events and
 * events.k8s.io events share one path), or undefined. Wildcard candidates are ignored.
 */
export function resourceForKey(
  key: string,
  etcdPrefix: string,
  candidates: readonly GroupResource[],
): GroupResource | undefined {
  let best: GroupResource | undefined;
  let bestLength = -1;
  for (const candidate of candidates) {
    if (candidate.resource === '*' || candidate.group === '*') continue;
    const prefix = storagePrefix(candidate, etcdPrefix);
    if (key.startsWith(prefix) && prefix.length > bestLength) {
      best = candidate;
      bestLength = prefix.length;
    }
  }
  return best;
}
