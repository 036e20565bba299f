// AWS JSON 1.1 wire details of the local KMS: faults as `{ "__type", "message" }`, and readers for
// request members that answer a bad one the way KMS does (ValidationException and friends).

export type JsonObject = Record<string, unknown>;

/** A KMS error answer. Client faults are 400 (as AWS sends them), server faults 500. */
export class KmsFault extends Error {
  override readonly name = 'KmsFault';
  readonly type: string;
  readonly status: number;

  constructor(type: string, message: string, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

export function validation(member: string, constraint: string): KmsFault {
  return new KmsFault(
    'ValidationException',
    `1 validation error detected: Value at '${member}' failed to satisfy constraint: ${constraint}`,
  );
}

export function requiredString(body: JsonObject, member: string): string {
  const value = body[member];
  if (typeof value !== 'string' || value === '') {
    throw validation(member, 'Member must not be null');
  }
  return value;
}

export function optionalString(body: JsonObject, member: string): string | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw validation(member, 'Member must be a string');
  return value;
}

export function optionalInt(
  body: JsonObject,
  member: string,
  min: number,
  max: number,
): number | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw validation(member, `Member must have value between ${min} and ${max}`);
  }
  return value;
}

/** A base64 blob member (the SDK sends Uint8Array members as base64 strings). */
export function requiredBlob(body: JsonObject, member: string, maxBytes: number): Buffer {
  const value = body[member];
  if (typeof value !== 'string' || value === '')
    throw validation(member, 'Member must not be null');
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length < 1 || bytes.length > maxBytes) {
    throw validation(member, `Member must have length between 1 and ${maxBytes}`);
  }
  return bytes;
}

export function encryptionContext(body: JsonObject): Record<string, string> {
  const value = body.EncryptionContext;
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw validation('encryptionContext', 'Member must be a map');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw validation('encryptionContext', 'Map values must be strings');
    out[k] = v;
  }
  return out;
}

/** AWS JSON 1.1 sends timestamps as epoch seconds (fractional). */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}
