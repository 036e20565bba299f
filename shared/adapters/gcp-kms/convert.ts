// The client library's protobuf objects (longs as strings, Timestamp/Duration as {seconds, nanos})
// as plain values. Pure.

/** What google-gax yields for an int64: a string (longs: String), a number, or a Long. */
type Int64 = number | string | { toString(): string } | null | undefined;

export interface SecondsLike {
  seconds?: Int64;
  nanos?: number | null;
}

/** A Duration as whole seconds (nanos dropped; Cloud KMS schedules are whole seconds). */
export function durationSeconds(value: SecondsLike | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(String(value.seconds ?? 0));
  return Number.isFinite(seconds) ? seconds : undefined;
}

/** A Timestamp as an ISO 8601 string (millisecond precision, UTC). */
export function timestampIso(value: SecondsLike | null | undefined): string | undefined {
  if (!value) return undefined;
  const ms = Number(String(value.seconds ?? 0)) * 1000 + Math.floor((value.nanos ?? 0) / 1e6);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** An ISO 8601 time as a Timestamp. */
export function toTimestamp(iso: string): { seconds: number; nanos: number } {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new TypeError(`not an ISO 8601 time: "${iso}"`);
  return { seconds: Math.floor(ms / 1000), nanos: (ms - Math.floor(ms / 1000) * 1000) * 1e6 };
}

const VERSION =
  /^(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)\/cryptoKeyVersions\/([^/]+)$/;

/** `.../cryptoKeys/k/cryptoKeyVersions/N` as its CryptoKey name and version id `N`. */
export function splitVersionName(name: string): { key: string; versionId: string } | undefined {
  const [, key, versionId] = VERSION.exec(name) ?? [];
  return key && versionId ? { key, versionId } : undefined;
}
