// The one value every incoming KMS event form (AWS, GCP, Azure; docs/kms-facts.md §9) is normalised
// to, and the small helpers the per-cloud parsers share. A trigger is a hint to observe the key
// afresh, never the truth about it (docs/architecture.md, "Observations and revisions").
// Pure: no I/O.
import type { ZodError } from 'zod';
import type { KmsCloud, KmsRotation } from '../kms-rotation.ts';

export type { KmsCloud } from '../kms-rotation.ts';

/** What went wrong with a key that may still protect data. */
export type KmsDanger =
  | 'deletion-scheduled'
  | 'deleted'
  | 'disabled'
  | 'material-expired'
  | 'material-deleted'
  | 'version-destroyed'
  | 'version-disabled';

/**
 * `key` and `at` as in {@link KmsRotation}; `via`: the event form, e.g. `aws-eventbridge`.
 * A rotation carries everything the event says of it, in the one shape the rest of rekey uses.
 */
export type KmsTrigger =
  | ({ kind: 'rotated' } & KmsRotation)
  | {
      kind: 'danger';
      cloud: KmsCloud;
      key: string;
      what: KmsDanger;
      at: string;
      via: string;
      /** The key version (or material) in danger, when the event names one. */
      version?: string;
    }
  /**
   * The KMS says a danger is over (deletion cancelled, key or version enabled again, material
   * imported again): `clears` the dangers it ends. Some leave another behind: a cancelled deletion
   * leaves the key disabled, a restored version is disabled until enabled (`leaves`).
   */
  | {
      kind: 'cleared';
      cloud: KmsCloud;
      key: string;
      clears: KmsDanger[];
      leaves?: KmsDanger;
      at: string;
      via: string;
      /** Names the API call that ended the danger, for people. */
      by: string;
      version?: string;
    }
  /** A hint to re-observe (rotation enabled, schedule changed, key disabled), not a rotation. */
  | { kind: 'config-changed'; cloud: KmsCloud; key: string; at: string; via: string }
  | { kind: 'unrelated'; reason: string };

/** A malformed event: the message says what is wrong, never echoing more than a short excerpt. */
export interface ParseError {
  error: string;
}

export type KmsTriggerResult = KmsTrigger | ParseError;

export function isParseError(value: unknown): value is ParseError {
  return typeof value === 'object' && value !== null && 'error' in value && !('kind' in value);
}

export function unrelated(reason: string): KmsTrigger {
  return { kind: 'unrelated', reason };
}

/** The rotation a `rotated` trigger reports, without the trigger's own tag. */
export function rotationOf(trigger: Extract<KmsTrigger, { kind: 'rotated' }>): KmsRotation {
  const { kind: _, ...rotation } = trigger;
  return rotation;
}

/** A short, single-line excerpt of a value taken from an untrusted event, for messages. */
export function clip(value: string, max = 80): string {
  const line = value.replace(/[\r\n\t]+/g, ' ');
  return line.length > max ? `${line.slice(0, max)}...` : line;
}

/** The first few zod issues as `what: path: message; ...`. */
export function describeIssues(what: string, error: ZodError): ParseError {
  const issues = error.issues.slice(0, 3).map((i) => {
    const path = i.path.map(String).join('.');
    return path ? `${path}: ${i.message}` : i.message;
  });
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : '';
  return { error: `${what}: ${issues.join('; ')}${more}` };
}

/** An RFC 3339 time as `Date.toISOString()` (millisecond precision, UTC), or undefined. */
export function toIsoTime(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/**
 * Event data that may arrive as a JSON text (string or bytes) or already parsed. Returns the parsed
 * value, or an error naming `what` when the text is not JSON.
 */
export function parseJsonData(what: string, data: unknown): { value: unknown } | ParseError {
  let text: string;
  if (typeof data === 'string') text = data;
  else if (data instanceof Uint8Array) text = new TextDecoder().decode(data);
  else return { value: data };
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: `${what} is not JSON: "${clip(text, 40)}"` };
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
