// What the infra/ tests check the kustomize builds against: the functions, the event routes each
// build must have, and helpers over built manifests. Shared by test/integration/infra-*.test.ts.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { ensureBinaries } from '../sandbox/build.ts';
import {
  type BuildTarget,
  buildTargets,
  type Container,
  kustomize,
  type Manifest,
  ofKind,
  specOf,
  type WithPodTemplate,
} from './manifests.ts';

export const NS = 'rekey-system';
/** rekey's records (REKEY_STATE_NAMESPACE in the settings). */
export const STATE_NS = 'rekey-state';
/** The webhook's replay claims (REKEY_REPLAY_NAMESPACE on the webhook's Service). */
export const REPLAY_NS = 'rekey-replay';
export const SERVING = 'serving.knative.dev';

/** The four functions: their Service, and the paths their routes serve (functions/<f>/route.ts). */
export const FUNCTIONS: Record<string, { service: string; paths: string[] }> = {
  reconcile: { service: 'rekey-reconcile', paths: ['/reconcile'] },
  'cluster-event': { service: 'rekey-cluster-event', paths: ['/cluster-event'] },
  'kms-event': { service: 'rekey-kms-event', paths: ['/kms-event', '/kms-event/eventbridge'] },
  webhook: { service: 'rekey-webhook', paths: ['/webhook'] },
};

/** Which function each consumed event type must reach, in every build and per overlay. */
export const ROUTES_ALWAYS: Record<string, string> = {
  'dev.knative.sources.ping': 'reconcile',
  'dev.rekey.migration.slice': 'reconcile',
  'dev.rekey.step.requested': 'reconcile',
  'dev.knative.apiserver.ref.add': 'cluster-event',
  'dev.knative.apiserver.ref.update': 'cluster-event',
  'dev.knative.apiserver.ref.delete': 'cluster-event',
};
export const ROUTES_BY_OVERLAY: Record<string, Record<string, string>> = {
  'overlays/aws': {
    'com.amazon.events.event': 'kms-event',
    'dev.knative.connector.event.aws-sqs': 'kms-event',
  },
  'overlays/gcp': { 'google.cloud.audit.log.v1.written': 'kms-event' },
};

/** YAML documents that are configuration files, not API objects: no metadata.name. */
export const CONFIG_KINDS = new Set(['EncryptionConfiguration']);

/** ISO 8601 durations as Knative takes them (PT2S, PT1M30S). */
export function seconds(iso: string | undefined): number {
  const m = /^PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(iso ?? '');
  assert.ok(m && (m[1] || m[2]), `not an ISO 8601 duration of minutes/seconds: ${iso}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

/** Knative's OIDC identity of a Trigger (knative.dev/eventing pkg/auth, kmeta.ChildName). */
export function triggerIdentity(trigger: string): string {
  const sa = `${trigger}-oidc-eventing.knative.dev-trigger`;
  assert.ok(sa.length <= 63, `Trigger ${trigger}: its OIDC ServiceAccount name would be hashed`);
  return `system:serviceaccount:${NS}:${sa}`;
}

export function settings(objects: Manifest[]): Record<string, string> {
  const cms = ofKind(objects, 'ConfigMap').filter((c) =>
    c.metadata?.name?.startsWith('rekey-settings-'),
  );
  assert.equal(cms.length, 1, 'one generated rekey-settings ConfigMap');
  return (cms[0] as Manifest).data ?? {};
}

export function functionServices(objects: Manifest[]): Manifest[] {
  return ofKind(objects, 'Service', SERVING).filter((s) =>
    /^functions\/[^/]+\/main\.ts$/.test(
      specOf<WithPodTemplate>(s).template.spec.containers[0]?.command?.[1] ?? '',
    ),
  );
}

export function envOf(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

export function assertLockedDown(what: string, c: Container): void {
  const sc = c.securityContext;
  assert.equal(sc?.allowPrivilegeEscalation, false, `${what}: allowPrivilegeEscalation false`);
  assert.equal(sc?.readOnlyRootFilesystem, true, `${what}: readOnlyRootFilesystem`);
  assert.ok(sc?.capabilities?.drop?.includes('ALL'), `${what}: drops ALL capabilities`);
  assert.ok(!sc?.capabilities?.add?.length, `${what}: adds no capability`);
  assert.notEqual(sc?.privileged, true, `${what}: not privileged`);
  assert.ok(c.resources?.limits?.memory, `${what}: has a memory limit`);
  assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${what}: has requests`);
}

/**
 * Builds the base, every overlay and every component with kustomize (before the tests of the
 * calling describe block) and hands them out by name.
 */
export function useBuilds(): {
  builds: Map<string, Manifest[]>;
  each(fn: (name: string, objects: Manifest[]) => void): void;
} {
  let targets: BuildTarget[] = [];
  let cleanup = () => {};
  const builds = new Map<string, Manifest[]>();
  before(() => {
    const { kubectl } = ensureBinaries();
    ({ targets, cleanup } = buildTargets());
    for (const t of targets) builds.set(t.name, kustomize(kubectl, t.dir).objects);
  });
  after(() => cleanup());
  return {
    builds,
    each(fn) {
      assert.ok(builds.size >= 6, `expected base, 3 overlays and 2 components, got ${builds.size}`);
      for (const [name, objects] of builds) fn(name, objects);
    },
  };
}
