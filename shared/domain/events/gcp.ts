// GCP Cloud KMS admin activity as Eventarc delivers it: `google.cloud.audit.log.v1.written`
// CloudEvents whose data is a LogEntryData (docs/kms-facts.md §9). Scheduled rotation creates a new
// version AND makes it primary, and is not confirmed to be always audit-logged, so these events are
// hints next to a periodic sweep, never the only way a rotation is noticed. Pure: no I/O.
import { z } from 'zod';
import {
  clip,
  describeIssues,
  isParseError,
  isRecord,
  type KmsDanger,
  type KmsTriggerResult,
  parseJsonData,
  toIsoTime,
  unrelated,
} from './kms-trigger.ts';

export const GCP_AUDIT_LOG_CE_TYPE = 'google.cloud.audit.log.v1.written';
const KMS_SERVICE = 'cloudkms.googleapis.com';

const LogEntryData = z.object({
  protoPayload: z.object({
    serviceName: z.string().nullish(),
    methodName: z.string().nullish(),
    resourceName: z.string().nullish(),
    status: z.object({ code: z.number().nullish(), message: z.string().nullish() }).nullish(),
    request: z.record(z.string(), z.unknown()).nullish(),
    response: z.record(z.string(), z.unknown()).nullish(),
  }),
  timestamp: z.iso.datetime({ offset: true }).nullish(),
});

type Meaning =
  | { kind: 'rotated' }
  | { kind: 'config-changed' }
  | { kind: 'danger'; what: KmsDanger }
  | { kind: 'cleared'; clears: KmsDanger[]; leaves?: KmsDanger }
  /** UpdateCryptoKeyVersion: what it means depends on the state it set. */
  | { kind: 'version-state' };

const METHODS = new Map<string, Meaning>([
  // A new version; manual creation does not make it primary, scheduled rotation does. Either way
  // it is worth a fresh observation of `getCryptoKey().primary`.
  ['CreateCryptoKeyVersion', { kind: 'rotated' }],
  ['UpdateCryptoKeyPrimaryVersion', { kind: 'rotated' }],
  ['UpdateCryptoKey', { kind: 'config-changed' }], // e.g. a new rotation schedule
  ['DestroyCryptoKeyVersion', { kind: 'danger', what: 'version-destroyed' }],
  // A version restored before its destruction is DISABLED until enabled again.
  [
    'RestoreCryptoKeyVersion',
    { kind: 'cleared', clears: ['version-destroyed'], leaves: 'version-disabled' },
  ],
  ['UpdateCryptoKeyVersion', { kind: 'version-state' }],
]);

/** The state an UpdateCryptoKeyVersion set: from the response, else from the request. */
function stateSet(
  request: Record<string, unknown> | null | undefined,
  response: Record<string, unknown> | null | undefined,
): string | undefined {
  if (typeof response?.state === 'string') return response.state;
  const version = request?.cryptoKeyVersion;
  return isRecord(version) && typeof version.state === 'string' ? version.state : undefined;
}

/** UpdateCryptoKeyVersion as a danger (disabled), its end (enabled), or nothing of ours. */
function versionStateMeaning(
  request: Record<string, unknown> | null | undefined,
  response: Record<string, unknown> | null | undefined,
): Meaning | undefined {
  const state = stateSet(request, response);
  if (state === 'DISABLED') return { kind: 'danger', what: 'version-disabled' };
  if (state === 'ENABLED') return { kind: 'cleared', clears: ['version-disabled'] };
  return undefined;
}

const CRYPTO_KEY_NAME =
  /^(?:\/\/cloudkms\.googleapis\.com\/)?(projects\/[^/\s]+\/locations\/[^/\s]+\/keyRings\/[^/\s]+\/cryptoKeys\/[^/\s]+)(?:\/cryptoKeyVersions\/([^/\s]+))?$/;

/** A CryptoKey or CryptoKeyVersion resource name as the CryptoKey name and the version id. */
export function splitCryptoKeyName(name: string): { key: string; version?: string } | undefined {
  const [, key, version] = CRYPTO_KEY_NAME.exec(name) ?? [];
  if (!key) return undefined;
  return version ? { key, version } : { key };
}

function str(ext: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = ext?.[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function versionOf(value: unknown): string | undefined {
  return typeof value === 'string' ? splitCryptoKeyName(value)?.version : undefined;
}

/** The version a method names as new: the created version, or the new primary. */
function newVersion(
  method: string,
  request: Record<string, unknown> | null | undefined,
  response: Record<string, unknown> | null | undefined,
): string | undefined {
  if (method === 'CreateCryptoKeyVersion') return versionOf(response?.name);
  const id = request?.cryptoKeyVersionId;
  if (typeof id === 'string' && /^[0-9]+$/.test(id)) return id;
  const primary = response?.primary;
  return typeof primary === 'object' && primary !== null && 'name' in primary
    ? versionOf(primary.name)
    : undefined;
}

/**
 * An Eventarc Cloud Audit Log CloudEvent as a trigger. Service, method and resource come from
 * `protoPayload` or, when absent there, from the `servicename`/`methodname`/`resourcename`
 * extensions; method names may be short or full (`google.cloud.kms.v1.KeyManagementService.X`).
 */
export function parseGcpAuditEvent(ce: {
  type: string;
  data: unknown;
  time?: string;
  extensions?: Record<string, unknown>;
}): KmsTriggerResult {
  if (ce.type !== GCP_AUDIT_LOG_CE_TYPE) {
    return { error: `not a Cloud Audit Log CloudEvent type: "${clip(ce.type)}"` };
  }
  const json = parseJsonData('LogEntryData', ce.data);
  if (isParseError(json)) return json;
  const parsed = LogEntryData.safeParse(json.value);
  if (!parsed.success) return describeIssues('malformed LogEntryData', parsed.error);
  const p = parsed.data.protoPayload;
  const ext = ce.extensions;
  const service = p.serviceName || str(ext, 'servicename');
  if (!service) return { error: 'audit log event names no service (protoPayload.serviceName)' };
  if (service !== KMS_SERVICE) return unrelated(`audit log of ${clip(service)}, not Cloud KMS`);
  const fullMethod = p.methodName || str(ext, 'methodname');
  if (!fullMethod) return { error: 'audit log event names no method (protoPayload.methodName)' };
  const method = fullMethod.slice(fullMethod.lastIndexOf('.') + 1);
  if (p.status?.code) return unrelated(`Cloud KMS ${clip(method)} failed (code ${p.status.code})`);
  const listed = METHODS.get(method);
  const meaning =
    listed?.kind === 'version-state' ? versionStateMeaning(p.request, p.response) : listed;
  if (!meaning || meaning.kind === 'version-state') {
    return unrelated(`Cloud KMS ${clip(method)} does not concern rotation`);
  }
  const resource = p.resourceName || str(ext, 'resourcename');
  const name = resource ? splitCryptoKeyName(resource) : undefined;
  if (!name) {
    return { error: `Cloud KMS ${method}: resource is not a CryptoKey: "${clip(resource ?? '')}"` };
  }
  const at = toIsoTime(parsed.data.timestamp ?? ce.time);
  if (!at) return { error: `Cloud KMS ${method}: no readable timestamp` };
  const base = { cloud: 'gcp' as const, key: name.key, at, via: 'gcp-audit-log' };
  const version = name.version ? { version: name.version } : {};
  if (meaning.kind === 'danger') {
    return { kind: 'danger', ...base, what: meaning.what, ...version };
  }
  if (meaning.kind === 'cleared') {
    return {
      kind: 'cleared',
      ...base,
      clears: meaning.clears,
      ...(meaning.leaves ? { leaves: meaning.leaves } : {}),
      by: method,
      ...version,
    };
  }
  if (meaning.kind === 'config-changed') return { kind: 'config-changed', ...base };
  const created = newVersion(method, p.request, p.response) ?? name.version;
  return { kind: 'rotated', ...base, ...(created ? { newMaterialId: created } : {}) };
}
