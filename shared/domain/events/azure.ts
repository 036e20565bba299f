// Azure Key Vault events as Event Grid delivers them in the CloudEvents schema (docs/kms-facts.md
// §9), and the CloudEvents webhook abuse-protection handshake Event Grid makes before the first
// delivery. Azure/kubernetes-kms pins a key version, so a new version is a hint that a move to a new
// provider is due, not a stale key_id (docs/kms-facts.md §8). Pure: no I/O.
import { z } from 'zod';
import {
  clip,
  describeIssues,
  isParseError,
  type KmsDanger,
  type KmsTriggerResult,
  parseJsonData,
  toIsoTime,
  unrelated,
} from './kms-trigger.ts';

export const AZURE_KEY_VAULT_CE_PREFIX = 'Microsoft.KeyVault.';

const KEY_EVENTS = new Map<string, KmsDanger | 'rotated'>([
  ['Microsoft.KeyVault.KeyNewVersionCreated', 'rotated'],
  ['Microsoft.KeyVault.KeyNearExpiry', 'material-expired'],
  ['Microsoft.KeyVault.KeyExpired', 'material-expired'],
]);

const EpochSeconds = z.union([z.number(), z.string()]).nullish();

const KeyVaultData = z.object({
  Id: z.string().min(1),
  VaultName: z.string().min(1),
  ObjectType: z.string().min(1),
  ObjectName: z.string().min(1),
  Version: z.string().min(1),
  NBF: EpochSeconds,
  EXP: EpochSeconds,
});

// https://<vault>.vault.azure.net/keys/<name>[/<version>] (also sovereign clouds and Managed HSM).
const KEY_ID = /^(https:\/\/[^/\s]+\/keys\/[^/\s]+)(?:\/([^/\s]+))?\/?$/;

/**
 * A Key Vault CloudEvent as a trigger: `KeyNewVersionCreated` is `rotated`, `KeyNearExpiry` and
 * `KeyExpired` are `danger`, other Key Vault events (secrets, certificates, policy changes) are
 * `unrelated`. `key` is the key id without version; the version goes to `newMaterialId`.
 */
export function parseAzureEvent(ce: {
  type: string;
  data: unknown;
  time?: string;
}): KmsTriggerResult {
  if (!ce.type.startsWith(AZURE_KEY_VAULT_CE_PREFIX)) {
    return { error: `not an Azure Key Vault CloudEvent type: "${clip(ce.type)}"` };
  }
  const what = KEY_EVENTS.get(ce.type);
  if (!what) return unrelated(`Key Vault event ${clip(ce.type)} does not concern key rotation`);
  const json = parseJsonData('Key Vault event data', ce.data);
  if (isParseError(json)) return json;
  const parsed = KeyVaultData.safeParse(json.value);
  if (!parsed.success) return describeIssues('malformed Key Vault event data', parsed.error);
  const d = parsed.data;
  if (d.ObjectType !== 'Key') return { error: `${ce.type} for ObjectType "${clip(d.ObjectType)}"` };
  const [, key, version] = KEY_ID.exec(d.Id) ?? [];
  if (!key) return { error: `Key Vault event Id is not a key id URL: "${clip(d.Id)}"` };
  if (version && version !== d.Version) {
    return { error: `Key Vault event Id version "${clip(version)}" differs from Version` };
  }
  const at = toIsoTime(ce.time);
  if (!at) return { error: `${ce.type} without a readable time attribute` };
  const base = { cloud: 'azure' as const, key, at, via: 'azure-event-grid' };
  if (what !== 'rotated') return { kind: 'danger', ...base, what, version: d.Version };
  return { kind: 'rotated', ...base, newMaterialId: d.Version };
}

export type AbuseProtectionResponse =
  | { status: 200; headers: { 'WebHook-Allowed-Origin': string; 'WebHook-Allowed-Rate': '*' } }
  | { status: 400; error: string };

// A DNS name (Event Grid sends `eventgrid.azure.net`), optionally with a port: nothing that could
// split or inject a response header.
const ORIGIN = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,5})?$/;

/**
 * The answer to the CloudEvents webhook validation handshake (an OPTIONS request carrying
 * `WebHook-Request-Origin`): allow that origin at any rate. Header names match case-insensitively.
 */
export function abuseProtectionResponse(
  headers: Record<string, string | undefined>,
): AbuseProtectionResponse {
  const entry = Object.entries(headers).find(
    ([name]) => name.toLowerCase() === 'webhook-request-origin',
  );
  const origin = entry?.[1]?.trim();
  if (!origin) return { status: 400, error: 'missing WebHook-Request-Origin header' };
  if (!ORIGIN.test(origin)) {
    return { status: 400, error: `WebHook-Request-Origin is not a host name: "${clip(origin)}"` };
  }
  return {
    status: 200,
    headers: { 'WebHook-Allowed-Origin': origin, 'WebHook-Allowed-Rate': '*' },
  };
}
