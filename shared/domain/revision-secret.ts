// Which listed object is rekey's own write while it rewrites a resource: the Secret in its state
// namespace that stores the revision being migrated (a key_id revision, or a provider switch's
// `write` revision). Each checkpoint save writes that Secret under the current key anyway, so a
// patch would only race the save; it is counted as a conflict instead. Only that Secret: a
// ConfigMap, or an object of any other resource, with the same namespace and name is the user's,
// and is rewritten like the rest. One test for both migrations, so they cannot disagree.

/**
 * Whether `ref`, listed as `resource`, is the Secret `revision` names. No namespace (rekey's
 * revisions are not kept in the cluster): nothing is.
 */
export function isRevisionSecret(
  resource: string,
  ref: { namespace: string; name: string },
  revision: { namespace?: string | undefined; name: string },
): boolean {
  return (
    resource === 'secrets' &&
    revision.namespace !== undefined &&
    ref.namespace === revision.namespace &&
    ref.name === revision.name
  );
}
