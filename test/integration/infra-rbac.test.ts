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
import {
  type Ask,
  EXPECTED,
  groupsOf,
  NOBODY,
  show,
  TABLES,
} from '../support/infra/rbac-expectations.ts';
import { kubeConfig } from '../support/kube.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

const RBAC_KINDS = new Set([
  'ServiceAccount',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
]);

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

  for (const t of TABLES) {
    it(`${t.who}: can do what it calls`, () => expectAll(t.user, t.allowed, true));
    it(`${t.who}: cannot do more`, () => expectAll(t.user, t.denied, false));
  }

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
