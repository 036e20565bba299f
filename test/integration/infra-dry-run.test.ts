// infra/ validated for real (issue 6): every object of the base, of each overlay and of each
// component composed onto the base goes through `kubectl apply --dry-run=server --validate=strict`
// on a real kube-apiserver with Knative's own CRDs installed, so their OpenAPI schemas (and the
// built-in kinds' validation: RBAC, APF, DaemonSet) judge every field; negative controls show the
// dry run does refuse a bad field. The EncryptionSwitch CRD (installed with infra/base's top-level
// files) is judged on objects: its schema and CEL rules take a switch and refuse aesgcm with
// upstream's reason. The config-write component turns the reporter into a writer, and only it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type BuildTarget,
  buildTargets,
  describeRun,
  filesUnder,
  INFRA_DIR,
  KNATIVE_CRDS_DIR,
  kubectlName,
  kustomize,
  type Manifest,
  run,
  type SourceSpec,
  specOf,
  type TriggerSpec,
  type WithPodTemplate,
} from '../support/infra/manifests.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

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
    const api = pick('ApiServerSource', 'rekey-revisions');
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

  it('the EncryptionSwitch CRD takes a declared switch and refuses aesgcm, other names and unknown targets', () => {
    const est = kubectl([
      'wait',
      '--for',
      'condition=established',
      'crd/encryptionswitches.rekey.dev',
      '--timeout=60s',
    ]);
    assert.equal(est.status, 0, describeRun('the EncryptionSwitch CRD is established', est));
    const apply = (name: string, spec: Record<string, unknown>) =>
      kubectl(
        ['apply', '--dry-run=server', '--validate=strict', '-f', '-'],
        JSON.stringify({
          apiVersion: 'rekey.dev/v1alpha1',
          kind: 'EncryptionSwitch',
          metadata: { name },
          spec,
        }),
      );
    for (const spec of [
      { target: 'kms:my-kms' },
      { target: 'identity', resources: ['secrets', 'configmaps'] },
      { target: 'secretbox', resources: ['*.apps'] },
    ]) {
      const r = apply('cluster', spec);
      assert.equal(r.status, 0, describeRun(`EncryptionSwitch ${JSON.stringify(spec)}`, r));
    }
    const refused: [string, Record<string, unknown>, RegExp][] = [
      ['cluster', { target: 'aesgcm' }, /200,000 writes/],
      ['cluster', { target: 'kms:' }, /identity, aescbc, secretbox or kms/],
      ['cluster', { target: 'aes-cbc' }, /identity, aescbc, secretbox or kms/],
      ['cluster', {}, /target/],
      ['cluster', { target: 'identity', resources: ['pods/log'] }, /resources/],
      ['cluster', { target: 'identity', resources: ['secrets', 'secrets'] }, /resources/],
      ['other', { target: 'identity' }, /name the EncryptionSwitch 'cluster'/],
    ];
    for (const [name, spec, expect] of refused) {
      const r = apply(name, spec);
      assert.notEqual(r.status, 0, `${name} ${JSON.stringify(spec)} was accepted`);
      assert.match(r.stderr, expect, `${name} ${JSON.stringify(spec)}: ${r.stderr}`);
    }
  });

  it('components/config-write: the reporter writes revisions into the directory, mounted read-write; the base stays read-only', () => {
    const daemonSet = (build: string) => {
      const t = targets.find((x) => x.name === build);
      assert.ok(t, `${build} is built`);
      const ds = kustomize(sb.env.binaries.kubectl as string, t.dir).objects.find(
        (o) => o.kind === 'DaemonSet' && o.metadata?.name === 'rekey-key-id-reporter',
      );
      assert.ok(ds, `${build}: the reporter DaemonSet`);
      return specOf<WithPodTemplate>(ds).template.spec as unknown as ReporterPod;
    };
    const env = (pod: ReporterPod) =>
      new Map((pod.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    const mount = (pod: ReporterPod) =>
      pod.containers[0]?.volumeMounts?.find((m) => m.name === 'encryption-config');
    const volume = (pod: ReporterPod) => pod.volumes?.find((v) => v.name === 'encryption-config');

    const base = daemonSet('base');
    assert.equal(env(base).has('REKEY_CONFIG_WRITE'), false);
    assert.equal(mount(base)?.readOnly, true, 'the base reads the file only');

    const writer = daemonSet('base + components/config-write');
    const e = env(writer);
    assert.equal(e.get('REKEY_CONFIG_WRITE'), 'true');
    assert.ok(e.has('REKEY_STATE_NAMESPACE') && e.has('REKEY_KMS_ENDPOINTS'));
    const file = e.get('ENCRYPTION_CONFIG_FILE');
    assert.equal(typeof file, 'string');
    const m = mount(writer);
    assert.equal(m?.readOnly, false, 'the directory is mounted read-write');
    assert.equal(m?.mountPath, dirname(file as string), 'the directory of the file, not the file');
    assert.deepEqual(volume(writer)?.hostPath, { path: m?.mountPath, type: 'Directory' });
    // nothing else becomes writable, and it still runs on control-plane nodes only
    for (const other of writer.containers[0]?.volumeMounts ?? []) {
      if (other.name !== 'encryption-config') assert.equal(other.readOnly, true, other.name);
    }
    assert.deepEqual(writer.nodeSelector, { 'node-role.kubernetes.io/control-plane': '' });
    assert.equal(writer.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
  });
});

/** The parts of the reporter's pod spec the config-write checks read. */
interface ReporterPod {
  nodeSelector?: Record<string, string>;
  containers: {
    env?: { name: string; value?: string; valueFrom?: unknown }[];
    volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
    securityContext?: { readOnlyRootFilesystem?: boolean };
  }[];
  volumes?: { name: string; hostPath?: { path: string; type?: string } }[];
}
