// rekey's infra/ as an operator installs it: the YAML files as written, the kustomize builds of the
// base, every overlay and every component (with kubectl's built-in kustomize), and kubectl runs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAllYaml } from '@kubernetes/client-node';

export const REPO_DIR = fileURLToPath(new URL('../../../', import.meta.url));
export const INFRA_DIR = join(REPO_DIR, 'infra');
/** The Knative CRDs, in the shared data folder next to the repository. */
export const KNATIVE_CRDS_DIR = fileURLToPath(
  new URL('../../../../shared/data/knative-crds/', import.meta.url),
);

export interface Ref {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}
export interface Destination {
  ref?: Ref;
  uri?: string;
  audience?: string;
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}
export interface Container {
  name?: string;
  image?: string;
  command?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    privileged?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  livenessProbe?: { httpGet?: { path?: string } };
  readinessProbe?: { httpGet?: { path?: string } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  containerConcurrency?: number;
  timeoutSeconds?: number;
  containers: Container[];
  volumes?: { name: string; hostPath?: { path: string; type?: string } }[];
  nodeSelector?: Record<string, string>;
  tolerations?: { key?: string; effect?: string }[];
}
export interface Subject {
  kind: string;
  name: string;
  namespace?: string;
  apiGroup?: string;
}
export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** A Kubernetes object as read from YAML: the fields the tests look at, typed loosely. */
export interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  data?: Record<string, string>;
  /** Differs per kind: read it with {@link specOf}. */
  spec?: unknown;
  rules?: PolicyRule[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: Subject[];
}

/** Knative Service, DaemonSet: the pod template. */
export interface WithPodTemplate {
  template: {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec: PodSpec;
  };
  selector?: { matchLabels?: Record<string, string> };
}
export interface TriggerSpec {
  broker: string;
  filter?: { attributes?: Record<string, string> };
  subscriber: Destination;
  delivery?: {
    retry?: number;
    backoffPolicy?: string;
    backoffDelay?: string;
    timeout?: string;
    deadLetterSink?: Destination;
  };
}
export interface SourceSpec {
  sink: Destination;
  mode?: string;
  serviceAccountName?: string;
  resources?: {
    apiVersion: string;
    kind: string;
    selector?: { matchLabels?: Record<string, string> };
  }[];
  subject?: Ref & { selector?: { matchLabels?: Record<string, string> } };
  schedule?: string;
}
export interface EventPolicySpec {
  to?: { ref?: Ref }[];
  from?: { ref?: Ref; sub?: string }[];
  filters?: Record<string, unknown>[];
}

/** The spec of an object, as the caller knows its kind to be. */
export function specOf<T>(o: Manifest): T {
  if (o.spec === undefined || o.spec === null) {
    throw new Error(`${o.kind} ${o.metadata?.name} has no spec`);
  }
  return o.spec as T;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (input on stdin), never throwing: the caller asserts. */
export function run(cmd: string, args: string[], input?: string): RunResult {
  const r = spawnSync(cmd, args, {
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function describeRun(what: string, r: RunResult): string {
  return `${what} exited ${r.status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Every file under `dir` whose name ends in one of `exts`, as absolute paths, sorted. */
export function filesUnder(dir: string, exts: string[]): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p, exts));
    else if (exts.some((x) => e.name.endsWith(x))) out.push(p);
  }
  return out.sort();
}

/**
 * The YAML documents of a file or string, as plain data (client-node's loader turns kinds it
 * knows into model classes; the JSON round trip undoes that); comment-only documents are dropped.
 */
export function parseYamlDocs(text: string): unknown[] {
  return (loadAllYaml(text) as unknown[])
    .filter((d) => d !== null && d !== undefined)
    .map((d) => JSON.parse(JSON.stringify(d)));
}

export interface BuildTarget {
  /** e.g. `base`, `overlays/aws`, `base + components/sender-identity`. */
  name: string;
  /** The kustomization directory to build. */
  dir: string;
}

function kustomizationKind(dir: string): string | undefined {
  const doc = parseYamlDocs(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0] as
    | { kind?: string }
    | undefined;
  return doc?.kind ?? 'Kustomization';
}

function subdirsWithKustomization(parent: string): string[] {
  return readdirSync(join(INFRA_DIR, parent), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(INFRA_DIR, parent, e.name))
    .filter((d) => readdirSync(d).includes('kustomization.yaml'))
    .sort();
}

/**
 * Everything an operator can build: infra/base, each overlay, and each component composed onto
 * the base (a Component cannot be built alone), the latter in a temporary folder that `cleanup`
 * removes. Kustomize refuses absolute paths, hence the relative ones.
 */
export function buildTargets(): { targets: BuildTarget[]; cleanup: () => void } {
  const targets: BuildTarget[] = [{ name: 'base', dir: join(INFRA_DIR, 'base') }];
  for (const d of subdirsWithKustomization('overlays')) {
    targets.push({ name: relative(INFRA_DIR, d), dir: d });
  }
  const tmp = mkdtempSync(join(tmpdir(), 'rekey-infra-'));
  for (const c of subdirsWithKustomization('components')) {
    if (kustomizationKind(c) !== 'Component') continue;
    const dir = join(tmp, relative(INFRA_DIR, c).replaceAll('/', '-'));
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `resources: [${relative(dir, join(INFRA_DIR, 'base'))}]`,
        `components: [${relative(dir, c)}]`,
        '',
      ].join('\n'),
    );
    targets.push({ name: `base + ${relative(INFRA_DIR, c)}`, dir });
  }
  return { targets, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

/** `kubectl kustomize <dir>`: the YAML an operator would apply, and its objects. */
export function kustomize(kubectl: string, dir: string): { yaml: string; objects: Manifest[] } {
  const r = run(kubectl, ['kustomize', dir]);
  if (r.status !== 0) throw new Error(describeRun(`kubectl kustomize ${dir}`, r));
  return { yaml: r.stdout, objects: parseYamlDocs(r.stdout) as Manifest[] };
}

/** `kind.group/name`, as kubectl prints an object it applied. */
export function kubectlName(o: Manifest): string {
  const apiVersion = o.apiVersion ?? '';
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  return `${(o.kind ?? '').toLowerCase()}${group ? `.${group}` : ''}/${o.metadata?.name}`;
}

export function ofKind(objects: Manifest[], kind: string, apiGroup?: string): Manifest[] {
  return objects.filter(
    (o) => o.kind === kind && (apiGroup === undefined || o.apiVersion?.startsWith(`${apiGroup}/`)),
  );
}

/** The object a reference names (namespace defaulting to `defaultNamespace`), if the build has it. */
export function resolve(
  objects: Manifest[],
  ref: Ref | undefined,
  defaultNamespace = 'rekey-system',
): Manifest | undefined {
  if (!ref) return undefined;
  return objects.find(
    (o) =>
      o.kind === ref.kind &&
      o.apiVersion === ref.apiVersion &&
      o.metadata?.name === ref.name &&
      (o.metadata?.namespace ?? '') === (ref.namespace ?? defaultNamespace),
  );
}
