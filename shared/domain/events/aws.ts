// AWS KMS events as EventBridge delivers them (docs/kms-facts.md §9): the native `aws.kms` events
// (`KMS CMK Rotation`, `KMS CMK Deletion`, `KMS Imported Key Material Expiration`) and CloudTrail
// records of KMS calls, plus the Knative envelopes they arrive in. Pure: no I/O; never throws.
import { z } from 'zod';
import {
  clip,
  describeIssues,
  isParseError,
  isRecord,
  type KmsDanger,
  type KmsTriggerResult,
  type ParseError,
  parseJsonData,
  toIsoTime,
  unrelated,
} from './kms-trigger.ts';

/** TriggerMesh AWSEventBridgeSource; also the type to give an EventBridge API destination. */
export const AWS_EVENTBRIDGE_CE_TYPE = 'com.amazon.events.event';
/** Knative IntegrationSource aws-sqs: data is the SQS message body. */
export const AWS_SQS_CE_TYPE = 'dev.knative.connector.event.aws-sqs';

const CLOUDTRAIL_DETAIL_TYPES = new Set([
  'AWS API Call via CloudTrail',
  'AWS Service Event via CloudTrail',
]);

const Time = z.iso.datetime({ offset: true });

const EventBridgeEvent = z.object({
  'detail-type': z.string().min(1),
  source: z.string().min(1),
  account: z.string().nullish(),
  time: Time,
  region: z.string().nullish(),
  resources: z.array(z.string()).nullish(),
  detail: z.record(z.string(), z.unknown()),
});
type EventBridgeEvent = z.infer<typeof EventBridgeEvent>;

const KmsDetail = z.object({
  'key-id': z.string().min(1),
  'rotation-type': z.string().nullish(),
  'previous-key-material-id': z.string().min(1).nullish(),
  'current-key-material-id': z.string().min(1).nullish(),
});

const KeyIdHolder = z.object({ keyId: z.string().min(1).nullish() }).nullish();

const CloudTrailDetail = z.object({
  eventSource: z.string().min(1),
  eventName: z.string().min(1),
  eventTime: Time.nullish(),
  awsRegion: z.string().nullish(),
  recipientAccountId: z.string().nullish(),
  errorCode: z.string().nullish(),
  requestParameters: KeyIdHolder,
  responseElements: KeyIdHolder,
  serviceEventDetails: KeyIdHolder,
  resources: z.array(z.object({ ARN: z.string().nullish(), type: z.string().nullish() })).nullish(),
});

type Meaning =
  | { kind: 'rotated' }
  | { kind: 'config-changed' }
  | { kind: 'danger'; what: KmsDanger }
  | { kind: 'cleared'; clears: KmsDanger[]; leaves?: KmsDanger };

// A Map, not an object literal: an eventName such as "constructor" must not find a prototype key.
const CLOUDTRAIL_EVENTS = new Map<string, Meaning>([
  ['RotateKeyOnDemand', { kind: 'rotated' }],
  ['RotateKey', { kind: 'rotated' }], // the service event of an automatic (or on-demand) rotation
  ['EnableKeyRotation', { kind: 'config-changed' }],
  ['DisableKeyRotation', { kind: 'config-changed' }],
  // A disabled key decrypts nothing: every object under it is unreadable until EnableKey.
  ['DisableKey', { kind: 'danger', what: 'disabled' }],
  ['EnableKey', { kind: 'cleared', clears: ['disabled'] }],
  ['ScheduleKeyDeletion', { kind: 'danger', what: 'deletion-scheduled' }],
  // A cancelled deletion leaves the key Disabled until EnableKey.
  ['CancelKeyDeletion', { kind: 'cleared', clears: ['deletion-scheduled'], leaves: 'disabled' }],
  // The service event at the end of the waiting period: the same news as `KMS CMK Deletion`.
  ['DeleteKey', { kind: 'danger', what: 'deleted' }],
  // Imported key material: KMS deleting it at its expiry (a service event; the same news as
  // `KMS Imported Key Material Expiration`), an operator deleting it, and importing it again.
  ['DeleteExpiredKeyMaterial', { kind: 'danger', what: 'material-expired' }],
  ['DeleteImportedKeyMaterial', { kind: 'danger', what: 'material-deleted' }],
  ['ImportKeyMaterial', { kind: 'cleared', clears: ['material-expired', 'material-deleted'] }],
]);

const KMS_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key|alias)\/\S+$/;

function partition(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}

/** A key id, alias or ARN as an ARN; undefined when region or account is needed and missing. */
function toArn(keyId: string, region?: string | null, account?: string | null): string | undefined {
  if (keyId.startsWith('arn:')) return KMS_ARN.test(keyId) ? keyId : undefined;
  if (!region || !account) return undefined;
  const resource = keyId.startsWith('alias/') ? keyId : `key/${keyId}`;
  return `arn:${partition(region)}:kms:${region}:${account}:${resource}`;
}

function atOf(...times: (string | null | undefined)[]): string | undefined {
  for (const t of times) if (t) return toIsoTime(t);
  return undefined;
}

const NATIVE_EVENTS = new Map<string, KmsDanger | 'rotated'>([
  ['KMS CMK Rotation', 'rotated'],
  ['KMS CMK Deletion', 'deleted'],
  ['KMS Imported Key Material Expiration', 'material-expired'],
]);

function parseNative(ev: EventBridgeEvent): KmsTriggerResult {
  const detailType = ev['detail-type'];
  const what = NATIVE_EVENTS.get(detailType);
  if (!what) return unrelated(`AWS KMS event "${clip(detailType)}" does not concern rotation`);
  const detail = KmsDetail.safeParse(ev.detail);
  if (!detail.success) return describeIssues(`malformed "${detailType}" detail`, detail.error);
  const fromResources = ev.resources?.find((r) => KMS_ARN.test(r));
  const key = fromResources ?? toArn(detail.data['key-id'], ev.region, ev.account);
  if (!key) return { error: `"${detailType}": no key ARN in resources and no region/account` };
  const at = atOf(ev.time);
  if (!at) return { error: `"${detailType}": unreadable time` };
  const base = { cloud: 'aws' as const, key, at, via: 'aws-eventbridge' };
  if (what !== 'rotated') return { kind: 'danger', ...base, what };
  const current = detail.data['current-key-material-id'];
  const previous = detail.data['previous-key-material-id'];
  return {
    kind: 'rotated',
    ...base,
    ...(current ? { newMaterialId: current } : {}),
    ...(previous ? { previousMaterialId: previous } : {}),
  };
}

function parseCloudTrail(ev: EventBridgeEvent): KmsTriggerResult {
  const parsed = CloudTrailDetail.safeParse(ev.detail);
  if (!parsed.success) return describeIssues('malformed CloudTrail detail', parsed.error);
  const d = parsed.data;
  if (d.eventSource !== 'kms.amazonaws.com') {
    return unrelated(`CloudTrail record from ${clip(d.eventSource)}, not kms.amazonaws.com`);
  }
  const name = clip(d.eventName);
  if (d.errorCode) return unrelated(`CloudTrail ${name} failed (${clip(d.errorCode)})`);
  const meaning = CLOUDTRAIL_EVENTS.get(d.eventName);
  if (!meaning) return unrelated(`CloudTrail ${name} does not concern rotation`);
  const region = d.awsRegion ?? ev.region;
  const account = d.recipientAccountId ?? ev.account;
  const keyId =
    d.requestParameters?.keyId ?? d.serviceEventDetails?.keyId ?? d.responseElements?.keyId;
  const key =
    d.resources?.map((r) => r.ARN).find((arn) => arn && KMS_ARN.test(arn)) ??
    [d.responseElements?.keyId, d.requestParameters?.keyId].find((k) => k && KMS_ARN.test(k)) ??
    (keyId ? toArn(keyId, region, account) : undefined);
  if (!key) return { error: `CloudTrail ${name}: no KMS key ARN or key id with region/account` };
  const at = atOf(d.eventTime, ev.time);
  if (!at) return { error: `CloudTrail ${name}: unreadable time` };
  const base = { cloud: 'aws' as const, key, at, via: 'aws-cloudtrail' };
  if (meaning.kind === 'danger') return { kind: 'danger', ...base, what: meaning.what };
  if (meaning.kind === 'cleared') {
    return {
      kind: 'cleared',
      ...base,
      clears: meaning.clears,
      ...(meaning.leaves ? { leaves: meaning.leaves } : {}),
      by: d.eventName,
    };
  }
  return { kind: meaning.kind, ...base };
}

/**
 * A raw EventBridge event (as EventBridge, an API destination or an SQS queue delivers it) as a
 * trigger. Events from other services are `unrelated`; a malformed event is `{ error }`.
 */
export function parseAwsEvent(ev: unknown): KmsTriggerResult {
  if (!isRecord(ev)) return { error: 'not an EventBridge event: expected a JSON object' };
  const parsed = EventBridgeEvent.safeParse(ev);
  if (!parsed.success) return describeIssues('malformed EventBridge event', parsed.error);
  const e = parsed.data;
  if (e.source !== 'aws.kms') return unrelated(`EventBridge event from ${clip(e.source)}`);
  if (CLOUDTRAIL_DETAIL_TYPES.has(e['detail-type'])) return parseCloudTrail(e);
  return parseNative(e);
}

/** Which Knative envelope an EventBridge event came in. */
export type AwsEnvelope = 'triggermesh' | 'api-destination' | 'sqs' | 'sqs-sns';

/**
 * The EventBridge event inside a CloudEvent: TriggerMesh AWSEventBridgeSource and EventBridge API
 * destinations (`com.amazon.events.event`, data = the event; TriggerMesh adds the
 * `awseventssource` extension), Knative IntegrationSource aws-sqs (data = the SQS body, the event
 * itself or an SNS `Notification` whose `Message` is the event).
 */
export function unwrapAwsCloudEvent(ce: {
  type: string;
  data: unknown;
  extensions?: Record<string, unknown>;
}): { event: unknown; envelope: AwsEnvelope } | ParseError {
  if (ce.type === AWS_EVENTBRIDGE_CE_TYPE) {
    const data = parseJsonData('CloudEvent data', ce.data);
    if (isParseError(data)) return data;
    if (!isRecord(data.value)) return { error: 'CloudEvent data is not an EventBridge event' };
    const envelope = ce.extensions?.awseventssource ? 'triggermesh' : 'api-destination';
    return { event: data.value, envelope };
  }
  if (ce.type === AWS_SQS_CE_TYPE) {
    const body = parseJsonData('SQS message body', ce.data);
    if (isParseError(body)) return body;
    if (!isRecord(body.value)) return { error: 'SQS message body is not a JSON object' };
    if (body.value.Type !== 'Notification') return { event: body.value, envelope: 'sqs' };
    const message = body.value.Message;
    if (typeof message !== 'string') return { error: 'SNS notification without a Message text' };
    const inner = parseJsonData('SNS Message', message);
    if (isParseError(inner)) return inner;
    return { event: inner.value, envelope: 'sqs-sns' };
  }
  return { error: `not an AWS event CloudEvent type: "${clip(ce.type)}"` };
}

/** Unwraps an AWS CloudEvent and parses the EventBridge event inside. */
export function parseAwsCloudEvent(ce: {
  type: string;
  data: unknown;
  extensions?: Record<string, unknown>;
}): KmsTriggerResult {
  const unwrapped = unwrapAwsCloudEvent(ce);
  return isParseError(unwrapped) ? unwrapped : parseAwsEvent(unwrapped.event);
}
