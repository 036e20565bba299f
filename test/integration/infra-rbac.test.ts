// Least privilege, proven on a real kube-apiserver running RBAC (issue 6). The RBAC objects of
// `kubectl kustomize` (infra/base with the sender-identity and the config-write components, i.e.
// the most rekey is ever granted) are installed in a sandbox; then, for each identity a rekey
// install creates:
//   - SubjectAccessReviews check, table-driven, what it must be able to do and what it must not;
//   - SelfSubjectRulesReviews (impersonating it) list EVERYTHING it may do in several namespaces,
//     and that list, minus what every ServiceAccount may do anyway (discovery, self-reviews, public
//     info), must be exactly what infra/ means to grant: "cannot do more" for all verbs and
//     resources, not only for the ones a table thought of;
//   - no identity but reconcile (whose cluster-wide `list` is the rewrite) may read a Secret of
//     rekey-system, where the operator's credentials are: rekey's records are in rekey-state;
//   - the internet-facing webhook holds Lease verbs only in rekey-replay, where its replay claims
//     are, so it can neither take nor delete the runner Lease in rekey-state.
// And, on every kustomize build: only the reconcile function's pod mounts the etcd client Secret
// or sees the REKEY_ETCD_* settings; only kms-event and webhook take rekey-credentials (each its
// own key), through the kubelet, not the API.
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
  ofKind,
  run,
  type Subject,
  specOf,
  type WithPodTemplate,
} from '../support/infra/manifests.ts';
import {
  type Ask,
  CREDENTIALS,
  EXPECTED,
  groupsOf,
  NOBODY,
  NOT_REWRITERS,
  NS,
  READ_CREDENTIALS,
  RECONCILE,
  REPLAY_CLAIMS,
  RUNNER_LEASE_WRITES,
  show,
  TABLES,
  WEBHOOK,
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
  const rbac: Manifest[] = [];
  /** Every build (base, overlays, base + each component): name -> objects. */
  const builds = new Map<string, Manifest[]>();

  before(async () => {
    sb = await startSandbox();
    const kc = kubeConfig(sb.env);
    authz = kc.makeApiClient(AuthorizationV1Api);
    const built = buildTargets();
    cleanup = built.cleanup;
    for (const t of built.targets) {
      builds.set(t.name, kustomize(sb.env.binaries.kubectl as string, t.dir).objects);
    }
    // the grants of every component that adds RBAC, each built onto the base, once each
    const granting = ['base + components/sender-identity', 'base + components/config-write'];
    const seen = new Set<string>();
    for (const name of granting) {
      assert.ok(builds.has(name), `${name} is built`);
      for (const o of builds.get(name) ?? []) {
        const key = `${o.kind} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
        if (!RBAC_KINDS.has(o.kind ?? '') || seen.has(key)) continue;
        seen.add(key);
        rbac.push(o);
      }
    }
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
              ...(a.name ? { name: a.name } : {}),
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

  it('the webhook cannot take, renew or delete the runner Lease: its replay claims are Leases in rekey-replay', async () => {
    await expectAll(WEBHOOK, RUNNER_LEASE_WRITES, false);
    await expectAll(WEBHOOK, REPLAY_CLAIMS, true);
  });

  it("no identity but reconcile may read a Secret of rekey-system (the operator's credentials)", async () => {
    for (const [who, user] of NOT_REWRITERS) {
      const can: string[] = [];
      for (const a of READ_CREDENTIALS) if (await allowed(user, a)) can.push(show(a));
      assert.deepEqual(can, [], `${who} CAN: ${can.join('; ')}`);
    }
    // reconcile: its cluster-wide metadata-only `list` (the rewrite) covers rekey-system too, and
    // RBAC cannot exclude a namespace from it; `get` and `watch` of the credentials it is denied
    const reconcileCan: string[] = [];
    for (const a of READ_CREDENTIALS) if (await allowed(RECONCILE, a)) reconcileCan.push(show(a));
    assert.deepEqual(reconcileCan, [`list secrets in ${NS}`]);
  });

  it('only the reconcile pod mounts the etcd client Secret or sees REKEY_ETCD_*; rekey-credentials reaches kms-event and webhook only', () => {
    assert.ok(builds.has('base + components/etcd-verification'), [...builds.keys()].join(', '));
    for (const [build, objects] of builds) {
      const configMaps = new Map(
        ofKind(objects, 'ConfigMap').map((c) => [c.metadata?.name ?? '', c.data ?? {}]),
      );
      const etcdMounts: string[] = [];
      const etcdSettings: string[] = [];
      const credentials: string[] = [];
      for (const o of objects) {
        const template = (o.spec as Partial<WithPodTemplate> | undefined)?.template;
        if (!template?.spec?.containers) continue;
        const pod = specOf<WithPodTemplate>(o).template.spec as PodSecrets;
        const name = o.metadata?.name ?? '';
        for (const secret of secretsOf(pod)) {
          if (secret.name === 'rekey-etcd-client') etcdMounts.push(name);
          if (secret.name === 'rekey-credentials') credentials.push(`${name}:${secret.key}`);
        }
        for (const c of pod.containers) {
          const keys = [
            ...(c.env ?? []).map((e) => e.name),
            ...(c.envFrom ?? []).flatMap((f) =>
              Object.keys(configMaps.get(f.configMapRef?.name ?? '') ?? {}),
            ),
          ];
          if (keys.some((k) => k.startsWith('REKEY_ETCD_'))) etcdSettings.push(name);
        }
      }
      const etcd = build === 'base + components/etcd-verification' ? ['rekey-reconcile'] : [];
      assert.deepEqual(etcdMounts, etcd, `${build}: pods mounting rekey-etcd-client`);
      assert.deepEqual(etcdSettings, etcd, `${build}: pods with REKEY_ETCD_* settings`);
      // kms-event takes its shared secrets only when made public
      const takers =
        build === 'base + components/public-kms-event'
          ? [
              'rekey-kms-event:eventbridge-token',
              'rekey-kms-event:eventgrid-token',
              'rekey-webhook:webhook-secrets',
            ]
          : ['rekey-webhook:webhook-secrets'];
      assert.deepEqual(
        credentials.sort(),
        takers,
        `${build}: who takes rekey-credentials, and which key`,
      );
      // and the credentials are Secrets the operator creates in rekey-system, not in the build
      for (const c of CREDENTIALS) {
        assert.equal(
          objects.some((o) => o.kind === 'Secret' && o.metadata?.name === c),
          false,
          `${build}: ${c} is the operator's`,
        );
      }
    }
  });

  it('kms-event is declared private exactly when it is cluster-local: no build leaves /kms-event open to senders outside the cluster', () => {
    assert.ok(builds.has('base + components/public-kms-event'), [...builds.keys()].join(', '));
    for (const [build, objects] of builds) {
      const kmsEvent = objects.find(
        (o) => o.kind === 'Service' && o.metadata?.name === 'rekey-kms-event',
      );
      assert.ok(kmsEvent, `${build}: has rekey-kms-event`);
      const labels = (kmsEvent.metadata as { labels?: Record<string, string> }).labels ?? {};
      const clusterLocal = labels['networking.knative.dev/visibility'] === 'cluster-local';
      const env = (specOf<WithPodTemplate>(kmsEvent).template.spec as PodSecrets).containers[0]
        ?.env as { name: string; value?: string }[] | undefined;
      const declaredPrivate = (env ?? []).some(
        (e) => e.name === 'REKEY_KMS_EVENT_PRIVATE' && e.value === 'true',
      );
      assert.equal(declaredPrivate, clusterLocal, `${build}: private setting vs visibility label`);
      const publicBuild = build === 'base + components/public-kms-event';
      assert.equal(clusterLocal, !publicBuild, `${build}: only the public component exposes it`);
    }
  });

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

/** The parts of a pod spec that name Secrets. */
interface PodSecrets {
  containers: {
    env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
    envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  }[];
  volumes?: {
    secret?: { secretName?: string };
    projected?: { sources?: { secret?: { name?: string } }[] };
  }[];
}

/** Every Secret a pod spec takes, by volume, projected volume, env or envFrom (key `*`: all). */
function secretsOf(pod: PodSecrets): { name: string; key: string }[] {
  const out: { name: string; key: string }[] = [];
  for (const v of pod.volumes ?? []) {
    if (v.secret?.secretName) out.push({ name: v.secret.secretName, key: '*' });
    for (const p of v.projected?.sources ?? []) {
      if (p.secret?.name) out.push({ name: p.secret.name, key: '*' });
    }
  }
  for (const c of pod.containers) {
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) out.push({ name: ref.name, key: ref.key });
    }
    for (const f of c.envFrom ?? [])
      if (f.secretRef) out.push({ name: f.secretRef.name, key: '*' });
  }
  return out;
}
