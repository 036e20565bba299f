// The apiserver's EncryptionConfiguration, reduced to what rekey may know: which resources each
// entry covers and which providers (by type, and kms by name) it lists, in order. rekey's scope
// comes from here, not from a flag, so the lookup rules below follow kube-apiserver's
// (apiserver pkg/server/options/encryptionconfig/config.go and
// pkg/apis/apiserver/validation/validation_encryption.go, Kubernetes 1.34); see docs/kms-facts.md.
// Key material (aescbc/aesgcm/secretbox keys) is never copied out of the parsed document, and
// error messages name positions and resource patterns only, never file content.
import { createHash } from 'node:crypto';
import { parse, YAMLParseError } from 'yaml';
import { DomainError } from './errors.ts';
import {
  formatGroupResource,
  type GroupResource,
  InvalidGroupResourceError,
  parseGroupResource,
  sameGroupResource,
} from './group-resource.ts';
import { storageGroupResource } from './storage-paths.ts';

export type ProviderType = 'kms' | 'aescbc' | 'aesgcm' | 'secretbox' | 'identity';

export interface ProviderSummary {
  type: ProviderType;
  /** kms only: the provider name (what etcd values carry in `k8s:enc:kms:v2:<name>:`). */
  name?: string;
  /** kms only: `v1` or `v2`; the apiserver defaults a missing one to `v1`. */
  apiVersion?: string;
}

export interface EncryptionConfigEntry {
  /** The resource patterns as written: `secrets`, `deployments.apps`, `*.`, `*.apps`, `*.*`. */
  resources: string[];
  /** In order: the first encrypts writes, all are tried on reads. */
  providers: ProviderSummary[];
}

export interface EncryptionConfigSummary {
  /** `sha256:` + hex of the file's bytes, as kube-apiserver 1.34 hashes it for its metrics. */
  hash: string;
  entries: EncryptionConfigEntry[];
}

export interface KmsCoverage {
  resources: string[];
  /** The provider is the entry's first, i.e. it encrypts that entry's writes. */
  write: boolean;
}

export interface ScopedResource {
  resource: GroupResource;
  /** The provider encrypts this resource's writes (it is first in its effective list). */
  write: boolean;
}

/** A file kube-apiserver would refuse as its EncryptionConfiguration. */
export class EncryptionConfigError extends DomainError {
  override readonly name = 'EncryptionConfigError';
}

const API_VERSION = 'apiserver.config.k8s.io/v1';
const KIND = 'EncryptionConfiguration';
const PROVIDER_TYPES: readonly ProviderType[] = [
  'kms',
  'aescbc',
  'aesgcm',
  'secretbox',
  'identity',
];
const IDENTITY: ProviderSummary = { type: 'identity' };
// Resources the apiserver keeps outside the REST registry; its validation rejects them.
const NON_REST = new Set(['apiserveripinfo', 'serviceipallocations', 'servicenodeportallocations']);

type Doc = Record<string, unknown>;
const isMapping = (v: unknown): v is Doc =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

function parseDocument(text: string): unknown {
  try {
    // prettyErrors off: the pretty form quotes the offending lines, which may hold key material.
    return parse(text, { prettyErrors: false });
  } catch (err) {
    if (!(err instanceof YAMLParseError)) throw err;
    throw new EncryptionConfigError(
      `not valid YAML or JSON at ${lineAndColumn(text, err.pos[0])}: ${err.code}`,
      { cause: err.code },
    );
  }
}

function summarizeProvider(p: unknown, where: string): ProviderSummary {
  if (!isMapping(p)) throw new EncryptionConfigError(`${where} is not a mapping`);
  const types = PROVIDER_TYPES.filter((t) => p[t] !== undefined && p[t] !== null);
  if (types.length !== 1) {
    throw new EncryptionConfigError(
      `${where} must set exactly one of ${PROVIDER_TYPES.join(', ')} (found ${types.length})`,
    );
  }
  const type = types[0] as ProviderType;
  if (type !== 'kms') return { type };
  const kms = p.kms;
  if (!isMapping(kms)) throw new EncryptionConfigError(`${where}.kms is not a mapping`);
  const { name, apiVersion = 'v1' } = kms;
  if (typeof name !== 'string' || name === '') {
    throw new EncryptionConfigError(`${where}.kms.name is required`);
  }
  if (apiVersion !== 'v1' && apiVersion !== 'v2') {
    throw new EncryptionConfigError(`${where}.kms.apiVersion must be v1 or v2`);
  }
  return { type, name, apiVersion };
}

function checkResourceName(pattern: string, where: string): GroupResource {
  const why = (reason: string) =>
    new EncryptionConfigError(`${where} "${pattern}": ${reason}`, { cause: pattern });
  if (pattern !== pattern.toLowerCase()) throw why('resource names are lower case');
  if (pattern === '*') throw why("use '*.' for every core resource or '*.*' for all");
  if (NON_REST.has(pattern)) throw why('not a REST resource, it cannot be encrypted');
  let gr: GroupResource;
  try {
    gr = parseGroupResource(pattern);
  } catch (err) {
    if (err instanceof InvalidGroupResourceError) throw why(err.message);
    throw err;
  }
  if (gr.group === 'events.k8s.io') throw why("events.k8s.io events are stored as 'events'");
  if (gr.group === 'extensions') throw why('the extensions group is no longer served');
  if (gr.group === '*' && gr.resource !== '*') throw why('one resource across groups');
  return gr;
}

// Inside one entry the apiserver refuses duplicates and a wildcard next to what it covers.
function checkEntryOverlap(entry: EncryptionConfigEntry, i: number): void {
  const grs = entry.resources.map(parseGroupResource);
  grs.forEach((a, j) => {
    for (const b of grs.slice(j + 1)) {
      const why = sameGroupResource(a, b)
        ? 'lists the same resource twice'
        : (a.group === '*' && a.resource === '*') ||
            (b.group === '*' && b.resource === '*') ||
            (a.group === b.group && (a.resource === '*' || b.resource === '*'))
          ? 'lists a wildcard next to a resource it covers'
          : undefined;
      if (why) {
        throw new EncryptionConfigError(
          `resources[${i}] ${why}: "${formatGroupResource(a)}", "${formatGroupResource(b)}"`,
        );
      }
    }
  });
}

// Across entries it refuses a resource that an earlier `*.group` or `*.*` pattern already covers,
// as that entry would never apply (masked).
function checkMasking(entries: EncryptionConfigEntry[]): void {
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    checkEntryOverlap(entry, i);
    for (const pattern of entry.resources) {
      const gr = parseGroupResource(pattern);
      const key = formatGroupResource(gr);
      for (const wider of [formatGroupResource({ group: gr.group, resource: '*' }), '*.*']) {
        if (seen.has(wider)) {
          throw new EncryptionConfigError(
            `resources[${i}] "${pattern}" is masked by the earlier pattern "${wider}"`,
          );
        }
      }
      seen.add(key);
    }
  });
}

// A KMS v2 name must be unique among all kms providers: etcd values carry it to pick the provider.
function checkKmsNames(entries: EncryptionConfigEntry[]): void {
  const seen = new Set<string>();
  for (const p of entries.flatMap((e) => e.providers)) {
    if (p.type !== 'kms' || !p.name) continue;
    if (p.apiVersion !== 'v1' && seen.has(p.name)) {
      throw new EncryptionConfigError(`kms provider name "${p.name}" is used twice`);
    }
    seen.add(p.name);
  }
}

/**
 * Parses an EncryptionConfiguration (YAML or JSON). Pass the file's bytes so the hash matches
 * the apiserver's; a string is hashed as UTF-8. Throws EncryptionConfigError on anything the
 * apiserver would refuse that matters for scope (kind, shape, resource patterns, masking).
 */
export function parseEncryptionConfig(raw: string | Uint8Array): EncryptionConfigSummary {
  const hash = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  const text = typeof raw === 'string' ? raw : new TextDecoder().decode(raw);
  const doc = parseDocument(text);
  if (!isMapping(doc)) throw new EncryptionConfigError('the file is empty or not a mapping');
  if (doc.kind !== KIND || doc.apiVersion !== API_VERSION) {
    throw new EncryptionConfigError(
      `expected apiVersion ${API_VERSION} kind ${KIND}, got ${String(doc.apiVersion)} ${String(doc.kind)}`,
    );
  }
  if (!Array.isArray(doc.resources) || doc.resources.length === 0) {
    throw new EncryptionConfigError('resources: at least one entry is required');
  }
  const entries = doc.resources.map((entry: unknown, i): EncryptionConfigEntry => {
    const where = `resources[${i}]`;
    if (!isMapping(entry)) throw new EncryptionConfigError(`${where} is not a mapping`);
    const { resources, providers } = entry;
    if (!Array.isArray(resources) || resources.length === 0) {
      throw new EncryptionConfigError(`${where}.resources: at least one resource is required`);
    }
    if (!Array.isArray(providers) || providers.length === 0) {
      throw new EncryptionConfigError(`${where}.providers: at least one provider is required`);
    }
    const patterns = resources.map((r: unknown, j) => {
      if (typeof r !== 'string') {
        throw new EncryptionConfigError(`${where}.resources[${j}] is not a string`);
      }
      checkResourceName(r, `${where}.resources[${j}]`);
      return r;
    });
    return {
      resources: patterns,
      providers: providers.map((p: unknown, j) => summarizeProvider(p, `${where}.providers[${j}]`)),
    };
  });
  checkMasking(entries);
  checkKmsNames(entries);
  return { hash, entries };
}

/**
 * The providers that apply to one concrete resource, in order, as the apiserver looks them up:
 * an exact `resource.group` pattern, else `*.<group>` (`*.` for core), else `*.*`; entries naming
 * the same pattern append in file order; identity alone when nothing matches. events.k8s.io
 * events follow core `events`, whose storage they share.
 */
export function providerForResource(
  summary: EncryptionConfigSummary,
  gr: GroupResource,
): ProviderSummary[] {
  const stored = storageGroupResource(gr);
  const byPattern = new Map<string, ProviderSummary[]>();
  for (const entry of summary.entries) {
    for (const pattern of entry.resources) {
      const key = formatGroupResource(parseGroupResource(pattern));
      byPattern.set(key, [...(byPattern.get(key) ?? []), ...entry.providers]);
    }
  }
  const lookups = [
    formatGroupResource(stored),
    formatGroupResource({ group: stored.group, resource: '*' }),
    '*.*',
  ];
  for (const key of lookups) {
    const found = byPattern.get(key);
    if (found) return found.map((p) => ({ ...p }));
  }
  return [{ ...IDENTITY }];
}

const isKms = (name: string) => (p: ProviderSummary | undefined) =>
  p?.type === 'kms' && p.name === name;

/** One item per entry that lists the kms provider `providerName`, patterns as written. */
export function kmsCoverage(summary: EncryptionConfigSummary, providerName: string): KmsCoverage[] {
  return summary.entries
    .filter((e) => e.providers.some(isKms(providerName)))
    .map((e) => ({ resources: [...e.resources], write: isKms(providerName)(e.providers[0]) }));
}

/**
 * Every served resource whose effective provider list contains the kms provider, with wildcards
 * resolved against `served`. A resource that shares another served resource's storage (events.k8s.io
 * events) is left out: rewriting one rewrites both.
 */
export function scopeFor(
  summary: EncryptionConfigSummary,
  providerName: string,
  served: readonly GroupResource[],
): ScopedResource[] {
  const scope: ScopedResource[] = [];
  for (const gr of served) {
    const stored = storageGroupResource(gr);
    if (!sameGroupResource(stored, gr) && served.some((s) => sameGroupResource(s, stored))) {
      continue;
    }
    const providers = providerForResource(summary, gr);
    const at = providers.findIndex(isKms(providerName));
    if (at >= 0)
      scope.push({ resource: { group: gr.group, resource: gr.resource }, write: at === 0 });
  }
  return scope;
}
