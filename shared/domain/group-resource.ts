// A Kubernetes group/resource pair (`deployments.apps`, core `secrets`) as the EncryptionConfiguration
// and the apiserver's storage name it: the one key that ties scope, discovery and etcd paths together.
import { DomainError } from './errors.ts';

/** `group` '' is the core group; `resource` is the plural resource name (`*` in wildcards). */
export interface GroupResource {
  group: string;
  resource: string;
}

/** A resource name that cannot name a GroupResource (empty, or a subresource). */
export class InvalidGroupResourceError extends DomainError {
  override readonly name = 'InvalidGroupResourceError';
}

/**
 * Splits at the first dot, as the apiserver's schema.ParseGroupResource does: `secrets` is core,
 * `deployments.apps` is apps, `widgets.example.com` is example.com, `*.` is every core resource and
 * `*.*` every resource.
 */
export function parseGroupResource(text: string): GroupResource {
  const dot = text.indexOf('.');
  const resource = dot < 0 ? text : text.slice(0, dot);
  const group = dot < 0 ? '' : text.slice(dot + 1);
  if (!resource || resource.includes('/')) {
    throw new InvalidGroupResourceError(`"${text}" does not name a resource (plural[.group])`);
  }
  return { group, resource };
}

/** The inverse of parseGroupResource; the core wildcard is written `*.` as the apiserver does. */
export function formatGroupResource({ group, resource }: GroupResource): string {
  if (group === '') return resource === '*' ? '*.' : resource;
  return `${resource}.${group}`;
}

export function sameGroupResource(a: GroupResource, b: GroupResource): boolean {
  return a.group === b.group && a.resource === b.resource;
}

// The groups kube-apiserver serves from its own storage factory (Kubernetes 1.34,
// pkg/controlplane/instance.go and pkg/apis/*/register.go). authentication.k8s.io and
// authorization.k8s.io are listed because a CRD cannot take them, though their reviews are never
// stored. apiextensions.k8s.io and apiregistration.k8s.io are NOT here: the embedded
// apiextensions and aggregator servers store them like custom resources, group included.
const BUILT_IN_GROUPS: ReadonlySet<string> = new Set([
  '',
  'admissionregistration.k8s.io',
  'apps',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'autoscaling',
  'batch',
  'certificates.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'events.k8s.io',
  'extensions',
  'flowcontrol.apiserver.k8s.io',
  'internal.apiserver.k8s.io',
  'networking.k8s.io',
  'node.k8s.io',
  'policy',
  'rbac.authorization.k8s.io',
  'resource.k8s.io',
  'scheduling.k8s.io',
  'storage.k8s.io',
  'storagemigration.k8s.io',
]);

/** True for kube-apiserver's own groups, whose objects it stores without the group in the key. */
export function isBuiltInGroup(group: string): boolean {
  return BUILT_IN_GROUPS.has(group);
}
