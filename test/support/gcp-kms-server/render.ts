// The store's records in the two forms they leave the server in: gRPC wire objects (proto-loader,
// snake_case) for responses, and proto3 JSON (camelCase, RFC 3339 times, "Ns" durations) for the
// request/response an audit log entry carries.
import type { CryptoKeyVersionWire, CryptoKeyWire, SecondsWire } from './proto.ts';
import type { KeyRecord, VersionRecord } from './records.ts';
import type { KmsStore } from './store.ts';

const ALGORITHM = 'GOOGLE_SYMMETRIC_ENCRYPTION';
const PROTECTION = 'SOFTWARE';

export function timestampWire(date: Date | undefined): SecondsWire | null {
  if (!date) return null;
  const ms = date.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (((ms % 1000) + 1000) % 1000) * 1e6 };
}

export function durationWire(seconds: number | undefined): SecondsWire | null {
  return seconds === undefined ? null : { seconds: String(seconds), nanos: 0 };
}

/** A wire Timestamp/Duration as milliseconds; undefined when unset. */
export function wireMillis(value: SecondsWire | null | undefined): number | undefined {
  if (!value) return undefined;
  return Number(value.seconds) * 1000 + Math.floor((value.nanos ?? 0) / 1e6);
}

export function wireDate(value: SecondsWire | null | undefined): Date | undefined {
  const ms = wireMillis(value);
  return ms === undefined ? undefined : new Date(ms);
}

export function wireSeconds(value: SecondsWire | null | undefined): number | undefined {
  const ms = wireMillis(value);
  return ms === undefined ? undefined : ms / 1000;
}

export function versionWire(v: VersionRecord): CryptoKeyVersionWire {
  return {
    name: v.name,
    state: v.state,
    protection_level: PROTECTION,
    algorithm: ALGORITHM,
    create_time: timestampWire(v.createTime),
    generate_time: timestampWire(v.generateTime),
    destroy_time: timestampWire(v.destroyTime),
    destroy_event_time: timestampWire(v.destroyEventTime),
  };
}

export function cryptoKeyWire(store: KmsStore, k: KeyRecord): CryptoKeyWire {
  const primary = store.primaryOf(k);
  return {
    name: k.name,
    primary: primary ? versionWire(primary) : null,
    purpose: k.purpose,
    create_time: timestampWire(k.createTime),
    next_rotation_time: timestampWire(k.nextRotationTime),
    ...(k.rotationPeriodSeconds !== undefined
      ? {
          rotation_period: durationWire(k.rotationPeriodSeconds),
          rotation_schedule: 'rotation_period' as const,
        }
      : {}),
    version_template: { protection_level: PROTECTION, algorithm: ALGORITHM },
    labels: { ...k.labels },
    destroy_scheduled_duration: durationWire(k.destroyScheduledSeconds),
  };
}

export type Json = Record<string, unknown>;

/** A proto3 JSON message with its `@type`, as audit logs carry requests and responses. */
export function typed(type: string, body: Json): Json {
  return { '@type': `type.googleapis.com/google.cloud.kms.v1.${type}`, ...body };
}

export function versionJson(v: VersionRecord): Json {
  return {
    name: v.name,
    state: v.state,
    protectionLevel: PROTECTION,
    algorithm: ALGORITHM,
    createTime: v.createTime.toISOString(),
    generateTime: v.generateTime.toISOString(),
    ...(v.destroyTime ? { destroyTime: v.destroyTime.toISOString() } : {}),
    ...(v.destroyEventTime ? { destroyEventTime: v.destroyEventTime.toISOString() } : {}),
  };
}

export function cryptoKeyJson(store: KmsStore, k: KeyRecord): Json {
  const primary = store.primaryOf(k);
  return {
    name: k.name,
    ...(primary ? { primary: versionJson(primary) } : {}),
    purpose: k.purpose,
    createTime: k.createTime.toISOString(),
    ...(k.nextRotationTime ? { nextRotationTime: k.nextRotationTime.toISOString() } : {}),
    ...(k.rotationPeriodSeconds !== undefined
      ? { rotationPeriod: `${k.rotationPeriodSeconds}s` }
      : {}),
    versionTemplate: { protectionLevel: PROTECTION, algorithm: ALGORITHM },
    ...(Object.keys(k.labels).length > 0 ? { labels: { ...k.labels } } : {}),
    destroyScheduledDuration: `${k.destroyScheduledSeconds}s`,
  };
}
