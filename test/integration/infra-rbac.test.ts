// Least privilege, proven on a real kube-apiserver running RBAC (issue 6). The RBAC objects of
// `kubectl kustomize` (infra/base with the sender-identity component, i.e. the most rekey is ever
// granted) are installed in a sandbox; then, for each identity a rekey install creates:
//   - SubjectAccessReviews check, table-driven, what it must be able to do and what it must not;
//   - SelfSubjectRulesReviews (impersonating it) list EVERYTHING it may do in several namespaces,
//     and that list, minus what every ServiceAccount may do anyway (discovery, self-reviews, public
//     info), must be exactly what infra/ means to grant: "cannot do more" for all verbs and
//     resources, not only for the ones a table thought of.
// Identities are checked as the ServiceAccounts the roles are bound to, with the groups the
// apiserver gives a ServiceAccount token.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AuthorizationV1Api,
  type KubernetesObject,
  KubernetesObjectApi,
  type V1ResourceAttributes,
} from '@kubernetes/client-node';
import {
  buildTargets,
  describeRun,
  kustomize,
  type Manifest,
  run,
  type Subject,
} from '../support/infra/manifests.ts';
import { kubeConfig } from '../support/kube.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

const NS = 'rekey-system';
const REKEY = `system:serviceaccount:${NS}:rekey`;
const REPORTER = `system:serviceaccount:${NS}:rekey-key-id-reporter`;
const API_SOURCE = `system:serviceaccount:${NS}:rekey-apiserver-source`;
/** The dead-letter sink runs as the namespace's default ServiceAccount (with no token mounted). */
const DEFAULT_SA = `system:serviceaccount:${NS}:default`;
/** A ServiceAccount nothing binds: what every ServiceAccount may do anyway. */
const NOBODY = `system:serviceaccount:${NS}:rekey-infra-test-nobody`;
const RBAC_KINDS = new Set([
  'ServiceAccount',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
]);

function groupsOf(user: string): string[] {
  const ns = user.split(':')[2];
  return ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'];
}

/** One question: `verb resource[/subresource] [group]` in a namespace ('' = all), or a URL. */
type Ask =
  | { verb: string; resource: string; ns: string; group?: string; sub?: string; why?: string }
  | { verb: string; path: string; why?: string };

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
const show = (a: Ask) =>
  'path' in a
    ? `${a.verb} ${a.path}`
    : `${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.sub ? `/${a.sub}` : ''} in ${a.ns || 'all namespaces'}`;

// ---- what each identity must be able to do, and what it must not ----

const REKEY_ALLOWED: Ask[] = [
  // the rewrite, cluster-wide: metadata-only lists and no-op patches
  r('list', 'secrets', ''),
  r('list', 'secrets', 'team-a'),
  r('patch', 'secrets', 'team-a'),
  r('patch', 'secrets', 'kube-system'),
  r('list', 'configmaps', ''),
  r('patch', 'configmaps', 'team-a'),
  // adoption: each apiserver's key_id metric, and hurrying its KMS health check
  url('get', '/metrics'),
  url('get', '/readyz/kms-providers'),
  // who is live: the apiserver identity Leases
  r('list', 'leases', 'kube-system', 'coordination.k8s.io'),
  // its own state: one runner per provider, revision Secrets (created, pruned), key-id reports
  ...each(['get', 'create', 'update', 'delete'], 'leases', NS, 'coordination.k8s.io'),
  ...each(['create', 'get', 'list', 'watch', 'update', 'delete'], 'secrets', NS),
  ...each(['get', 'list', 'watch'], 'configmaps', NS),
  // sender identity (components/sender-identity): TokenReviews of senders' tokens
  r('create', 'tokenreviews', '', 'authentication.k8s.io'),
];

const REKEY_DENIED: Ask[] = [
  // no new, replaced or deleted Secrets outside its namespace
  ...each(['create', 'update', 'delete', 'deletecollection'], 'secrets', 'team-a'),
  r('create', 'secrets', 'kube-system'),
  r('create', 'secrets', 'default'),
  r('deletecollection', 'secrets', NS),
  // `get` and `watch` of other namespaces' Secrets are denied, BUT `list` (allowed above)
  // returns whole objects, data included: RBAC cannot limit a list to metadata. rekey only ever
  // asks for PartialObjectMetadataList (DESIGN rule 3; test/integration/rekey-rotation.test.ts
  // checks its requests), the grant itself allows more. Stated, not hidden.
  r('get', 'secrets', 'team-a'),
  r('watch', 'secrets', 'team-a'),
  r('watch', 'secrets', ''),
  // ConfigMaps: no writes beyond the no-op patch, not even in its own namespace (reports are
  // the reporter's)
  ...each(['create', 'update', 'delete'], 'configmaps', 'team-a'),
  ...each(['create', 'update', 'delete'], 'configmaps', NS),
  // Leases: only its own namespace, and only `list` in kube-system
  ...each(
    ['get', 'create', 'update', 'delete', 'watch'],
    'leases',
    'kube-system',
    'coordination.k8s.io',
  ),
  ...each(['list', 'get', 'create'], 'leases', 'default', 'coordination.k8s.io'),
  // nothing that runs code or reaches workloads, nothing that escalates
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

const REPORTER_ALLOWED: Ask[] = each(['get', 'create', 'update'], 'configmaps', NS);
const REPORTER_DENIED: Ask[] = [
  ...each(['list', 'watch', 'patch', 'delete'], 'configmaps', NS),
  ...each(['get', 'create', 'update'], 'configmaps', 'kube-system'),
  ...each(['get', 'create', 'update'], 'configmaps', 'default'),
  ...each(['get', 'list', 'create'], 'secrets', NS),
  r('list', 'secrets', ''),
  ...each(['get', 'create', 'update'], 'leases', NS, 'coordination.k8s.io'),
  r('list', 'leases', 'kube-system', 'coordination.k8s.io'),
  r('create', 'pods', NS, '', 'exec'),
  r('get', 'nodes', ''),
  url('get', '/metrics'),
  url('get', '/readyz/kms-providers'),
];

const SOURCE_ALLOWED: Ask[] = [
  ...each(['get', 'list', 'watch'], 'secrets', NS),
  ...each(['get', 'list', 'watch'], 'configmaps', NS),
];
const SOURCE_DENIED: Ask[] = [
  ...each(['create', 'update', 'patch', 'delete'], 'secrets', NS),
  ...each(['create', 'update', 'patch', 'delete'], 'configmaps', NS),
  r('list', 'secrets', ''),
  r('list', 'secrets', 'team-a'),
  r('watch', 'configmaps', 'kube-system'),
  r('list', 'namespaces', ''),
  r('create', 'pods', NS, '', 'exec'),
  url('get', '/metrics'),
];

// ---- the complete grant, per namespace, beyond what every ServiceAccount has ----

const rule = (verbs: string[], resource: string, group = '') =>
  verbs.map((v) => `${v} ${group}/${resource}`);
const REKEY_EVERYWHERE = [
  ...rule(['list', 'patch'], 'secrets'),
  ...rule(['list', 'patch'], 'configmaps'),
  ...rule(['create'], 'tokenreviews', 'authentication.k8s.io'),
  'get /metrics',
  'get /readyz/kms-providers',
];
const EXPECTED: Record<string, Record<string, string[]>> = {
  [REKEY]: {
    [NS]: [
      ...REKEY_EVERYWHERE,
      ...rule(['get', 'list', 'watch', 'create', 'update', 'delete'], 'secrets'),
      ...rule(['get', 'create', 'update', 'delete'], 'leases', 'coordination.k8s.io'),
      ...rule(['get', 'list', 'watch'], 'configmaps'),
    ],
    'kube-system': [...REKEY_EVERYWHERE, ...rule(['list'], 'leases', 'coordination.k8s.io')],
    default: REKEY_EVERYWHERE,
    'team-a': REKEY_EVERYWHERE,
  },
  [REPORTER]: {
    [NS]: rule(['get', 'create', 'update'], 'configmaps'),
    'kube-system': [],
    default: [],
    'team-a': [],
  },
  [API_SOURCE]: {
    [NS]: [
      ...rule(['get', 'list', 'watch'], 'configmaps'),
      ...rule(['get', 'list', 'watch'], 'secrets'),
    ],
    'kube-system': [],
    default: [],
    'team-a': [],
  },
  [DEFAULT_SA]: { [NS]: [], 'kube-system': [], default: [], 'team-a': [] },
};

interface RulesReview {
  status?: {
    incomplete?: boolean;
    evaluationError?: string;
    resourceRules?: {
      verbs: string[];
      apiGroups?: string[];
      resources?: string[];
      resourceNames?: string[];
    }[];
    nonResourceRules?: { verbs: string[]; nonResourceURLs?: string[] }[];
  };
}

describe('least privilege of every identity infra/ creates, proven on a real apiserver', () => {
  let sb: TestSandbox;
  let authz: AuthorizationV1Api;
  let cleanup = () => {};
  let cacheDir = '';
  let rbac: Manifest[] = [];

  before(async () => {
    sb = await startSandbox();
    const kc = kubeConfig(sb.env);
    authz = kc.makeApiClient(AuthorizationV1Api);
    const built = buildTargets();
    cleanup = built.cleanup;
    const target = built.targets.find((t) => t.name === 'base + components/sender-identity');
    assert.ok(target, 'the sender-identity component is built onto the base');
    rbac = kustomize(sb.env.binaries.kubectl as string, target.dir).objects.filter((o) =>
      RBAC_KINDS.has(o.kind ?? ''),
    );
    // `up` already created infra/base's top-level RBAC (adding the sandbox's token users to the
    // bindings); create the rest exactly as built.
    const api = KubernetesObjectApi.makeApiClient(kc);
    for (const o of rbac) {
      try {
        await api.create(o as KubernetesObject);
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
      }
    }
    cacheDir = mkdtempSync(join(tmpdir(), 'rekey-kubectl-cache-'));
  });
  after(async () => {
    cleanup();
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
    await sb?.stop();
  });

  async function allowed(user: string, a: Ask): Promise<boolean> {
    const spec =
      'path' in a
        ? { nonResourceAttributes: { verb: a.verb, path: a.path } }
        : {
            resourceAttributes: {
              verb: a.verb,
              resource: a.resource,
              group: a.group ?? '',
              ...(a.sub ? { subresource: a.sub } : {}),
              ...(a.ns ? { namespace: a.ns } : {}),
            } satisfies V1ResourceAttributes,
          };
    const review = await authz.createSubjectAccessReview({
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user, groups: groupsOf(user), ...spec },
      },
    });
    return review.status?.allowed === true;
  }

  async function expectAll(user: string, asks: Ask[], want: boolean): Promise<void> {
    const wrong: string[] = [];
    for (const a of asks) if ((await allowed(user, a)) !== want) wrong.push(show(a));
    assert.deepEqual(wrong, [], `${user} ${want ? 'cannot' : 'CAN'}: ${wrong.join('; ')}`);
  }

  /** Everything `user` may do in `ns` (SelfSubjectRulesReview, impersonated), as `verb group/resource`. */
  function rulesOf(user: string, ns: string): Set<string> {
    const res = run(
      sb.env.binaries.kubectl as string,
      [
        '--kubeconfig',
        sb.env.kubeconfig,
        '--cache-dir',
        cacheDir,
        'create',
        // client-side validation would need CRD access the impersonated identity lacks
        '--validate=false',
        '-f',
        '-',
        '-o',
        'json',
        `--as=${user}`,
        ...groupsOf(user).map((g) => `--as-group=${g}`),
      ],
      JSON.stringify({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectRulesReview',
        spec: { namespace: ns },
      }),
    );
    assert.equal(res.status, 0, describeRun(`SelfSubjectRulesReview for ${user} in ${ns}`, res));
    const { status } = JSON.parse(res.stdout) as RulesReview;
    assert.ok(
      status && !status.incomplete,
      `incomplete rules for ${user}: ${status?.evaluationError}`,
    );
    const out = new Set<string>();
    for (const rr of status.resourceRules ?? []) {
      for (const v of rr.verbs) {
        for (const g of rr.apiGroups ?? ['']) {
          for (const res of rr.resources ?? []) {
            const names = rr.resourceNames?.length ? `#${rr.resourceNames.join(',')}` : '';
            out.add(`${v} ${g}/${res}${names}`);
          }
        }
      }
    }
    for (const nr of status.nonResourceRules ?? []) {
      for (const v of nr.verbs) for (const u of nr.nonResourceURLs ?? []) out.add(`${v} ${u}`);
    }
    return out;
  }

  it('installed the RBAC exactly as built (the sandbox only adds its token users to bindings)', async () => {
    const api = KubernetesObjectApi.makeApiClient(kubeConfig(sb.env));
    assert.ok(rbac.length >= 15, `only ${rbac.length} RBAC objects built`);
    for (const o of rbac) {
      const live = (await api.read(
        o as KubernetesObject & { metadata: { name: string } },
      )) as unknown as Manifest;
      const at = `${o.kind} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
      if (o.rules) {
        assert.deepEqual(JSON.parse(JSON.stringify(live.rules)), o.rules, at);
      }
      if (o.roleRef) {
        assert.deepEqual(JSON.parse(JSON.stringify(live.roleRef)), o.roleRef, at);
        const has = (s: Subject) =>
          live.subjects?.some(
            (l) =>
              l.kind === s.kind && l.name === s.name && (l.namespace ?? '') === (s.namespace ?? ''),
          );
        for (const s of o.subjects ?? []) assert.ok(has(s), `${at}: subject ${s.kind} ${s.name}`);
        assert.ok(
          (live.subjects ?? []).every(
            (l) =>
              l.kind === 'User' || o.subjects?.some((s) => s.kind === l.kind && s.name === l.name),
          ),
          `${at}: no subject beyond the built ones and the sandbox's users`,
        );
      }
    }
  });

  it("rekey's ServiceAccount can do what the functions call", () =>
    expectAll(REKEY, REKEY_ALLOWED, true));
  it("rekey's ServiceAccount cannot do more: no Secret create/replace/delete outside rekey-system, no exec, no escalation", () =>
    expectAll(REKEY, REKEY_DENIED, false));

  it('the key-id reporter can get, create and update ConfigMaps in rekey-system', () =>
    expectAll(REPORTER, REPORTER_ALLOWED, true));
  it('the key-id reporter can do nothing else', () => expectAll(REPORTER, REPORTER_DENIED, false));

  it('the ApiServerSource adapter can read (get/list/watch) Secrets and ConfigMaps in rekey-system', () =>
    expectAll(API_SOURCE, SOURCE_ALLOWED, true));
  it('the ApiServerSource adapter can write nothing and read nothing elsewhere', () =>
    expectAll(API_SOURCE, SOURCE_DENIED, false));

  it('the complete grant of each identity, beyond what every ServiceAccount may do, is exactly the intended one', () => {
    for (const [user, byNs] of Object.entries(EXPECTED)) {
      for (const [ns, want] of Object.entries(byNs)) {
        const baseline = rulesOf(NOBODY, ns);
        assert.ok(baseline.size > 0, 'the baseline (discovery, self-reviews) is not empty');
        const granted = [...rulesOf(user, ns)].filter((x) => !baseline.has(x)).sort();
        assert.deepEqual(granted, [...new Set(want)].sort(), `${user} in ${ns}`);
      }
    }
  });
});
