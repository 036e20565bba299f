// infra/ as built by kustomize (base, each overlay, each component): what no dry run can check,
// because no Knative controller runs here to resolve it: each function's Service, the Triggers
// that route every consumed event type to it, the sources and SinkBinding, the ApiServerSources,
// and the namespace of the webhook's replay claims (the one where it may write Leases).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stepDeadlineMs } from '../../shared/core/step-stop.ts';
import {
  assertLockedDown,
  envOf,
  FUNCTIONS,
  functionServices,
  NS,
  REPLAY_NS,
  ROUTES_ALWAYS,
  ROUTES_BY_OVERLAY,
  SERVING,
  STATE_NS,
  seconds,
  settings,
  useBuilds,
} from '../support/infra/build-checks.ts';
import {
  type Container,
  type Manifest,
  ofKind,
  REPO_DIR,
  resolve,
  type SourceSpec,
  specOf,
  type TriggerSpec,
  type WithPodTemplate,
} from '../support/infra/manifests.ts';

/** A step stopped at its deadline still saves, releases its Lease and answers: time for that. */
const ANSWER_ROOM_MS = 10_000;

describe('kustomize builds: functions, routes and sources', () => {
  const { builds, each } = useBuilds();

  it('builds the base, every overlay and every component', () => {
    assert.deepEqual([...builds.keys()].sort(), [
      'base',
      'base + components/config-write',
      'base + components/etcd-verification',
      'base + components/public-kms-event',
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
        assert.ok(
          (pod.timeoutSeconds ?? 0) * 1000 >= stepDeadlineMs(budget * 1000) + ANSWER_ROOM_MS,
          `${at}: timeoutSeconds above the step's hard deadline, with room for the answer`,
        );
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

  it("the webhook's replay claims: their own namespace, the only one where the webhook may write Leases", () => {
    each((build, objects) => {
      const replayNs = (s: Manifest) =>
        envOf(
          specOf<WithPodTemplate>(s).template.spec.containers[0] as Container,
          'REKEY_REPLAY_NAMESPACE',
        );
      // set on the webhook's Service alone: no other function keeps claims
      assert.deepEqual(
        functionServices(objects)
          .filter((s) => replayNs(s) !== undefined)
          .map((s) => [s.metadata?.name, replayNs(s)]),
        [['rekey-webhook', REPLAY_NS]],
        `${build}: REKEY_REPLAY_NAMESPACE`,
      );
      assert.equal(settings(objects).REKEY_REPLAY_NAMESPACE, undefined, `${build}: not shared`);
      assert.notEqual(REPLAY_NS, settings(objects).REKEY_STATE_NAMESPACE, build);
      assert.ok(
        ofKind(objects, 'Namespace').some((n) => n.metadata?.name === REPLAY_NS),
        `${build}: the Namespace ${REPLAY_NS} is part of the install`,
      );
      // where rekey-webhook may create, update or delete Leases, through any binding
      const writes = new Set<string>();
      for (const b of [
        ...ofKind(objects, 'RoleBinding'),
        ...ofKind(objects, 'ClusterRoleBinding'),
      ]) {
        if (!b.subjects?.some((x) => x.kind === 'ServiceAccount' && x.name === 'rekey-webhook')) {
          continue;
        }
        const ns = b.kind === 'RoleBinding' ? b.metadata?.namespace : undefined;
        const role = objects.find(
          (o) =>
            o.kind === b.roleRef?.kind &&
            o.metadata?.name === b.roleRef?.name &&
            (o.kind === 'ClusterRole' || o.metadata?.namespace === ns),
        );
        assert.ok(role, `${build}: ${b.kind} ${b.metadata?.name} names a Role of the install`);
        const leaseWrites = (role.rules ?? []).some(
          (r) =>
            r.apiGroups?.some((g) => g === 'coordination.k8s.io' || g === '*') &&
            r.resources?.some((x) => x === 'leases' || x === '*') &&
            r.verbs.some((v) => ['create', 'update', 'patch', 'delete', '*'].includes(v)),
        );
        if (leaseWrites) writes.add(ns ?? '(cluster-wide)');
      }
      assert.deepEqual([...writes], [REPLAY_NS], `${build}: where the webhook may write Leases`);
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
        assert.ok(
          seconds(d.timeout) * 1000 >= stepDeadlineMs(budget * 1000) + ANSWER_ROOM_MS,
          `${at}: delivery timeout above the step's hard deadline, with room for the answer`,
        );
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
      for (const [kind, count] of [
        ['PingSource', 1],
        ['ApiServerSource', 2],
        ['SinkBinding', 1],
      ] as const) {
        const srcs = ofKind(objects, kind, 'sources.knative.dev');
        assert.equal(srcs.length, count, `${build}: ${count} ${kind}`);
        for (const src of srcs) {
          assert.equal(src.apiVersion, 'sources.knative.dev/v1', `${build}: ${kind} v1`);
          const sink = resolve(objects, specOf<SourceSpec>(src).sink.ref);
          assert.equal(sink?.kind, 'Broker', `${build}: ${kind} sends to the Broker`);
        }
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

  it('the ApiServerSources: Reference mode, label-selected, each kind watched only where rekey keeps it', () => {
    each((build, objects) => {
      const stateNs = settings(objects).REKEY_STATE_NAMESPACE;
      assert.equal(stateNs, STATE_NS, `${build}: REKEY_STATE_NAMESPACE`);
      const sources = new Map(
        ofKind(objects, 'ApiServerSource').map((o) => [
          o.metadata?.name ?? '',
          specOf<SourceSpec & { namespaceSelector?: { matchLabels?: Record<string, string> } }>(o),
        ]),
      );
      const watched = [...sources]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, src]) => ({
          name,
          mode: src.mode,
          resources: src.resources?.map((r) => [r.apiVersion, r.kind, r.selector?.matchLabels]),
          // no namespaceSelector: the source's own namespace only
          namespaces: src.namespaceSelector ?? NS,
          sa: src.serviceAccountName,
        }));
      assert.deepEqual(
        watched,
        [
          {
            name: 'rekey-key-id-reports',
            mode: 'Reference',
            resources: [['v1', 'ConfigMap', { 'rekey.dev/key-id-report': 'true' }]],
            namespaces: NS,
            sa: 'rekey-apiserver-source',
          },
          {
            name: 'rekey-revisions',
            mode: 'Reference',
            resources: [['v1', 'Secret', { 'rekey.dev/revision': 'true' }]],
            // the automatic namespace-name label: exactly one namespace, the state namespace
            namespaces: { matchLabels: { 'kubernetes.io/metadata.name': STATE_NS } },
            sa: 'rekey-apiserver-source',
          },
        ],
        build,
      );
      assert.ok(
        resolve(objects, {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          name: 'rekey-apiserver-source',
        }),
        `${build}: its ServiceAccount`,
      );
      const bindings = [
        ...ofKind(objects, 'RoleBinding'),
        ...ofKind(objects, 'ClusterRoleBinding'),
      ].filter((b) =>
        b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === 'rekey-apiserver-source'),
      );
      const grants = bindings.map((b) => {
        assert.equal(b.kind, 'RoleBinding', `${build}: no cluster-wide grant`);
        const ns = b.metadata?.namespace;
        const role = objects.find(
          (o) =>
            o.kind === 'Role' &&
            o.metadata?.name === b.roleRef?.name &&
            o.metadata?.namespace === ns,
        );
        return [ns, role?.rules];
      });
      assert.deepEqual(
        Object.fromEntries(grants),
        {
          [NS]: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
          [STATE_NS]: [
            { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
          ],
        },
        build,
      );
    });
  });
});
