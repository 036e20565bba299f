// An EncryptionConfiguration as rekey rewrites it: the whole document, with every field the
// operator wrote (KMS endpoints, timeouts, local keys), so a later revision keeps what rekey does
// not touch. It is validated by the same parser as the scope (../encryption-config.ts) before and
// after every change. Key material stays inside the document: errors name positions and provider
// keys (type, kms name, key name), never a secret.
import { parse, stringify } from 'yaml';
import { parseEncryptionConfig } from '../encryption-config.ts';
import { formatGroupResource, parseGroupResource } from '../group-resource.ts';

/** One provider as written, e.g. `{ kms: { apiVersion: 'v2', name, endpoint } }`. */
export type RawProvider = Record<string, unknown>;

export interface RawEntry {
  resources: string[];
  providers: RawProvider[];
}

export interface RawEncryptionConfig {
  apiVersion: string;
  kind: string;
  resources: RawEntry[];
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and validates a whole document (throws EncryptionConfigError like the scope parser). */
export function parseEncryptionDocument(text: string): RawEncryptionConfig {
  parseEncryptionConfig(text); // validation; its messages never quote file content
  return parse(text, { prettyErrors: false }) as RawEncryptionConfig;
}

/** Renders a document as YAML; the result is validated before it is returned. */
export function renderEncryptionDocument(doc: RawEncryptionConfig): string {
  const text = stringify(doc, { lineWidth: 0 });
  parseEncryptionConfig(text);
  return text;
}

/** The provider's type: `kms`, `aescbc`, `aesgcm`, `secretbox` or `identity`. */
export function providerType(p: RawProvider): string {
  return Object.keys(p).find((k) => p[k] !== undefined && p[k] !== null) ?? '';
}

function keyNames(p: RawProvider, type: string): string[] {
  const body = p[type];
  if (!isMapping(body) || !Array.isArray(body.keys)) return [];
  return body.keys.map((k: unknown) => (isMapping(k) ? String(k.name ?? '') : ''));
}

/**
 * What a provider can read, as keys the etcd value prefix names: `identity`, `kms:<name>`,
 * `aescbc:<key name>` (one per key). Two providers with a key in common read the same values.
 */
export function readKeys(p: RawProvider): string[] {
  const type = providerType(p);
  if (type === 'identity') return ['identity'];
  if (type === 'kms') {
    const kms = p.kms;
    return [`kms:${isMapping(kms) ? String(kms.name ?? '') : ''}`];
  }
  return keyNames(p, type).map((n) => `${type}:${n}`);
}

/** What a provider writes with: its first key (the only one for identity and kms). */
export function writeKey(p: RawProvider): string {
  return readKeys(p)[0] ?? providerType(p);
}

/** A provider's name for messages and status: its write key. Never key material. */
export const describeProvider = writeKey;

/**
 * The providers that apply to one resource pattern in this document, the apiserver's way
 * (exact pattern, else `*.<group>`, else `*.*`; entries naming the pattern append in order),
 * or undefined when nothing covers it (the apiserver then stores it unencrypted).
 */
export function providersFor(doc: RawEncryptionConfig, pattern: string): RawProvider[] | undefined {
  const gr = parseGroupResource(pattern);
  const lookups = [
    formatGroupResource(gr),
    formatGroupResource({ group: gr.group, resource: '*' }),
    '*.*',
  ];
  for (const key of lookups) {
    const found = doc.resources
      .filter((e) => e.resources.some((r) => formatGroupResource(parseGroupResource(r)) === key))
      .flatMap((e) => e.providers);
    if (found.length > 0) return found;
  }
  return undefined;
}

/**
 * The revision as one node writes it: each kms provider named in `endpoints` gets that node's
 * plugin endpoint (a socket path may differ per node). Everything else is kept as written.
 */
export function withKmsEndpoints(
  doc: RawEncryptionConfig,
  endpoints: Readonly<Record<string, string>>,
): RawEncryptionConfig {
  const next = structuredClone(doc);
  for (const p of next.resources.flatMap((e) => e.providers)) {
    const kms = p.kms;
    if (!isMapping(kms) || typeof kms.name !== 'string') continue;
    const endpoint = endpoints[kms.name];
    if (endpoint) kms.endpoint = endpoint;
  }
  return next;
}
