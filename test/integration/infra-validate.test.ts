// infra/ validated for real (issue 6). Every object of the base, of each overlay and of each
// component composed onto the base goes through `kubectl apply --dry-run=server --validate=strict`
// on a real kube-apiserver with Knative's own CRDs installed, so their OpenAPI schemas (and the
// built-in kinds' validation: RBAC, APF, DaemonSet) judge every field; negative controls show the
// dry run does refuse a bad field. What no dry run can see, because no Knative controller runs
// here to resolve it (Triggers pointing at Services, sources at the Broker, policies at senders,
// settings the functions require), is checked on the kustomize output. Every file under infra/
// parses.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type BuildTarget,
  buildTargets,
  type Container,
  describeRun,
  type EventPolicySpec,
  filesUnder,
  INFRA_DIR,
  KNATIVE_CRDS_DIR,
  kubectlName,
  kustomize,
  type Manifest,
  ofKind,
  parseYamlDocs,
  REPO_DIR,
  resolve,
  run,
  type SourceSpec,
  specOf,
  type TriggerSpec,
  type WithPodTemplate,
} from '../support/infra/manifests.ts';
import { ensureBinaries } from '../support/sandbox/build.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

const NS = 'rekey-system';
const SERVING = 'serving.knative.dev';

/** The four functions: their Service, and the paths their routes serve (functions/<f>/route.ts). */
const FUNCTIONS: Record<string, { service: string; paths: string[] }> = {
  reconcile: { service: 'rekey-reconcile', paths: ['/reconcile'] },
  'cluster-event': { service: 'rekey-cluster-event', paths: ['/cluster-event'] },
  'kms-event': { service: 'rekey-kms-event', paths: ['/kms-event', '/kms-event/eventbridge'] },
  webhook: { service: 'rekey-webhook', paths: ['/webhook'] },
};

/** Which function each consumed event type must reach, in every build and per overlay. */
const ROUTES_ALWAYS: Record<string, string> = {
  'dev.knative.sources.ping': 'reconcile',
  'dev.rekey.migration.slice': 'reconcile',
  'dev.rekey.step.requested': 'reconcile',
  'dev.knative.apiserver.ref.add': 'cluster-event',
  'dev.knative.apiserver.ref.update': 'cluster-event',
  'dev.knative.apiserver.ref.delete': 'cluster-event',
};
const ROUTES_BY_OVERLAY: Record<string, Record<string, string>> = {
  'overlays/aws': {
    'com.amazon.events.event': 'kms-event',
    'dev.knative.connector.event.aws-sqs': 'kms-event',
  },
  'overlays/gcp': { 'google.cloud.audit.log.v1.written': 'kms-event' },
};

/** YAML documents that are configuration files, not API objects: no metadata.name. */
const CONFIG_KINDS = new Set(['EncryptionConfiguration']);

/** ISO 8601 durations as Knative takes them (PT2S, PT1M30S). */
function seconds(iso: string | undefined): number {
  const m = /^PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(iso ?? '');
  assert.ok(m && (m[1] || m[2]), `not an ISO 8601 duration of minutes/seconds: ${iso}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

/** Knative's OIDC identity of a Trigger (knative.dev/eventing pkg/auth, kmeta.ChildName). */
function triggerIdentity(trigger: string): string {
  const sa = `${trigger}-oidc-eventing.knative.dev-trigger`;
  assert.ok(sa.length <= 63, `Trigger ${trigger}: its OIDC ServiceAccount name would be hashed`);
  return `system:serviceaccount:${NS}:${sa}`;
}

function settings(objects: Manifest[]): Record<string, string> {
  const cms = ofKind(objects, 'ConfigMap').filter((c) =>
    c.metadata?.name?.startsWith('rekey-settings-'),
  );
  assert.equal(cms.length, 1, 'one generated rekey-settings ConfigMap');
  return (cms[0] as Manifest).data ?? {};
}

function functionServices(objects: Manifest[]): Manifest[] {
  return ofKind(objects, 'Service', SERVING).filter((s) =>
    /^functions\/[^/]+\/main\.ts$/.test(
      specOf<WithPodTemplate>(s).template.spec.containers[0]?.command?.[1] ?? '',
    ),
  );
}

function envOf(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

function assertLockedDown(what: string, c: Container): void {
  const sc = c.securityContext;
  assert.equal(sc?.allowPrivilegeEscalation, false, `${what}: allowPrivilegeEscalation false`);
  assert.equal(sc?.readOnlyRootFilesystem, true, `${what}: readOnlyRootFilesystem`);
  assert.ok(sc?.capabilities?.drop?.includes('ALL'), `${what}: drops ALL capabilities`);
  assert.ok(!sc?.capabilities?.add?.length, `${what}: adds no capability`);
  assert.notEqual(sc?.privileged, true, `${what}: not privileged`);
  assert.ok(c.resources?.limits?.memory, `${what}: has a memory limit`);
  assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${what}: has requests`);
}

describe('infra/ files', () => {
  it('every YAML file parses, and every object names apiVersion, kind and metadata.name', () => {
    const files = filesUnder(INFRA_DIR, ['.yaml', '.yml']);
    assert.ok(files.length >= 25, `found only ${files.length} YAML files under infra/`);
    for (const f of files) {
      const where = relative(REPO_DIR, f);
      let docs: unknown[] = [];
      assert.doesNotThrow(() => {
        docs = parseYamlDocs(readFileSync(f, 'utf8'));
      }, `${where} does not parse`);
      assert.ok(docs.length > 0, `${where} has no YAML document`);
      for (const [i, doc] of docs.entries()) {
        const at = `${where} document ${i + 1}`;
        assert.ok(doc && typeof doc === 'object' && !Array.isArray(doc), `${at}: not a mapping`);
        const o = doc as Manifest & Record<string, unknown>;
        if (basename(f) === 'kustomization.yaml') {
          // kustomize files: infra/base's has no kind on purpose (see the comment in it)
          assert.ok(
            o.resources || o.components || o.patches || o.configMapGenerator,
            `${at}: a kustomization that lists nothing`,
          );
          assert.ok(
            o.kind === undefined || o.kind === 'Kustomization' || o.kind === 'Component',
            `${at}: kind ${o.kind}`,
          );
        } else if (basename(dirname(f)) === 'kustomizeconfig') {
          assert.ok(o.nameReference, `${at}: a kustomize transformer configuration`);
        } else {
          assert.equal(typeof o.apiVersion, 'string', `${at}: apiVersion`);
          assert.equal(typeof o.kind, 'string', `${at}: kind`);
          if (!CONFIG_KINDS.has(o.kind as string)) {
            assert.equal(typeof o.metadata?.name, 'string', `${at}: metadata.name`);
            assert.ok((o.metadata?.name ?? '').length > 0, `${at}: metadata.name`);
          }
        }
      }
    }
  });

  it('every JSON file parses and every shell example passes `sh -n`', () => {
    const json = filesUnder(INFRA_DIR, ['.json']);
    assert.ok(json.length > 0);
    for (const f of json) {
      assert.doesNotThrow(() => JSON.parse(readFileSync(f, 'utf8')), relative(REPO_DIR, f));
    }
    const sh = filesUnder(INFRA_DIR, ['.sh']);
    assert.ok(sh.length >= 3);
    for (const f of sh) {
      const r = run('sh', ['-n', f]);
      assert.equal(r.status, 0, describeRun(`sh -n ${relative(REPO_DIR, f)}`, r));
    }
  });

  it('the EncryptionConfiguration examples use KMS v2 the way kube-apiserver requires', () => {
    const files = filesUnder(join(INFRA_DIR, 'examples', 'encryption-config'), ['.yaml']);
    assert.deepEqual(
      files.map((f) => basename(f)),
      ['aws.yaml', 'azure.yaml', 'gcp.yaml', 'vault.yaml'],
    );
    for (const f of files) {
      const [doc] = parseYamlDocs(readFileSync(f, 'utf8')) as {
        apiVersion: string;
        kind: string;
        resources: { resources: string[]; providers: Record<string, Record<string, unknown>>[] }[];
      }[];
      assert.ok(doc);
      assert.equal(doc.apiVersion, 'apiserver.config.k8s.io/v1', f);
      assert.equal(doc.kind, 'EncryptionConfiguration', f);
      const names = new Set<string>();
      for (const r of doc.resources) {
        assert.ok(r.resources.includes('secrets'), `${f}: encrypts secrets`);
        assert.ok(r.providers[0]?.kms, `${f}: a KMS provider encrypts writes (first)`);
        for (const p of r.providers) {
          if (!p.kms) continue;
          const kms = p.kms as { apiVersion?: string; name?: string; endpoint?: string };
          assert.equal(kms.apiVersion, 'v2', `${f}: KMS v1 is disabled since 1.29`);
          assert.ok(kms.name && !kms.name.includes(':'), `${f}: v2 names have no ':'`);
          assert.ok(!names.has(kms.name), `${f}: provider names are unique`);
          names.add(kms.name);
          assert.match(kms.endpoint ?? '', /^unix:\/\/\//, `${f}: unix socket endpoint`);
          assert.ok(!('cachesize' in kms), `${f}: cachesize is rejected for v2`);
        }
      }
    }
  });

  it('the Dockerfile: Node 24 slim, production dependencies only, non-root, no build step', () => {
    const text = readFileSync(join(INFRA_DIR, 'Dockerfile'), 'utf8');
    const lines = text.split('\n').filter((l) => !l.trimStart().startsWith('#'));
    const froms = lines.filter((l) => l.startsWith('FROM '));
    assert.ok(froms.length >= 2, 'multi-stage');
    for (const f of froms) assert.match(f, /^FROM node:24-bookworm-slim\b/);
    assert.ok(lines.some((l) => /npm ci\b.*--omit=dev/.test(l)));
    const copies = lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    const sources = copies.flatMap((l) => l.split(/\s+/).slice(1, -1));
    assert.deepEqual([...new Set(sources)].sort(), [
      'functions',
      'package-lock.json',
      'package.json',
      'shared',
    ]);
    const user = lines.filter((l) => l.startsWith('USER ')).at(-1);
    assert.match(user ?? '', /^USER [1-9]\d*(:[1-9]\d*)?$/, 'a numeric non-root user');
  });
});

describe('kustomize builds: what a dry run cannot check', () => {
  let targets: BuildTarget[] = [];
  let cleanup = () => {};
  const builds = new Map<string, Manifest[]>();

  before(() => {
    const { kubectl } = ensureBinaries();
    ({ targets, cleanup } = buildTargets());
    for (const t of targets) builds.set(t.name, kustomize(kubectl, t.dir).objects);
  });
  after(() => cleanup());

  const each = (fn: (name: string, objects: Manifest[]) => void) => {
    assert.ok(builds.size >= 6, `expected base, 3 overlays and 2 components, got ${builds.size}`);
    for (const [name, objects] of builds) fn(name, objects);
  };

  it('builds the base, every overlay and every component', () => {
    assert.deepEqual([...builds.keys()].sort(), [
      'base',
      'base + components/etcd-verification',
      'base + components/sender-identity',
      'overlays/aws',
      'overlays/gcp',
      'overlays/sandbox',
    ]);
  });

  it('function Services: their own function, settings, probes, timeout, scale, memory, security', () => {
    each((build, objects) => {
      const budget = Number(settings(objects).REKEY_BUDGET_SECONDS);
      assert.ok(budget > 0, `${build}: REKEY_BUDGET_SECONDS`);
      const services = functionServices(objects);
      assert.deepEqual(
        services.map((s) => s.metadata?.name).sort(),
        Object.values(FUNCTIONS)
          .map((f) => f.service)
          .sort(),
        build,
      );
      for (const s of services) {
        const at = `${build}: Service ${s.metadata?.name}`;
        assert.equal(s.metadata?.namespace, NS, at);
        const { template } = specOf<WithPodTemplate>(s);
        const pod = template.spec;
        const c = pod.containers[0] as Container;
        assert.equal(pod.containers.length, 1, at);
        // its own function, from a file that exists
        const fn = Object.entries(FUNCTIONS).find(([, f]) => f.service === s.metadata?.name)?.[0];
        // its own identity, and only reconcile runs steps itself (the others hand them off)
        assert.equal(
          pod.serviceAccountName,
          `rekey-${fn}`,
          `${at}: runs as its own ServiceAccount`,
        );
        assert.ok(
          objects.some(
            (o) => o.kind === 'ServiceAccount' && o.metadata?.name === pod.serviceAccountName,
          ),
          `${at}: its ServiceAccount is part of the install`,
        );
        assert.equal(
          envOf(c, 'REKEY_STEP_MODE'),
          fn === 'reconcile' ? undefined : 'delegate',
          `${at}: REKEY_STEP_MODE`,
        );
        assert.deepEqual(c.command, ['node', `functions/${fn}/main.ts`], at);
        assert.ok(existsSync(join(REPO_DIR, `functions/${fn}/main.ts`)), at);
        assert.ok(
          readFileSync(join(REPO_DIR, `functions/${fn}/route.ts`), 'utf8').includes(
            `path = '${FUNCTIONS[fn as string]?.paths[0]}'`,
          ),
          `${at}: functions/${fn}/route.ts serves ${FUNCTIONS[fn as string]?.paths[0]}`,
        );
        assert.ok(c.image, at);
        // settings: the shared ConfigMap of this build; Knative's reserved names untouched
        const cm = c.envFrom?.[0]?.configMapRef?.name;
        assert.ok(cm && ofKind(objects, 'ConfigMap').some((o) => o.metadata?.name === cm), at);
        for (const reserved of ['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION', 'K_SINK']) {
          assert.ok(!c.env?.some((e) => e.name === reserved), `${at}: sets reserved ${reserved}`);
        }
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) assert.equal(ref.optional, true, `${at}: ${e.name} from an optional Secret`);
        }
        // probes, request timeout well above the work budget, bounded scale and concurrency
        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', at);
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', at);
        assert.ok((pod.timeoutSeconds ?? 0) >= 2 * budget, `${at}: timeoutSeconds vs budget`);
        assert.ok((pod.containerConcurrency ?? 0) >= 1, `${at}: containerConcurrency`);
        const ann = template.metadata?.annotations ?? {};
        const min = Number(ann['autoscaling.knative.dev/min-scale']);
        const max = Number(ann['autoscaling.knative.dev/max-scale']);
        assert.ok(Number.isInteger(min) && Number.isInteger(max) && min <= max && max >= 1, at);
        if (fn === 'reconcile') assert.equal(max, 1, `${at}: one reconcile pod`);
        // memory: V8's heap cap below the container limit
        assert.equal(c.resources?.limits?.memory, '320Mi', at);
        const heap = /--max-old-space-size=(\d+)/.exec(envOf(c, 'NODE_OPTIONS') ?? '');
        assert.ok(heap && Number(heap[1]) <= 200, `${at}: NODE_OPTIONS caps the heap under 320Mi`);
        // the flags the bench measures peak RSS with (test/bench/runner-process.ts)
        assert.match(envOf(c, 'NODE_OPTIONS') ?? '', /--max-semi-space-size=4\b/, at);
        assert.equal(c.securityContext?.runAsNonRoot, true, `${at}: runAsNonRoot`);
        assertLockedDown(at, c);
      }
      const dls = ofKind(objects, 'Service', SERVING).find(
        (s) => s.metadata?.name === 'rekey-dead-letters',
      );
      assert.ok(dls, `${build}: the dead-letter sink Service`);
      const dlsPod = specOf<WithPodTemplate>(dls).template.spec;
      assert.equal(dlsPod.automountServiceAccountToken, false, `${build}: dead letters, no token`);
      assertLockedDown(`${build}: rekey-dead-letters`, dlsPod.containers[0] as Container);
    });
  });

  it('Triggers route every consumed event type to its function, with retries and a dead-letter sink', () => {
    each((build, objects) => {
      const budget = Number(settings(objects).REKEY_BUDGET_SECONDS);
      const routed: Record<string, string> = {};
      for (const t of ofKind(objects, 'Trigger', 'eventing.knative.dev')) {
        const name = t.metadata?.name ?? '';
        const at = `${build}: Trigger ${name}`;
        const spec = specOf<TriggerSpec>(t);
        assert.ok(name.length <= 29, `${at}: name longer than 29 characters`);
        assert.ok(
          resolve(objects, {
            apiVersion: 'eventing.knative.dev/v1',
            kind: 'Broker',
            name: spec.broker,
          }),
          `${at}: Broker ${spec.broker} exists`,
        );
        const svc = resolve(objects, spec.subscriber.ref);
        assert.ok(svc && svc.kind === 'Service', `${at}: subscriber Service exists`);
        const fn = Object.entries(FUNCTIONS).find(([, f]) => f.service === svc.metadata?.name);
        assert.ok(fn, `${at}: routes to one of rekey's functions`);
        assert.ok(
          fn[1].paths.includes(spec.subscriber.uri ?? ''),
          `${at}: path ${spec.subscriber.uri}`,
        );
        assert.equal(
          spec.subscriber.audience,
          `${SERVING}/service/${NS}/${fn[1].service}`,
          `${at}: audience`,
        );
        const type = spec.filter?.attributes?.type;
        assert.ok(type, `${at}: filters on the event type`);
        assert.equal(routed[type], undefined, `${at}: ${type} routed twice`);
        routed[type] = fn[0];
        const d = spec.delivery;
        assert.ok(d && (d.retry ?? 0) >= 1, `${at}: retries`);
        assert.equal(d.backoffPolicy, 'exponential', at);
        assert.ok(seconds(d.backoffDelay) >= 1, `${at}: backoffDelay`);
        assert.ok(seconds(d.timeout) > budget, `${at}: delivery timeout above the work budget`);
        const dls = resolve(objects, d.deadLetterSink?.ref);
        assert.equal(dls?.metadata?.name, 'rekey-dead-letters', `${at}: dead-letter sink`);
        if (type === 'dev.knative.sources.ping') {
          const ping = ofKind(objects, 'PingSource')[0];
          assert.equal(
            spec.filter?.attributes?.source,
            `/apis/v1/namespaces/${ping?.metadata?.namespace}/pingsources/${ping?.metadata?.name}`,
            `${at}: only rekey's own PingSource`,
          );
        }
      }
      assert.deepEqual(routed, { ...ROUTES_ALWAYS, ...(ROUTES_BY_OVERLAY[build] ?? {}) }, build);
    });
  });

  it('sources and the SinkBinding send to the Broker; the SinkBinding selects exactly the functions', () => {
    each((build, objects) => {
      const broker = ofKind(objects, 'Broker', 'eventing.knative.dev');
      assert.equal(broker.length, 1, build);
      const b = specOf<{ delivery?: TriggerSpec['delivery'] }>(broker[0] as Manifest);
      assert.ok(resolve(objects, b.delivery?.deadLetterSink?.ref), `${build}: Broker DLS`);
      for (const kind of ['PingSource', 'ApiServerSource', 'SinkBinding']) {
        const [src, ...more] = ofKind(objects, kind, 'sources.knative.dev');
        assert.ok(src && more.length === 0, `${build}: one ${kind}`);
        assert.equal(src.apiVersion, 'sources.knative.dev/v1', `${build}: ${kind} v1`);
        const sink = resolve(objects, specOf<SourceSpec>(src).sink.ref);
        assert.equal(sink?.kind, 'Broker', `${build}: ${kind} sends to the Broker`);
      }
      const ping = specOf<SourceSpec>(ofKind(objects, 'PingSource')[0] as Manifest);
      assert.equal(ping.schedule, '* * * * *', `${build}: a tick every minute`);
      const sb = specOf<SourceSpec>(ofKind(objects, 'SinkBinding')[0] as Manifest);
      const selector = Object.entries(sb.subject?.selector?.matchLabels ?? {});
      assert.ok(selector.length > 0 && sb.subject?.apiVersion === `${SERVING}/v1`, build);
      const selected = ofKind(objects, 'Service', SERVING).filter((s) =>
        selector.every(([k, v]) => s.metadata?.labels?.[k] === v),
      );
      assert.deepEqual(
        selected.map((s) => s.metadata?.name).sort(),
        functionServices(objects)
          .map((s) => s.metadata?.name)
          .sort(),
        `${build}: K_SINK for the four functions (and not the dead-letter sink)`,
      );
    });
  });

  it('the ApiServerSource: Reference mode, label-selected, as a ServiceAccount that may only read rekey-system', () => {
    each((build, objects) => {
      const src = specOf<SourceSpec>(ofKind(objects, 'ApiServerSource')[0] as Manifest);
      assert.equal(src.mode, 'Reference', build);
      assert.deepEqual(
        src.resources?.map((r) => [r.apiVersion, r.kind, r.selector?.matchLabels]),
        [
          ['v1', 'Secret', { 'rekey.dev/revision': 'true' }],
          ['v1', 'ConfigMap', { 'rekey.dev/key-id-report': 'true' }],
        ],
        build,
      );
      const sa = src.serviceAccountName;
      assert.ok(
        resolve(objects, { apiVersion: 'v1', kind: 'ServiceAccount', name: sa }),
        `${build}: ServiceAccount ${sa}`,
      );
      const bindings = [
        ...ofKind(objects, 'RoleBinding'),
        ...ofKind(objects, 'ClusterRoleBinding'),
      ].filter((b) => b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === sa));
      assert.equal(bindings.length, 1, `${build}: one binding for ${sa}`);
      const binding = bindings[0] as Manifest;
      assert.equal(binding.kind, 'RoleBinding');
      assert.equal(binding.metadata?.namespace, NS);
      const role = objects.find(
        (o) =>
          o.kind === 'Role' &&
          o.metadata?.name === binding.roleRef?.name &&
          o.metadata?.namespace === NS,
      );
      assert.deepEqual(role?.rules, [
        { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list', 'watch'] },
      ]);
    });
  });

  it('EventPolicies admit, for the Broker only, senders that exist', () => {
    const examples = filesUnder(join(INFRA_DIR, 'examples'), ['.yaml']).flatMap(
      (f) => parseYamlDocs(readFileSync(f, 'utf8')) as Manifest[],
    );
    each((build, objects) => {
      const policies = ofKind(objects, 'EventPolicy', 'eventing.knative.dev');
      assert.ok(policies.length >= 3, build);
      for (const p of policies) {
        const at = `${build}: EventPolicy ${p.metadata?.name}`;
        assert.equal(p.apiVersion, 'eventing.knative.dev/v1alpha1', at);
        const spec = specOf<EventPolicySpec>(p);
        assert.ok(spec.to?.length, `${at}: names its targets (an empty list means all)`);
        for (const to of spec.to ?? []) {
          assert.equal(resolve(objects, to.ref)?.kind, 'Broker', `${at}: to the Broker`);
        }
        assert.ok(spec.from?.length, at);
        for (const from of spec.from ?? []) {
          assert.ok(from.ref, `${at}: senders by reference, not by a subject pattern`);
          // a sender the build creates, or one the examples document (IntegrationSource)
          assert.ok(
            resolve(objects, from.ref) ?? resolve(examples, from.ref),
            `${at}: sender ${from.ref.kind}/${from.ref.name} exists`,
          );
        }
        assert.ok(spec.filters?.length, `${at}: limits the event types`);
      }
    });
  });

  it('overlays set REKEY_PROVIDER; the base leaves it empty on purpose', () => {
    each((build, objects) => {
      const provider = settings(objects).REKEY_PROVIDER;
      if (build.startsWith('overlays/')) {
        assert.match(provider ?? '', /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${build}: REKEY_PROVIDER`);
      } else {
        assert.equal(provider, '', `${build}: the base must not pretend to know the provider`);
      }
    });
  });

  it('the key-id reporter: control-plane nodes, its own identity, the plugin socket inside the mounted folder', () => {
    each((build, objects) => {
      const [ds, ...more] = ofKind(objects, 'DaemonSet', 'apps');
      assert.ok(ds && more.length === 0, build);
      const pod = specOf<WithPodTemplate>(ds).template.spec;
      const c = pod.containers[0] as Container;
      assert.equal(pod.serviceAccountName, 'rekey-key-id-reporter', build);
      assert.ok(
        resolve(objects, {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          name: 'rekey-key-id-reporter',
        }),
      );
      assert.equal(pod.nodeSelector?.['node-role.kubernetes.io/control-plane'], '', build);
      assert.ok(pod.tolerations?.some((t) => t.key === 'node-role.kubernetes.io/control-plane'));
      assert.deepEqual(c.command, ['node', 'functions/key-id-reporter/main.ts']);
      assert.ok(existsSync(join(REPO_DIR, 'functions/key-id-reporter/main.ts')));
      const socket = envOf(c, 'KMS_PLUGIN_SOCKET') ?? '';
      const mount = c.volumeMounts?.find((m) => m.mountPath === dirname(socket));
      assert.ok(mount?.readOnly, `${build}: ${socket}'s folder is mounted read-only`);
      const volume = pod.volumes?.find((v) => v.name === mount.name);
      assert.equal(volume?.hostPath?.type, 'Directory', `${build}: hostPath socket folder`);
      assert.equal(
        c.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath,
        'spec.nodeName',
      );
      for (const key of ['REKEY_PROVIDER', 'REKEY_NAMESPACE']) {
        const ref = c.env?.find((e) => e.name === key)?.valueFrom?.configMapKeyRef;
        const cm = ofKind(objects, 'ConfigMap').find((o) => o.metadata?.name === ref?.name);
        assert.ok(cm?.data && ref && ref.key in cm.data, `${build}: reporter ${key} from settings`);
      }
      assertLockedDown(`${build}: key-id reporter`, c);
    });
  });

  it("APF: rekey's ServiceAccounts get their own limited priority level that neither borrows nor lends", () => {
    each((build, objects) => {
      const [fs] = ofKind(objects, 'FlowSchema', 'flowcontrol.apiserver.k8s.io');
      const fsSpec = specOf<{
        priorityLevelConfiguration: { name: string };
        matchingPrecedence: number;
        rules: {
          subjects: { kind: string; serviceAccount?: { name: string; namespace: string } }[];
        }[];
      }>(fs as Manifest);
      assert.ok(fsSpec.matchingPrecedence < 9000, `${build}: before the service-accounts schema`);
      assert.deepEqual(
        fsSpec.rules.flatMap((r) => r.subjects),
        ['reconcile', 'kms-event', 'cluster-event', 'webhook'].map((f) => ({
          kind: 'ServiceAccount',
          serviceAccount: { name: `rekey-${f}`, namespace: NS },
        })),
      );
      const plc = ofKind(objects, 'PriorityLevelConfiguration').find(
        (p) => p.metadata?.name === fsSpec.priorityLevelConfiguration.name,
      );
      const limited = specOf<{
        type: string;
        limited: {
          nominalConcurrencyShares: number;
          lendablePercent: number;
          borrowingLimitPercent: number;
        };
      }>(plc as Manifest);
      assert.equal(limited.type, 'Limited');
      assert.ok(limited.limited.nominalConcurrencyShares <= 20, `${build}: a modest share`);
      assert.equal(limited.limited.borrowingLimitPercent, 0);
      assert.equal(limited.limited.lendablePercent, 0);
    });
  });

  it('sender identity: each function accepts exactly the Triggers routed to it, for their audience', () => {
    const component = builds.get('base + components/sender-identity') as Manifest[];
    // every Trigger of every build (the overlays add kms-event ones), by the function it targets
    const triggersBySvc = new Map<string, Set<string>>();
    for (const objects of builds.values()) {
      for (const t of ofKind(objects, 'Trigger')) {
        const svc = specOf<TriggerSpec>(t).subscriber.ref?.name ?? '';
        const set = triggersBySvc.get(svc) ?? new Set();
        set.add(triggerIdentity(t.metadata?.name ?? ''));
        triggersBySvc.set(svc, set);
      }
    }
    for (const s of functionServices(component)) {
      const name = s.metadata?.name ?? '';
      const c = specOf<WithPodTemplate>(s).template.spec.containers[0] as Container;
      const audience = envOf(c, 'REKEY_SENDER_AUDIENCE');
      const allowed = envOf(c, 'REKEY_ALLOWED_SENDERS')?.split(',');
      if (name === 'rekey-webhook') {
        assert.equal(audience, undefined, 'webhook: signed, no CloudEvent senders');
        continue;
      }
      assert.equal(audience, `${SERVING}/service/${NS}/${name}`, name);
      assert.deepEqual(allowed?.sort(), [...(triggersBySvc.get(name) ?? [])].sort(), name);
    }
    const binding = ofKind(component, 'ClusterRoleBinding').find(
      (b) => b.metadata?.name === 'rekey-sender-auth',
    );
    assert.deepEqual(
      binding?.subjects,
      ['reconcile', 'kms-event', 'cluster-event'].map((f) => ({
        kind: 'ServiceAccount',
        name: `rekey-${f}`,
        namespace: NS,
      })),
      'the functions that check sender tokens, and no other',
    );
    const role = ofKind(component, 'ClusterRole').find(
      (r) => r.metadata?.name === binding?.roleRef?.name,
    );
    assert.deepEqual(role?.rules, [
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    ]);
  });
});

describe('kubectl apply --dry-run=server against a kube-apiserver with the Knative CRDs', () => {
  let sb: TestSandbox;
  let targets: BuildTarget[] = [];
  let cleanup = () => {};
  let cacheDir = '';
  let kubectl: (args: string[], input?: string) => ReturnType<typeof run>;

  before(async () => {
    sb = await startSandbox();
    ({ targets, cleanup } = buildTargets());
    cacheDir = mkdtempSync(join(tmpdir(), 'rekey-kubectl-cache-'));
    const bin = sb.env.binaries.kubectl as string;
    kubectl = (args, input) =>
      run(bin, ['--kubeconfig', sb.env.kubeconfig, '--cache-dir', cacheDir, ...args], input);
    const crds = kubectl(['apply', '--server-side', '-f', KNATIVE_CRDS_DIR]);
    assert.equal(crds.status, 0, describeRun('installing the Knative CRDs', crds));
    const wait = kubectl([
      'wait',
      '--for',
      'condition=established',
      'crd',
      '--all',
      '--timeout=60s',
    ]);
    assert.equal(wait.status, 0, describeRun('waiting for the CRDs', wait));
  });
  after(async () => {
    cleanup();
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
    await sb?.stop();
  });

  it('installed every Knative CRD of the data folder', () => {
    const r = kubectl(['get', 'crd', '-o', 'name']);
    assert.equal(r.status, 0, describeRun('kubectl get crd', r));
    const expected = filesUnder(KNATIVE_CRDS_DIR, ['.yaml']).length;
    assert.ok(expected >= 12);
    assert.equal(
      r.stdout
        .trim()
        .split('\n')
        .filter((l) => l.includes('knative.dev')).length,
      expected,
    );
  });

  /** Applies one build as a server-side dry run; every object must come back accepted. */
  const applyAll = (t: BuildTarget) => {
    const { yaml, objects } = kustomize(sb.env.binaries.kubectl as string, t.dir);
    const r = kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], yaml);
    const outcome = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const m = /^(\S+) (created|configured|unchanged) \(server dry run\)$/.exec(line.trim());
      if (m) outcome.set(m[1] as string, m[2] as string);
    }
    assert.equal(r.status, 0, describeRun(`${t.name}: kubectl apply --dry-run=server`, r));
    for (const o of objects) {
      assert.ok(
        outcome.has(kubectlName(o)),
        `${t.name}: ${kubectlName(o)} was not accepted\n${describeRun('kubectl apply', r)}`,
      );
    }
    return objects.length;
  };

  it('accepts every object of infra/base, each overlay and each component', async (t) => {
    assert.ok(targets.length >= 6);
    for (const target of targets) {
      await t.test(target.name, () => {
        const n = applyAll(target);
        assert.ok(n >= 35, `${target.name}: only ${n} objects`);
      });
    }
  });

  it('refuses what the schemas forbid (negative controls: the dry run can fail)', () => {
    const base = kustomize(sb.env.binaries.kubectl as string, join(INFRA_DIR, 'base')).objects;
    const pick = (kind: string, name: string) =>
      structuredClone(base.find((o) => o.kind === kind && o.metadata?.name === name)) as Manifest;
    const controls: { what: string; obj: Manifest; expect: RegExp }[] = [];
    const svc = pick('Service', 'rekey-reconcile');
    (
      specOf<WithPodTemplate>(svc).template.spec as unknown as Record<string, unknown>
    ).containerConcurency = 1;
    controls.push({
      what: 'a misspelt Knative Service field',
      obj: svc,
      expect: /containerConcurency/,
    });
    const trig = pick('Trigger', 'rekey-reconcile-tick');
    (specOf<TriggerSpec>(trig).subscriber as unknown as Record<string, unknown>).reff = {};
    controls.push({ what: 'an unknown Trigger subscriber field', obj: trig, expect: /reff/ });
    const api = pick('ApiServerSource', 'rekey-cluster-events');
    (specOf<SourceSpec>(api) as unknown as Record<string, unknown>).resources = 'secrets';
    controls.push({
      what: 'an ApiServerSource resources of the wrong type',
      obj: api,
      expect: /resources/,
    });
    const fs = pick('FlowSchema', 'rekey');
    specOf<{ matchingPrecedence: number }>(fs).matchingPrecedence = 10_001;
    controls.push({
      what: 'a FlowSchema precedence out of range',
      obj: fs,
      expect: /matchingPrecedence/,
    });
    for (const c of controls) {
      const r = kubectl(
        ['apply', '--dry-run=server', '--validate=strict', '-f', '-'],
        JSON.stringify(c.obj),
      );
      assert.notEqual(r.status, 0, `${c.what} was accepted:\n${describeRun('kubectl apply', r)}`);
      assert.match(r.stderr, c.expect, `${c.what}: ${r.stderr}`);
    }
  });
});
