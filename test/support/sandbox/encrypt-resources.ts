// Which resources a sandbox encrypts (`up --encrypt`), and which of them need a CRD installed.
// Pure: checks the list the way kube-apiserver checks an EncryptionConfiguration's `resources`
// (a bad list would otherwise surface as an apiserver that never gets ready, its reason buried in
// a log), and derives the CRD names for custom groups so a test can store objects of them.

/** What the sandbox encrypted before `--encrypt` existed, and still does by default. */
export const DEFAULT_ENCRYPT: readonly string[] = ['secrets', 'configmaps'];

/** A list entry kube-apiserver would reject, or a custom resource the sandbox cannot define. */
export class EncryptResourcesError extends Error {
  override name = 'EncryptResourcesError';
}

/** A `<plural>.<group>` of a non-built-in group, and the names its CRD gets. */
export interface CustomResourceName {
  /** `<plural>.<group>`: the CRD's metadata.name. */
  name: string;
  plural: string;
  group: string;
  singular: string;
  kind: string;
}

// Groups served by kube-apiserver itself whose name has no dot; every other built-in group ends
// in k8s.io. kubernetes.io is reserved like k8s.io: a CRD there needs an approval annotation.
const BARE_BUILT_IN_GROUPS = new Set(['', 'apps', 'autoscaling', 'batch', 'policy']);
const RESERVED_SUFFIXES = ['k8s.io', 'kubernetes.io'];
// Storage-only resources without a REST API: the apiserver refuses to encrypt them.
const NON_REST = new Set(['apiserveripinfo', 'serviceipallocations', 'servicenodeportallocations']);
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Splits at the first dot, as the apiserver's schema.ParseGroupResource does ('secrets' -> core). */
function splitGroupResource(entry: string): { resource: string; group: string } {
  const dot = entry.indexOf('.');
  return dot < 0
    ? { resource: entry, group: '' }
    : { resource: entry.slice(0, dot), group: entry.slice(dot + 1) };
}

function isDnsSubdomain(group: string): boolean {
  return group.length <= 253 && group.split('.').every((label) => DNS_1123_LABEL.test(label));
}

export function isBuiltInGroup(group: string): boolean {
  return (
    BARE_BUILT_IN_GROUPS.has(group) ||
    RESERVED_SUFFIXES.some((s) => group === s || group.endsWith(`.${s}`))
  );
}

function checkEntry(entry: string): string | undefined {
  if (entry === '') return 'empty entry';
  if (entry !== entry.toLowerCase()) return 'resource names are lowercase';
  if (entry === '*') return "use '*.' for every core resource or '*.*' for every resource";
  if (NON_REST.has(entry)) return 'it has no REST API, so the apiserver cannot encrypt it';
  const { resource, group } = splitGroupResource(entry);
  if (group === 'events.k8s.io') return "events are stored as core 'events': use that";
  if (group === 'extensions') return "the 'extensions' group has been removed";
  if (group === '*' && resource !== '*') return 'a resource cannot span groups; only *.* may';
  if (resource !== '*' && !DNS_1035_LABEL.test(resource)) {
    return `${JSON.stringify(resource)} is not a plural resource name (a DNS-1035 label)`;
  }
  if (group !== '' && group !== '*' && !isDnsSubdomain(group)) {
    return `${JSON.stringify(group)} is not an API group name (a DNS subdomain)`;
  }
  if (resource !== '*' && !isBuiltInGroup(group) && group !== '*' && !group.includes('.')) {
    return `${JSON.stringify(group)} is no built-in group, and a CRD's group needs a dot`;
  }
  return undefined;
}

/** Entries that mask one another, which the apiserver rejects within one `resources` list. */
function overlapping(entries: readonly string[]): string | undefined {
  const parsed = entries.map((e) => ({ e, ...splitGroupResource(e) }));
  for (const a of parsed) {
    for (const b of parsed) {
      if (a === b) continue;
      if (a.group === b.group && a.resource === b.resource) return `${a.e} is listed twice`;
      if (a.group === '*' || (a.group === b.group && a.resource === '*')) {
        return `${a.e} already covers ${b.e}: list only one of them`;
      }
    }
  }
  return undefined;
}

/**
 * The checked list, in order. Throws EncryptResourcesError naming each bad entry, because a list
 * the apiserver rejects would only show as an apiserver that never became ready.
 */
export function validateEncryptResources(entries: readonly string[]): string[] {
  if (entries.length === 0)
    throw new EncryptResourcesError('--encrypt needs at least one resource');
  const problems = entries.flatMap((e) => {
    const why = checkEntry(e);
    return why ? [`${JSON.stringify(e)}: ${why}`] : [];
  });
  const overlap = problems.length === 0 ? overlapping(entries) : undefined;
  if (overlap) problems.push(overlap);
  if (problems.length > 0) {
    throw new EncryptResourcesError(
      `invalid --encrypt list (${problems.join('; ')}); expected EncryptionConfiguration ` +
        "resource names such as secrets, configmaps, deployments.apps, widgets.example.com, '*.', " +
        "'*.apps' or '*.*'",
    );
  }
  return [...entries];
}

/** Parses the CLI's comma list (`secrets, configmaps` too) and validates it. */
export function parseEncryptList(value: string): string[] {
  return validateEncryptResources(value.split(',').map((s) => s.trim()));
}

/** An English plural's singular, enough for CRD names: widgets -> widget, policies -> policy. */
export function singularOf(plural: string): string {
  if (plural.endsWith('ies') && plural.length > 3) return `${plural.slice(0, -3)}y`;
  if (/(ss|x|z|ch|sh)es$/.test(plural)) return plural.slice(0, -2);
  if (plural.endsWith('s') && !plural.endsWith('ss') && plural.length > 1) {
    return plural.slice(0, -1);
  }
  return plural;
}

/**
 * The entries that name one resource of a group no apiserver serves by itself, so the sandbox
 * must define it as a CRD before objects of it can exist. Wildcards name no resource to define.
 */
export function customResourcesFor(entries: readonly string[]): CustomResourceName[] {
  return entries.flatMap((entry) => {
    const { resource: plural, group } = splitGroupResource(entry);
    if (plural === '*' || group === '*' || isBuiltInGroup(group)) return [];
    const singular = singularOf(plural);
    const kind = singular
      .split('-')
      .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
      .join('');
    return [{ name: `${plural}.${group}`, plural, group, singular, kind }];
  });
}
