// infra/ as built by kustomize: who may send (EventPolicies, sender identity), what each overlay
// sets, the key-id reporter's placement and identity, and API Priority and Fairness for rekey.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import {
  assertLockedDown,
  envOf,
  functionServices,
  NS,
  SERVING,
  settings,
  triggerIdentity,
  useBuilds,
} from '../support/infra/build-checks.ts';
import {
  type Container,
  type EventPolicySpec,
  filesUnder,
  INFRA_DIR,
  type Manifest,
  ofKind,
  parseYamlDocs,
  REPO_DIR,
  resolve,
  specOf,
  type TriggerSpec,
  type WithPodTemplate,
} from '../support/infra/manifests.ts';

describe('kustomize builds: policies, identities and flow control', () => {
  const { builds, each } = useBuilds();

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
