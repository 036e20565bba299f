// Per-resource migration progress and its round trip through Secret annotations, so a killed
// invocation resumes where the last page ended (docs/architecture.md R5). One annotation per
// resource, `rekey.dev/progress.<resource>`, whose value is compact JSON: one atomic value per
// checkpoint, and the resource name inside the value, so a key that had to be hashed (annotation
// names are at most 63 characters) still parses back. Parsing never throws: bad input comes back as
// an error value.

import { createHash } from 'node:crypto';
import {
  emptyCounts,
  MIGRATION_COUNT_KEYS,
  type MigrationCounts,
  sumCounts,
} from './migration-counts.ts';

/** The prefix of every annotation rekey writes. */
export const ANNOTATION_PREFIX = 'rekey.dev/';

const CHECKPOINT_PREFIX = `${ANNOTATION_PREFIX}progress.`;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** How far the rewrite of one resource (e.g. `secrets`) got. */
export interface ResourceCheckpoint {
  resource: string;
  /** Where the next list page starts; absent before the first page and once done. */
  continueToken?: string;
  done: boolean;
  counts: MigrationCounts;
  /** ISO 8601 time the last page was processed, once done. */
  finishedAt?: string;
}

/** A checkpoint annotation that could not be read, and why. */
export interface CheckpointError {
  key: string;
  error: string;
}

/** The annotation key of a resource's checkpoint. */
export function checkpointKey(resource: string): string {
  const name = `progress.${resource}`;
  if (name.length <= 63 && QUALIFIED_NAME.test(name)) return `${ANNOTATION_PREFIX}${name}`;
  const digest = createHash('sha256').update(resource, 'utf8').digest('hex').slice(0, 16);
  return `${CHECKPOINT_PREFIX}${digest}`;
}

/** Annotations holding each checkpoint (values are strings, as Kubernetes requires). */
export function checkpointsToAnnotations(
  checkpoints: readonly ResourceCheckpoint[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const cp of checkpoints) {
    const value: Record<string, unknown> = { resource: cp.resource, done: cp.done };
    if (cp.continueToken) value.continue = cp.continueToken;
    value.counts = cp.counts;
    if (cp.finishedAt) value.finishedAt = cp.finishedAt;
    out[checkpointKey(cp.resource)] = JSON.stringify(value);
  }
  return out;
}

/**
 * Every checkpoint among `annotations` (other annotations are ignored). A corrupt one is reported
 * in `errors` and left out: its resource then restarts from the beginning, which is safe because a
 * no-op rewrite of an already re-encrypted object writes nothing.
 */
export function parseCheckpoints(annotations: Readonly<Record<string, string | undefined>> = {}): {
  checkpoints: ResourceCheckpoint[];
  errors: CheckpointError[];
} {
  const checkpoints: ResourceCheckpoint[] = [];
  const errors: CheckpointError[] = [];
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(CHECKPOINT_PREFIX)) continue;
    const parsed = parseCheckpoint(value ?? '');
    if (!parsed.ok) errors.push({ key, error: parsed.error });
    else if (checkpointKey(parsed.checkpoint.resource) !== key) {
      errors.push({ key, error: `holds resource "${parsed.checkpoint.resource}" of another key` });
    } else checkpoints.push(parsed.checkpoint);
  }
  checkpoints.sort((a, b) => a.resource.localeCompare(b.resource));
  return { checkpoints, errors };
}

/** Reads one checkpoint annotation value. */
export function parseCheckpoint(
  value: string,
): { ok: true; checkpoint: ResourceCheckpoint } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (!isRecord(raw)) return { ok: false, error: 'not a JSON object' };
  const { resource, done, counts, finishedAt } = raw;
  const token = raw.continue;
  if (typeof resource !== 'string' || resource === '') {
    return { ok: false, error: 'resource must be a non-empty string' };
  }
  if (typeof done !== 'boolean') return { ok: false, error: 'done must be a boolean' };
  if (token !== undefined && typeof token !== 'string') {
    return { ok: false, error: 'continue must be a string' };
  }
  if (finishedAt !== undefined && !isTime(finishedAt)) {
    return { ok: false, error: 'finishedAt must be an ISO 8601 time' };
  }
  const parsedCounts = parseCounts(counts);
  if (typeof parsedCounts === 'string') return { ok: false, error: parsedCounts };
  const checkpoint: ResourceCheckpoint = { resource, done, counts: parsedCounts };
  if (token) checkpoint.continueToken = token;
  if (finishedAt !== undefined) checkpoint.finishedAt = finishedAt as string;
  return { ok: true, checkpoint };
}

/** A fresh checkpoint, before the first page. */
export function startCheckpoint(resource: string): ResourceCheckpoint {
  return { resource, done: false, counts: emptyCounts() };
}

/** The checkpoint after one page: counts added; done when the list has no continue token. */
export function advanceCheckpoint(
  checkpoint: ResourceCheckpoint,
  { continueToken, page, now }: { continueToken?: string; page: MigrationCounts; now: string },
): ResourceCheckpoint {
  const next: ResourceCheckpoint = {
    resource: checkpoint.resource,
    done: !continueToken,
    counts: sumCounts([checkpoint.counts, page]),
  };
  if (continueToken) next.continueToken = continueToken;
  else next.finishedAt = now;
  return next;
}

/** After a 410 (expired continue token): list again from the start, keeping the counts. */
export function restartListing(checkpoint: ResourceCheckpoint): ResourceCheckpoint {
  return { resource: checkpoint.resource, done: false, counts: checkpoint.counts };
}

function parseCounts(value: unknown): MigrationCounts | string {
  if (!isRecord(value)) return 'counts must be a JSON object';
  const counts = emptyCounts();
  for (const key of MIGRATION_COUNT_KEYS) {
    const n = value[key];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      return `counts.${key} must be a non-negative integer`;
    }
    counts[key] = n;
  }
  return counts;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): boolean {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value));
}
