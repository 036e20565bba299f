// What each identity infra/ creates must be able to do, what it must not, and its complete grant:
// the tables test/integration/infra-rbac.test.ts checks on a real apiserver. Each function has its
// own ServiceAccount; only rekey-reconcile lists and patches cluster-wide, because the trigger
// functions hand their steps to it (REKEY_STEP_MODE=delegate, shared/app/hand-off.ts).
// rekey's records (revision Secrets, the runner Lease) are in STATE_NS, so that no identity but
// reconcile (whose cluster-wide `list` is the rewrite) may read a Secret of NS, where the
// credentials are. The webhook's replay claims are in REPLAY_NS, the one namespace where the
// internet-facing webhook holds Lease verbs: RBAC cannot narrow them by name, and in STATE_NS they
// would let it take or delete the runner Lease.

export const NS = 'rekey-system';
export const STATE_NS = 'rekey-state';
/** The webhook's replay claims (REKEY_REPLAY_NAMESPACE on its Service). */
export const REPLAY_NS = 'rekey-replay';
/** The reconcile runner's Lease in STATE_NS, `rekey-<provider>` (one runner per provider). */
export const RUNNER_LEASE = 'rekey-sandbox-kms';
const LEASES = 'coordination.k8s.io';
/** The operator's Secrets in NS: mounted into the pods that need them, read by no identity. */
export const CREDENTIALS = ['rekey-credentials', 'rekey-etcd-client'];
const sa = (name: string) => `system:serviceaccount:${NS}:${name}`;
export const RECONCILE = sa('rekey-reconcile');
export const KMS_EVENT = sa('rekey-kms-event');
export const CLUSTER_EVENT = sa('rekey-cluster-event');
export const WEBHOOK = sa('rekey-webhook');
export const REPORTER = sa('rekey-key-id-reporter');
export const API_SOURCE = sa('rekey-apiserver-source');
/** The dead-letter sink runs as the namespace's default ServiceAccount (with no token mounted). */
export const DEFAULT_SA = sa('default');
/** A ServiceAccount nothing binds: what every ServiceAccount may do anyway. */
export const NOBODY = sa('rekey-infra-test-nobody');

/** The groups the apiserver gives a ServiceAccount token. */
export function groupsOf(user: string): string[] {
  const ns = user.split(':')[2];
  return ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'];
}

/** One question: `verb resource[/subresource] [group]` in a namespace ('' = all), or a URL. */
export type Ask =
  | { verb: string; resource: string; ns: string; group?: string; sub?: string; name?: string }
  | { verb: string; path: string };

const r = (verb: string, resource: string, ns: string, group = '', sub = ''): Ask => ({
  verb,
  resource,
  ns,
  group,
  sub,
});
const url = (verb: string, path: string): Ask => ({ verb, path });
const each = (verbs: string[], resource: string, ns: string, group = ''): Ask[] =>
  verbs.map((v) => r(v, resource, ns, group));
export const show = (a: Ask) =>
  'path' in a
    ? `${a.verb} ${a.path}`
    : `${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.sub ? `/${a.sub}` : ''}${a.name ? ` ${a.name}` : ''} in ${a.ns || 'all namespaces'}`;

/** Reading the operator's Secrets in NS: any Secret, and each credential Secret by name. */
export const READ_CREDENTIALS: Ask[] = [
  ...each(['get', 'list', 'watch'], 'secrets', NS),
  ...CREDENTIALS.flatMap((name) =>
    ['get', 'watch'].map((verb): Ask => ({ verb, resource: 'secrets', ns: NS, name })),
  ),
];

/** Nothing that runs code, reaches workloads or escalates: denied to every identity. */
const NEVER: Ask[] = [
  r('create', 'pods', NS, '', 'exec'),
  r('create', 'pods', 'team-a', '', 'exec'),
  r('get', 'pods', 'kube-system', '', 'log'),
  r('list', 'pods', 'team-a'),
  r('create', 'serviceaccounts', NS, '', 'token'),
  r('create', 'roles', NS, 'rbac.authorization.k8s.io'),
  r('create', 'rolebindings', NS, 'rbac.authorization.k8s.io'),
  r('create', 'clusterrolebindings', '', 'rbac.authorization.k8s.io'),
  r('escalate', 'clusterroles', '', 'rbac.authorization.k8s.io'),
  r('impersonate', 'users', ''),
  r('create', 'subjectaccessreviews', '', 'authorization.k8s.io'),
  r('get', 'nodes', '', '', 'proxy'),
  r('update', 'deployments', NS, 'apps'),
  r('patch', 'namespaces', ''),
  url('get', '/debug/pprof/profile'),
  url('get', '/logs/'),
];

/** The rewrite: cluster-wide metadata-only lists and no-op patches (reconcile's alone). */
const REWRITE: Ask[] = [
  r('list', 'secrets', ''),
  r('list', 'secrets', 'team-a'),
  r('patch', 'secrets', 'team-a'),
  r('patch', 'secrets', 'kube-system'),
  r('list', 'configmaps', ''),
  r('patch', 'configmaps', 'team-a'),
  // discovery: which API groups are aggregated (stored elsewhere), for the scope
  r('list', 'apiservices', '', 'apiregistration.k8s.io'),
];
/** Adoption: each apiserver's key_id metric, its KMS health check, who is live, and where each is. */
const ADOPTION: Ask[] = [
  url('get', '/metrics'),
  url('get', '/readyz/kms-providers'),
  r('list', 'leases', 'kube-system', 'coordination.k8s.io'),
  r('list', 'endpointslices', 'default', 'discovery.k8s.io'),
];
/** The apiservers' endpoints are read from `default` only, by listing: nothing more. */
const NOT_BEYOND_ENDPOINTS: Ask[] = [
  ...each(
    ['get', 'watch', 'create', 'update', 'delete'],
    'endpointslices',
    'default',
    'discovery.k8s.io',
  ),
  r('list', 'endpointslices', '', 'discovery.k8s.io'),
  r('list', 'endpointslices', 'kube-system', 'discovery.k8s.io'),
  r('list', 'endpointslices', 'team-a', 'discovery.k8s.io'),
  r('list', 'endpoints', 'default'),
];
const TOKENREVIEW = r('create', 'tokenreviews', '', 'authentication.k8s.io');
const SWITCHES = 'rekey.dev';
/** Reading the declared EncryptionSwitch and writing its status (reconcile's alone). */
const DRIVE_SWITCH: Ask[] = [
  r('get', 'encryptionswitches', '', SWITCHES),
  { verb: 'get', resource: 'encryptionswitches', ns: '', group: SWITCHES, name: 'cluster' },
  r('update', 'encryptionswitches', '', SWITCHES, 'status'),
];
/** Its spec is the operator's: never written, listed or watched by rekey. */
const SWITCH_BEYOND_DRIVING: Ask[] = [
  ...each(
    ['list', 'watch', 'create', 'update', 'patch', 'delete'],
    'encryptionswitches',
    '',
    SWITCHES,
  ),
  r('patch', 'encryptionswitches', '', SWITCHES, 'status'),
];

/** Replay claims: one Lease per webhook-id, created, read, renewed, released; each by its name. */
export const REPLAY_CLAIMS: Ask[] = each(
  ['create', 'get', 'update', 'delete'],
  'leases',
  REPLAY_NS,
  LEASES,
);

/** The runner Lease, and any Lease of STATE_NS: taking, renewing or deleting it. */
export const RUNNER_LEASE_WRITES: Ask[] = [
  ...['get', 'update', 'patch', 'delete'].map(
    (verb): Ask => ({ verb, resource: 'leases', ns: STATE_NS, group: LEASES, name: RUNNER_LEASE }),
  ),
  ...each(
    ['get', 'create', 'update', 'patch', 'delete', 'list', 'watch', 'deletecollection'],
    'leases',
    STATE_NS,
    LEASES,
  ),
];

export interface IdentityTable {
  who: string;
  user: string;
  allowed: Ask[];
  denied: Ask[];
}

export const TABLES: IdentityTable[] = [
  {
    who: 'reconcile (the only one that rewrites)',
    user: RECONCILE,
    allowed: [
      ...REWRITE,
      ...ADOPTION,
      // its own records in the state namespace: one runner per provider, revision Secrets
      // (created, read back, replaced, pruned)
      ...each(['get', 'create', 'update', 'delete'], 'leases', STATE_NS, 'coordination.k8s.io'),
      ...each(['create', 'get', 'list', 'update', 'delete'], 'secrets', STATE_NS),
      // the key-id reports, and each one's liveness Lease (by name)
      r('list', 'configmaps', NS),
      r('get', 'leases', NS, 'coordination.k8s.io'),
      // sender identity (components/sender-identity): TokenReviews of senders' tokens
      TOKENREVIEW,
      // the declared EncryptionSwitch: read it by name, report on its status subresource
      ...DRIVE_SWITCH,
    ],
    denied: [
      ...NEVER,
      ...SWITCH_BEYOND_DRIVING,
      // no new, replaced or deleted Secrets outside its state namespace
      ...each(['create', 'update', 'delete', 'deletecollection'], 'secrets', 'team-a'),
      ...each(['create', 'update', 'delete', 'deletecollection'], 'secrets', NS),
      r('create', 'secrets', 'kube-system'),
      r('create', 'secrets', 'default'),
      r('deletecollection', 'secrets', STATE_NS),
      r('watch', 'secrets', STATE_NS),
      // `get` and `watch` of other namespaces' Secrets are denied, BUT `list` (allowed above)
      // returns whole objects, data included: RBAC cannot limit a list to metadata. rekey only asks
      // for PartialObjectMetadataList (docs/architecture.md R4;
      // test/integration/rekey-rotation.test.ts checks its requests), the grant itself allows more.
      // Stated, not hidden: it covers rekey-system's credentials too.
      r('get', 'secrets', 'team-a'),
      r('watch', 'secrets', 'team-a'),
      r('watch', 'secrets', ''),
      ...READ_CREDENTIALS.filter((a) => a.verb !== 'list'),
      // ConfigMaps: no writes beyond the no-op patch, not even in its own namespace (reports are
      // the reporter's), and nothing in the state namespace but the cluster-wide list
      ...each(['create', 'update', 'delete'], 'configmaps', 'team-a'),
      ...each(['create', 'update', 'delete', 'get', 'watch'], 'configmaps', NS),
      ...each(['create', 'get'], 'configmaps', STATE_NS),
      // Leases: only its state namespace, and only `list` in kube-system
      ...each(['create', 'update', 'delete', 'list'], 'leases', NS, 'coordination.k8s.io'),
      ...each(['list', 'watch'], 'leases', STATE_NS, 'coordination.k8s.io'),
      ...each(
        ['get', 'create', 'update', 'delete', 'watch'],
        'leases',
        'kube-system',
        'coordination.k8s.io',
      ),
      ...each(['list', 'get', 'create'], 'leases', 'default', 'coordination.k8s.io'),
      // the webhook's replay claims are not its business
      ...each(['get', 'create', 'update', 'delete', 'list'], 'leases', REPLAY_NS, LEASES),
      ...NOT_BEYOND_ENDPOINTS,
    ],
  },
  {
    who: 'kms-event (records the rotation on the newest revision, then hands off)',
    user: KMS_EVENT,
    allowed: [
      ...each(['list', 'update'], 'secrets', STATE_NS),
      r('list', 'configmaps', NS),
      // the reports' liveness Leases, each by name
      r('get', 'leases', NS, 'coordination.k8s.io'),
      TOKENREVIEW,
    ],
    denied: [
      ...NEVER,
      ...REWRITE,
      ...ADOPTION,
      ...READ_CREDENTIALS,
      ...DRIVE_SWITCH,
      ...each(['update', 'create', 'delete', 'patch'], 'secrets', NS),
      ...each(['get', 'watch', 'create', 'delete', 'patch'], 'secrets', STATE_NS),
      ...each(['get', 'update', 'create'], 'configmaps', NS),
      r('list', 'configmaps', STATE_NS),
      ...each(['list', 'create', 'update'], 'leases', NS, 'coordination.k8s.io'),
      ...each(['get', 'create', 'update'], 'leases', STATE_NS, 'coordination.k8s.io'),
      ...each(['get', 'create', 'update'], 'leases', REPLAY_NS, LEASES),
    ],
  },
  {
    who: 'cluster-event (only hands off)',
    user: CLUSTER_EVENT,
    allowed: [TOKENREVIEW],
    denied: [
      ...NEVER,
      ...REWRITE,
      ...ADOPTION,
      ...READ_CREDENTIALS,
      ...DRIVE_SWITCH,
      ...each(['get', 'list', 'update'], 'secrets', STATE_NS),
      ...each(['get', 'list'], 'configmaps', NS),
      ...each(['get', 'create', 'update'], 'leases', NS, 'coordination.k8s.io'),
      ...each(['get', 'create', 'update'], 'leases', STATE_NS, 'coordination.k8s.io'),
      ...each(['get', 'create', 'update'], 'leases', REPLAY_NS, LEASES),
    ],
  },
  {
    who: 'webhook (status reads; replay claims; rotate is a cloud call; steps are handed off)',
    user: WEBHOOK,
    allowed: [
      r('list', 'secrets', STATE_NS),
      // replay claims, in their own namespace
      ...REPLAY_CLAIMS,
      ...ADOPTION,
    ],
    denied: [
      ...NEVER,
      ...REWRITE,
      ...READ_CREDENTIALS,
      ...DRIVE_SWITCH,
      // signatures, not sender tokens
      TOKENREVIEW,
      ...each(['get', 'watch', 'create', 'update', 'delete', 'patch'], 'secrets', STATE_NS),
      ...each(['get', 'list'], 'configmaps', NS),
      ...each(['get', 'create', 'update'], 'leases', NS, 'coordination.k8s.io'),
      // no Lease verb where the runner Lease is: it cannot take, renew or delete it
      ...RUNNER_LEASE_WRITES,
      // no list of the claims (nor watch): each is reached by its name
      ...each(['list', 'watch', 'deletecollection', 'patch'], 'leases', REPLAY_NS, LEASES),
      // nothing but Leases in the claims' namespace
      ...each(['get', 'list', 'create'], 'secrets', REPLAY_NS),
      ...each(['get', 'list', 'create'], 'configmaps', REPLAY_NS),
      ...NOT_BEYOND_ENDPOINTS,
    ],
  },
  {
    who: 'the key-id reporter (its report ConfigMaps and liveness Leases; in write mode, the configuration revisions)',
    user: REPORTER,
    allowed: [
      ...each(['get', 'create', 'update'], 'configmaps', NS),
      ...each(['get', 'create', 'update'], 'leases', NS, 'coordination.k8s.io'),
      // write mode (components/config-write): read the revisions, record the file as found
      ...each(['list', 'create'], 'secrets', STATE_NS),
    ],
    denied: [
      ...READ_CREDENTIALS,
      ...DRIVE_SWITCH,
      ...each(['list', 'watch', 'patch', 'delete'], 'configmaps', NS),
      ...each(['get', 'create', 'update'], 'configmaps', 'kube-system'),
      ...each(['get', 'create', 'update'], 'configmaps', 'default'),
      ...each(['get', 'create', 'update'], 'configmaps', STATE_NS),
      ...each(['get', 'list', 'create'], 'secrets', NS),
      // the revisions are listed and revision 1 created, nothing more: not rewritten, not pruned
      ...each(
        ['get', 'watch', 'update', 'patch', 'delete', 'deletecollection'],
        'secrets',
        STATE_NS,
      ),
      r('list', 'secrets', ''),
      ...each(['list', 'watch', 'delete'], 'leases', NS, 'coordination.k8s.io'),
      ...each(['get', 'create', 'update'], 'leases', 'kube-system', 'coordination.k8s.io'),
      r('list', 'leases', 'kube-system', 'coordination.k8s.io'),
      r('create', 'pods', NS, '', 'exec'),
      r('get', 'nodes', ''),
      url('get', '/metrics'),
      url('get', '/readyz/kms-providers'),
    ],
  },
  {
    who: 'the ApiServerSource adapter (revisions in rekey-state, reports in rekey-system)',
    user: API_SOURCE,
    allowed: [
      ...each(['get', 'list', 'watch'], 'secrets', STATE_NS),
      ...each(['get', 'list', 'watch'], 'configmaps', NS),
    ],
    denied: [
      ...READ_CREDENTIALS,
      ...DRIVE_SWITCH,
      ...each(['create', 'update', 'patch', 'delete'], 'secrets', STATE_NS),
      ...each(['create', 'update', 'patch', 'delete'], 'configmaps', NS),
      ...each(['get', 'list', 'watch'], 'configmaps', STATE_NS),
      r('list', 'secrets', ''),
      r('list', 'secrets', 'team-a'),
      r('watch', 'configmaps', 'kube-system'),
      r('list', 'namespaces', ''),
      r('create', 'pods', NS, '', 'exec'),
      url('get', '/metrics'),
    ],
  },
];

/**
 * Every identity a rekey install creates except reconcile: the internet-facing ones (kms-event,
 * webhook: the examples make them public), the other trigger (cluster-event), the event source's
 * adapter, the key-id reporter and the dead-letter sink. None may read a Secret of NS.
 */
export const NOT_REWRITERS: [string, string][] = [
  ['kms-event (internet-facing)', KMS_EVENT],
  ['webhook (internet-facing)', WEBHOOK],
  ['cluster-event', CLUSTER_EVENT],
  ['the ApiServerSource adapter', API_SOURCE],
  ['the key-id reporter', REPORTER],
  ['the dead-letter sink (default)', DEFAULT_SA],
];

// ---- the complete grant, per namespace, beyond what every ServiceAccount has ----

const rule = (verbs: string[], resource: string, group = '') =>
  verbs.map((v) => `${v} ${group}/${resource}`);
const TOKENREVIEWS = rule(['create'], 'tokenreviews', 'authentication.k8s.io');
const METRICS = ['get /metrics', 'get /readyz/kms-providers'];
const IDENTITY_LEASES = rule(['list'], 'leases', 'coordination.k8s.io');
const APISERVER_ENDPOINTS = rule(['list'], 'endpointslices', 'discovery.k8s.io');
const RECONCILE_EVERYWHERE = [
  ...rule(['list', 'patch'], 'secrets'),
  ...rule(['get'], 'encryptionswitches', 'rekey.dev'),
  ...rule(['update'], 'encryptionswitches/status', 'rekey.dev'),
  ...rule(['list', 'patch'], 'configmaps'),
  ...rule(['list'], 'apiservices', 'apiregistration.k8s.io'),
  ...TOKENREVIEWS,
  ...METRICS,
];
/**
 * The same grant in every namespace but NS and STATE_NS, which get their own (REPLAY_NS too: only
 * the webhook holds anything of its own there).
 */
const elsewhere = (everywhere: string[]) => ({
  [REPLAY_NS]: everywhere,
  'kube-system': everywhere,
  default: everywhere,
  'team-a': everywhere,
});
const only = (inNs: string[], inState: string[]) => ({
  [NS]: inNs,
  [STATE_NS]: inState,
  ...elsewhere([]),
});

/** user -> namespace -> every `verb group/resource` (or `verb URL`) granted there. */
export const EXPECTED: Record<string, Record<string, string[]>> = {
  [RECONCILE]: {
    [NS]: [
      ...RECONCILE_EVERYWHERE,
      ...rule(['list'], 'configmaps'),
      ...rule(['get'], 'leases', 'coordination.k8s.io'),
    ],
    [STATE_NS]: [
      ...RECONCILE_EVERYWHERE,
      ...rule(['get', 'list', 'create', 'update', 'delete'], 'secrets'),
      ...rule(['get', 'create', 'update', 'delete'], 'leases', 'coordination.k8s.io'),
    ],
    [REPLAY_NS]: RECONCILE_EVERYWHERE,
    'kube-system': [...RECONCILE_EVERYWHERE, ...IDENTITY_LEASES],
    default: [...RECONCILE_EVERYWHERE, ...APISERVER_ENDPOINTS],
    'team-a': RECONCILE_EVERYWHERE,
  },
  [KMS_EVENT]: {
    [NS]: [
      ...TOKENREVIEWS,
      ...rule(['list'], 'configmaps'),
      ...rule(['get'], 'leases', 'coordination.k8s.io'),
    ],
    [STATE_NS]: [...TOKENREVIEWS, ...rule(['list', 'update'], 'secrets')],
    ...elsewhere(TOKENREVIEWS),
  },
  [CLUSTER_EVENT]: { [NS]: TOKENREVIEWS, [STATE_NS]: TOKENREVIEWS, ...elsewhere(TOKENREVIEWS) },
  [WEBHOOK]: {
    [NS]: METRICS,
    // `status` reads the revisions; no Lease verb beside the runner Lease
    [STATE_NS]: [...METRICS, ...rule(['list'], 'secrets')],
    // the replay claims, and nothing else
    [REPLAY_NS]: [...METRICS, ...rule(['create', 'get', 'update', 'delete'], 'leases', LEASES)],
    'kube-system': [...METRICS, ...IDENTITY_LEASES],
    default: [...METRICS, ...APISERVER_ENDPOINTS],
    'team-a': METRICS,
  },
  [REPORTER]: only(
    [
      ...rule(['get', 'create', 'update'], 'configmaps'),
      ...rule(['get', 'create', 'update'], 'leases', 'coordination.k8s.io'),
    ],
    // write mode (components/config-write)
    rule(['list', 'create'], 'secrets'),
  ),
  [API_SOURCE]: only(
    rule(['get', 'list', 'watch'], 'configmaps'),
    rule(['get', 'list', 'watch'], 'secrets'),
  ),
  [DEFAULT_SA]: only([], []),
};
