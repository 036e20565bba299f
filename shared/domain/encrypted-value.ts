// Reads what etcd says about an object's encryption: the `k8s:enc:` prefix and, for KMS v2, the
// plaintext envelope fields (keyID above all) that prove which key protects it. Never decrypts.
// Pure: no I/O, so the verifier's judgement can be tested on bytes alone.

import { Field, MapField, Root, Type } from 'protobufjs/light.js';

/** How a stored value is protected, per its prefix; `unknown` = an unreadable `k8s:enc:` prefix. */
export type EncryptionKind =
  | 'kms-v2'
  | 'kms-v1'
  | 'aescbc'
  | 'aesgcm'
  | 'secretbox'
  | 'identity'
  | 'unknown';

/** Values of the KMS v2 `EncryptedDEKSourceType` enum (a const object: erasable syntax only). */
export const DekSourceType = { AES_GCM_KEY: 0, HKDF_SHA256_XNONCE_AES_GCM_SEED: 1 } as const;

/**
 * The classification of one stored value. `provider` is the name inside the prefix: the KMS
 * provider name for `kms-v1`/`kms-v2`, the key name for `aescbc`/`aesgcm`/`secretbox`.
 * `error` is set when the value is malformed; the other fields then hold what could be read.
 */
export interface EncryptionInfo {
  kind: EncryptionKind;
  provider?: string;
  keyID?: string;
  dekSourceType?: number;
  annotationKeys?: string[];
  error?: string;
}

/** A decoded KMS v2 `EncryptedObject`. Holds ciphertext: decode, inspect, drop. */
export interface KmsV2EncryptedObject {
  encryptedData: Uint8Array;
  keyID: string;
  encryptedDEKSource: Uint8Array;
  annotations: Record<string, Uint8Array>;
  encryptedDEKSourceType: number;
}

// Field numbers and types from k8s.io/apiserver .../envelope/kmsv2/v2/api.proto. keyID is read as
// bytes so invalid UTF-8 is reported, as Go's proto.Unmarshal would, instead of silently replaced.
const encryptedObjectType = new Type('EncryptedObject')
  .add(new Field('encryptedData', 1, 'bytes'))
  .add(new Field('keyID', 2, 'bytes'))
  .add(new Field('encryptedDEKSource', 3, 'bytes'))
  .add(new MapField('annotations', 4, 'string', 'bytes'))
  .add(new Field('encryptedDEKSourceType', 5, 'int32'));
// protobufjs resolves field types through a root, even for scalar-only messages.
new Root().add(encryptedObjectType);

const ENC = 'k8s:enc:';
const KNOWN_SCHEMES: ReadonlyArray<readonly [string, EncryptionKind]> = [
  ['kms:v2:', 'kms-v2'],
  ['kms:v1:', 'kms-v1'],
  ['aescbc:v1:', 'aescbc'],
  ['aesgcm:v1:', 'aesgcm'],
  ['secretbox:v1:', 'secretbox'],
];
// Limits the apiserver enforces on read (kmsv2 ValidateEncryptedObject, docs/kms-facts.md §1).
const MAX_KEY_ID_BYTES = 1024;
const MAX_DEK_SOURCE_BYTES = 1024;
const MAX_ANNOTATIONS_BYTES = 32 * 1024;
const COLON = 0x3a;
const utf8 = new TextDecoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function startsWith(value: Uint8Array, ascii: string, at = 0): boolean {
  if (value.length < at + ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) {
    if (value[at + i] !== ascii.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Decodes the protobuf `EncryptedObject` that follows a `k8s:enc:kms:v2:<provider>:` prefix and
 * checks it the way the apiserver does before decrypting.
 * @throws Error with a readable message when the bytes are not a valid EncryptedObject.
 */
export function decodeKmsV2EncryptedObject(body: Uint8Array): KmsV2EncryptedObject {
  const raw = encryptedObjectType.toObject(encryptedObjectType.decode(body), { defaults: true });
  let keyID: string;
  try {
    keyID = strictUtf8.decode(raw.keyID as Uint8Array);
  } catch {
    throw new Error('keyID is not valid UTF-8');
  }
  const obj: KmsV2EncryptedObject = {
    encryptedData: raw.encryptedData as Uint8Array,
    keyID,
    encryptedDEKSource: raw.encryptedDEKSource as Uint8Array,
    annotations: raw.annotations as Record<string, Uint8Array>,
    encryptedDEKSourceType: raw.encryptedDEKSourceType as number,
  };
  const problem = validateEncryptedObject(obj);
  if (problem) throw new Error(problem);
  return obj;
}

function validateEncryptedObject(o: KmsV2EncryptedObject): string | undefined {
  const t = o.encryptedDEKSourceType;
  if (t !== DekSourceType.AES_GCM_KEY && t !== DekSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED) {
    return `unknown encryptedDEKSourceType: ${t}`;
  }
  if (o.encryptedData.length === 0) return 'encryptedData is empty';
  const dekBytes = o.encryptedDEKSource.length;
  if (dekBytes === 0) return 'encryptedDEKSource is empty';
  if (dekBytes > MAX_DEK_SOURCE_BYTES) {
    return `encryptedDEKSource is ${dekBytes} bytes, over ${MAX_DEK_SOURCE_BYTES}`;
  }
  const encoder = new TextEncoder();
  const keyIDBytes = encoder.encode(o.keyID).length;
  if (keyIDBytes === 0) return 'keyID is empty';
  if (keyIDBytes > MAX_KEY_ID_BYTES)
    return `keyID is ${keyIDBytes} bytes, over ${MAX_KEY_ID_BYTES}`;
  let annotationBytes = 0;
  for (const [k, v] of Object.entries(o.annotations))
    annotationBytes += encoder.encode(k).length + v.length;
  if (annotationBytes > MAX_ANNOTATIONS_BYTES) {
    return `annotations are ${annotationBytes} bytes, over ${MAX_ANNOTATIONS_BYTES}`;
  }
  return undefined;
}

/**
 * Classifies a stored etcd value by its encryption prefix; for KMS v2 also reads keyID, DEK source
 * type and annotation keys from the plaintext envelope. Never throws: malformed input yields
 * `error`.
 */
export function classifyValue(value: Uint8Array): EncryptionInfo {
  if (!startsWith(value, ENC)) return { kind: 'identity' };
  const match = KNOWN_SCHEMES.find(([p]) => startsWith(value, p, ENC.length));
  if (!match) {
    const end = value.indexOf(COLON, ENC.length);
    const shown = utf8.decode(value.subarray(0, end < 0 ? ENC.length : end + 1));
    return { kind: 'unknown', error: `unrecognised encryption prefix ${JSON.stringify(shown)}` };
  }
  const [p, kind] = match;
  const nameStart = ENC.length + p.length;
  // The name ends at the next ':'. KMS v2 names cannot contain ':'; for the others this is the
  // apiserver's own reading too, since ciphertext follows straight after.
  const nameEnd = value.indexOf(COLON, nameStart);
  if (nameEnd < 0) return { kind, error: 'encryption prefix has no terminating ":"' };
  const provider = utf8.decode(value.subarray(nameStart, nameEnd));
  if (provider === '') return { kind, error: 'encryption prefix has an empty name' };
  if (kind !== 'kms-v2') return { kind, provider };
  try {
    const obj = decodeKmsV2EncryptedObject(value.subarray(nameEnd + 1));
    return {
      kind,
      provider,
      keyID: obj.keyID,
      dekSourceType: obj.encryptedDEKSourceType,
      annotationKeys: Object.keys(obj.annotations).sort(),
    };
  } catch (err) {
    return { kind, provider, error: `invalid KMS v2 EncryptedObject: ${messageOf(err)}` };
  }
}

/** An etcd key split into its parts. `namespace` is absent for cluster-scoped objects. */
export interface EtcdKey {
  resource: string;
  namespace?: string;
  name: string;
}

/** Result of {@link parseEtcdKey}: the parts, or why the key does not fit. */
export type EtcdKeyResult = ({ ok: true } & EtcdKey) | { ok: false; error: string };

/**
 * Splits `/<prefix>/<resource>/<namespace>/<name>` (or `/<prefix>/<resource>/<name>`).
 * Pass `resource` when known: it may contain `/` (`<group>/<plural>` for custom resources),
 * and only then is a two-segment remainder unambiguous.
 */
export function parseEtcdKey(
  key: string,
  { prefix = '/registry', resource }: { prefix?: string; resource?: string } = {},
): EtcdKeyResult {
  const base = `${prefix.replace(/\/+$/, '')}/`;
  if (!key.startsWith(base)) return { ok: false, error: `key is not under prefix ${base}` };
  let rest = key.slice(base.length);
  let res = resource;
  if (res === undefined) {
    const slash = rest.indexOf('/');
    if (slash <= 0) return { ok: false, error: 'key has no resource segment' };
    res = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  } else if (rest.startsWith(`${res}/`)) {
    rest = rest.slice(res.length + 1);
  } else {
    return { ok: false, error: `key is not under resource ${res}` };
  }
  const parts = rest.split('/');
  if (parts.some((p) => p === '') || parts.length > 2) {
    return { ok: false, error: 'key must end in <namespace>/<name> or <name>' };
  }
  const [first, second] = parts as [string, string | undefined];
  return second === undefined
    ? { ok: true, resource: res, name: first }
    : { ok: true, resource: res, namespace: first, name: second };
}

/** What the inspector says about one object: where it lives and how it is encrypted. */
export interface ObjectReport extends EncryptionInfo {
  key: string;
  resource: string;
  namespace?: string;
  name?: string;
}

/**
 * Builds the report for one etcd entry scanned under `resource`. The value is only read, never
 * kept. A key that does not parse keeps its raw form and gets an `error` (the encryption one wins).
 */
export function inspectEntry(
  key: string,
  value: Uint8Array,
  { prefix = '/registry', resource }: { prefix?: string; resource: string },
): ObjectReport {
  const info = classifyValue(value);
  const parsed = parseEtcdKey(key, { prefix, resource });
  if (!parsed.ok) return { key, resource, ...info, error: info.error ?? parsed.error };
  const { ok: _ok, ...where } = parsed;
  return { key, ...where, ...info };
}

/** One row of the summary: objects sharing resource, kind, provider and keyID. */
export interface SummaryRow {
  resource: string;
  kind: EncryptionKind;
  provider: string | null;
  keyID: string | null;
  count: number;
  errors: number;
}

/** Counts over a whole scan. `rows` are sorted so output is stable. */
export interface InspectionSummary {
  objects: number;
  errors: number;
  rows: SummaryRow[];
}

/** The summary of no objects, the start of a fold. */
export function emptySummary(): InspectionSummary {
  return { objects: 0, errors: 0, rows: [] };
}

function compareRows(a: SummaryRow, b: SummaryRow): number {
  const fields = ['resource', 'kind', 'provider', 'keyID'] as const;
  for (const f of fields) {
    const x = a[f] ?? '';
    const y = b[f] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Adds one report to a summary, returning a new summary (inputs are not mutated). */
export function addToSummary(summary: InspectionSummary, report: ObjectReport): InspectionSummary {
  const failed = report.error === undefined ? 0 : 1;
  const probe: SummaryRow = {
    resource: report.resource,
    kind: report.kind,
    provider: report.provider ?? null,
    keyID: report.keyID ?? null,
    count: 1,
    errors: failed,
  };
  const i = summary.rows.findIndex((r) => compareRows(r, probe) === 0);
  const rows = summary.rows.slice();
  const existing = rows[i];
  if (existing) {
    rows[i] = { ...existing, count: existing.count + 1, errors: existing.errors + failed };
  } else {
    rows.push(probe);
    rows.sort(compareRows);
  }
  return { objects: summary.objects + 1, errors: summary.errors + failed, rows };
}

/** Folds reports into counts per (resource, kind, provider, keyID). */
export function summariseReports(reports: Iterable<ObjectReport>): InspectionSummary {
  let summary = emptySummary();
  for (const r of reports) summary = addToSummary(summary, r);
  return summary;
}
