// The Admin Activity audit entries the local server writes for what it changed, and the Eventarc
// CloudEvent (`google.cloud.audit.log.v1.written`, structured mode) Google would deliver for each,
// so e2e tests can post the exact event a real rotation would produce (docs/kms-facts.md §9).
import { createHash } from 'node:crypto';
import type { Json } from './render.ts';

/** One Admin Activity entry: the short method name and proto3 JSON request/response. */
export interface AuditRecord {
  methodName: string;
  resourceName: string;
  request: Json;
  response: Json;
  /** RFC 3339, when the change was made. */
  timestamp: string;
}

export const AUDIT_LOG_CE_TYPE = 'google.cloud.audit.log.v1.written';
const SERVICE = 'cloudkms.googleapis.com';
const DATASCHEMA =
  'https://googleapis.github.io/google-cloudevents/jsonschema/google/events/cloud/audit/v1/LogEntryData.json';

const PERMISSIONS: Record<string, string> = {
  CreateKeyRing: 'cloudkms.keyRings.create',
  CreateCryptoKey: 'cloudkms.cryptoKeys.create',
  CreateCryptoKeyVersion: 'cloudkms.cryptoKeyVersions.create',
  UpdateCryptoKeyPrimaryVersion: 'cloudkms.cryptoKeys.update',
  UpdateCryptoKey: 'cloudkms.cryptoKeys.update',
  DestroyCryptoKeyVersion: 'cloudkms.cryptoKeyVersions.destroy',
};

const NAME =
  /^projects\/([^/]+)\/locations\/([^/]+)(?:\/keyRings\/([^/]+)(?:\/cryptoKeys\/([^/]+))?)?/;

function monitoredResource(resourceName: string): Json {
  const [, project = '', location = '', ring, key] = NAME.exec(resourceName) ?? [];
  const labels: Record<string, string> = { project_id: project, location };
  if (ring) labels.key_ring_id = ring;
  if (key) labels.crypto_key_id = key;
  return { type: key ? 'cloudkms_cryptokey' : 'cloudkms_keyring', labels };
}

export interface AuditCloudEventOptions {
  /** Who made the change; default: a user, as a manual rotation would show. */
  principalEmail?: string;
  /** Use `google.cloud.kms.v1.KeyManagementService.<Method>` instead of the short name. */
  fullMethodName?: boolean;
  /** CloudEvent id; default: derived from the entry, so the same entry gives the same id. */
  id?: string;
}

/** A structured-mode CloudEvent (JSON object with `data`), as Eventarc would deliver the entry. */
export function auditLogCloudEvent(
  record: AuditRecord,
  {
    principalEmail = 'platform-admin@example.com',
    fullMethodName = false,
    id,
  }: AuditCloudEventOptions = {},
): Json {
  const project = NAME.exec(record.resourceName)?.[1] ?? 'unknown-project';
  const method = fullMethodName
    ? `google.cloud.kms.v1.KeyManagementService.${record.methodName}`
    : record.methodName;
  const insertId = createHash('sha256').update(JSON.stringify(record)).digest('hex').slice(0, 16);
  return {
    specversion: '1.0',
    id: id ?? `${project}${insertId}`,
    source: `//cloudaudit.googleapis.com/projects/${project}/logs/activity`,
    type: AUDIT_LOG_CE_TYPE,
    time: record.timestamp,
    datacontenttype: 'application/json; charset=utf-8',
    dataschema: DATASCHEMA,
    subject: `${SERVICE}/${record.resourceName}`,
    servicename: SERVICE,
    methodname: method,
    resourcename: record.resourceName,
    recordedtime: record.timestamp,
    data: {
      protoPayload: {
        '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
        status: {},
        authenticationInfo: { principalEmail },
        requestMetadata: {
          callerIp: '127.0.0.1',
          callerSuppliedUserAgent: 'rekey-test gcp-kms-server',
          requestAttributes: { time: record.timestamp, auth: {} },
          destinationAttributes: {},
        },
        serviceName: SERVICE,
        methodName: method,
        authorizationInfo: [
          {
            resource: record.resourceName,
            permission: PERMISSIONS[record.methodName] ?? `cloudkms.${record.methodName}`,
            granted: true,
            resourceAttributes: {},
          },
        ],
        resourceName: record.resourceName,
        request: record.request,
        response: record.response,
      },
      insertId,
      resource: monitoredResource(record.resourceName),
      timestamp: record.timestamp,
      severity: 'NOTICE',
      logName: `projects/${project}/logs/cloudaudit.googleapis.com%2Factivity`,
      receiveTimestamp: record.timestamp,
    },
  };
}
