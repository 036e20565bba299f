// A Revision as a Secret in rekey's namespace (the OpenShift library-go convention of numbered
// key Secrets): the key_id in `data`, everything else in `rekey.dev/` annotations and labels.
// A revision recorded from the apiservers' metrics has an empty key_id: its stored hash names it.
import type { V1Secret } from '@kubernetes/client-node';
import {
  ANNOTATION_PREFIX,
  checkpointsToAnnotations,
  parseCheckpoints,
} from '../../domain/checkpoint.ts';
import { isKeyIdHash, keyIdHash } from '../../domain/key-id.ts';
import type { ObjectFailure } from '../../domain/migration-counts.ts';
import { isObservationSource } from '../../domain/observation.ts';
import { PHASES, type Phase } from '../../domain/phase.ts';
import { parseRetrySchedule } from '../../domain/retry-schedule.ts';
import { providerSegment, type Revision } from '../../domain/revision.ts';

export const REVISION_SECRET_TYPE = 'rekey.dev/encryption-key-revision';
export const LABEL_REVISION = `${ANNOTATION_PREFIX}revision`;
export const LABEL_PROVIDER = `${ANNOTATION_PREFIX}provider`;
const A = (k: string) => `${ANNOTATION_PREFIX}${k}`;

/** A label value for the provider (at most 63 characters, so long names are cut; the annotation is exact). */
export function providerLabel(provider: string): string {
  return providerSegment(provider)
    .slice(0, 63)
    .replace(/[-.]+$/, '');
}

export function revisionToSecret(r: Revision, namespace: string): V1Secret {
  const annotations: Record<string, string> = {
    [A('provider')]: r.provider,
    [A('number')]: String(r.number),
    [A('key-id-hash')]: r.keyIdHash,
    [A('source')]: r.source,
    [A('observed-at')]: r.observedAt,
    [A('phase')]: r.phase,
    [A('created-at')]: r.createdAt,
    ...checkpointsToAnnotations(r.progress.resources),
  };
  if (r.updatedAt) annotations[A('updated-at')] = r.updatedAt;
  if (r.lastError) annotations[A('last-error')] = r.lastError;
  if (r.forced) annotations[A('forced')] = 'true';
  if (r.kmsLabel) annotations[A('kms-label')] = r.kmsLabel;
  if (r.progress.failed.length) annotations[A('failed')] = JSON.stringify(r.progress.failed);
  if (r.verification) annotations[A('verification')] = JSON.stringify(r.verification);
  if (r.convergence) annotations[A('convergence')] = JSON.stringify(r.convergence);
  if (r.kmsRotation) annotations[A('kms-rotation')] = JSON.stringify(r.kmsRotation);
  if (r.keyDanger) annotations[A('key-danger')] = JSON.stringify(r.keyDanger);
  if (r.retry) annotations[A('retry')] = JSON.stringify(r.retry);
  if (r.regressedAt) annotations[A('regressed-at')] = r.regressedAt;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: REVISION_SECRET_TYPE,
    metadata: {
      name: r.name,
      namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'rekey',
        [LABEL_REVISION]: 'true',
        [LABEL_PROVIDER]: providerLabel(r.provider),
      },
      annotations,
    },
    // Not secret material: the key_id is stored in plaintext in etcd by the apiserver anyway.
    data: { keyId: Buffer.from(r.keyId, 'utf8').toString('base64') },
  };
}

/** An RFC 3339 time as ISO 8601: answers carry strings (typed-api.ts), client-node objects Dates. */
function isoTime(t: Date | string | undefined): string | undefined {
  return t === undefined ? undefined : new Date(t).toISOString();
}

function json<T>(v: string | undefined): T | undefined {
  if (!v) return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    return undefined;
  }
}

/** Reads a revision Secret back; a record that is not one (or is damaged) gives an error string. */
export function secretToRevision(
  s: V1Secret,
): { ok: true; revision: Revision } | { ok: false; error: string } {
  const a = s.metadata?.annotations ?? {};
  const name = s.metadata?.name;
  const raw = s.data?.keyId;
  if (!name || raw === undefined) return { ok: false, error: `${name ?? '?'}: no name or keyId` };
  const keyId = Buffer.from(raw, 'base64').toString('utf8');
  // hash only: the annotation is all there is, so it must be a hash
  const storedHash = a[A('key-id-hash')];
  if (keyId === '' && !isKeyIdHash(storedHash))
    return { ok: false, error: `${name}: no keyId and no valid key-id-hash` };
  const provider = a[A('provider')];
  const number = Number(a[A('number')]);
  const source = a[A('source')];
  const phase = a[A('phase')] as Phase | undefined;
  if (!provider || !Number.isSafeInteger(number) || number < 1)
    return { ok: false, error: `${name}: bad provider/number` };
  if (!isObservationSource(source)) return { ok: false, error: `${name}: bad source` };
  if (!phase || !PHASES.includes(phase)) return { ok: false, error: `${name}: bad phase` };
  const { checkpoints } = parseCheckpoints(a);
  const revision: Revision = {
    provider,
    number,
    name,
    keyId,
    keyIdHash: keyId === '' ? (storedHash as string) : keyIdHash(keyId),
    source,
    observedAt: a[A('observed-at')] ?? '',
    phase,
    createdAt: a[A('created-at')] ?? isoTime(s.metadata?.creationTimestamp) ?? '',
    progress: { resources: checkpoints, failed: json<ObjectFailure[]>(a[A('failed')]) ?? [] },
  };
  const updatedAt = a[A('updated-at')];
  if (updatedAt) revision.updatedAt = updatedAt;
  const lastError = a[A('last-error')];
  if (lastError) revision.lastError = lastError;
  if (a[A('forced')] === 'true') revision.forced = true;
  const kmsLabel = a[A('kms-label')];
  if (kmsLabel) revision.kmsLabel = kmsLabel;
  const verification = json<Revision['verification']>(a[A('verification')]);
  if (verification) revision.verification = verification;
  const convergence = json<Revision['convergence']>(a[A('convergence')]);
  if (convergence) revision.convergence = convergence;
  const kmsRotation = json<Revision['kmsRotation']>(a[A('kms-rotation')]);
  if (kmsRotation) revision.kmsRotation = kmsRotation;
  const keyDanger = json<Revision['keyDanger']>(a[A('key-danger')]);
  if (keyDanger) revision.keyDanger = keyDanger;
  // a damaged schedule is dropped: the next Degraded step schedules a pass again
  const retry = parseRetrySchedule(json<unknown>(a[A('retry')]));
  if (retry) revision.retry = retry;
  const regressedAt = a[A('regressed-at')];
  if (regressedAt) revision.regressedAt = regressedAt;
  return { ok: true, revision };
}
