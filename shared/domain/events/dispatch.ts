// Routes a KMS CloudEvent, by type, to the parser of its cloud and event form, so the kms-event
// function has one call from a received CloudEvent to a normalised trigger. Pure: no I/O.
import { AWS_EVENTBRIDGE_CE_TYPE, AWS_SQS_CE_TYPE, parseAwsCloudEvent } from './aws.ts';
import { AZURE_KEY_VAULT_CE_PREFIX, parseAzureEvent } from './azure.ts';
import { GCP_AUDIT_LOG_CE_TYPE, parseGcpAuditEvent } from './gcp.ts';
import { clip, type KmsTriggerResult } from './kms-trigger.ts';

/** The parts of a received CloudEvent the parsers read; `extensions` holds non-core attributes. */
export interface KmsCloudEvent {
  type: string;
  source?: string;
  time?: string;
  data: unknown;
  extensions?: Record<string, unknown>;
}

/** The CloudEvent types (and the Key Vault type prefix) the kms-event function accepts. */
export const KMS_CE_TYPES = [
  AWS_EVENTBRIDGE_CE_TYPE,
  AWS_SQS_CE_TYPE,
  GCP_AUDIT_LOG_CE_TYPE,
  `${AZURE_KEY_VAULT_CE_PREFIX}*`,
] as const;

/**
 * The trigger a KMS CloudEvent carries: `unrelated` for a well-formed event of another service or
 * operation, `{ error }` for a malformed event or a type this function does not take (a permanent
 * rejection, 400/422 under Knative's retry rules).
 */
export function classifyKmsCloudEvent(ce: KmsCloudEvent): KmsTriggerResult {
  if (typeof ce.type !== 'string' || ce.type === '') return { error: 'CloudEvent without a type' };
  if (ce.type === AWS_EVENTBRIDGE_CE_TYPE || ce.type === AWS_SQS_CE_TYPE) {
    return parseAwsCloudEvent(ce);
  }
  if (ce.type === GCP_AUDIT_LOG_CE_TYPE) return parseGcpAuditEvent(ce);
  if (ce.type.startsWith(AZURE_KEY_VAULT_CE_PREFIX)) return parseAzureEvent(ce);
  return {
    error: `unsupported event type "${clip(ce.type)}"; accepted: ${KMS_CE_TYPES.join(', ')}`,
  };
}
