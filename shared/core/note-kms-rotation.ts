// A rotation the KMS itself reported (an AWS/GCP/Azure event, or its API): decide whether it made
// anything stale (docs/architecture.md R9) and record the verdict on the newest revision, so that a
// rotation hidden behind an unchanged key_id is explained instead of starting a useless migration
// (the next reconcile step reads the verdict and says why it has nothing to do).
import { assessKmsRotation, type KmsRotationAssessment } from '../domain/hidden-rotation.ts';
import { type KmsRotation, rotationNote } from '../domain/kms-rotation.ts';
import { newestObservation } from '../domain/observation.ts';
import { newestOf } from '../domain/revision.ts';
import type { ReconcileDeps } from './deps.ts';
import { openSession } from './revision-session.ts';

export type NoteResult =
  | { recorded: true; revision: string; assessment: KmsRotationAssessment }
  | { recorded: false; reason: string; assessment?: KmsRotationAssessment };

export async function noteKmsRotation(
  deps: Pick<ReconcileDeps, 'store' | 'observer' | 'clock' | 'log'>,
  provider: string,
  rotation: KmsRotation,
): Promise<NoteResult> {
  const [seen, stored] = await Promise.all([
    deps.observer.observe(provider),
    deps.store.list(provider),
  ]);
  // Knative delivers at least once and in any order: a rotation already noted, or older than one
  // noted, changes nothing
  const notes = stored.flatMap((s) => (s.revision.kmsRotation ? [s.revision.kmsRotation] : []));
  const sameKey = notes.filter((n) => n.key === rotation.key);
  if (sameKey.some((n) => n.at === rotation.at)) {
    return { recorded: false, reason: 'duplicate: this rotation is already recorded' };
  }
  if (sameKey.some((n) => Date.parse(n.at) > Date.parse(rotation.at))) {
    return { recorded: false, reason: 'late: a newer rotation of this key is already recorded' };
  }
  const newest = newestOf(stored, (s) => s.revision.number);
  const previous = newestOf(
    stored.filter((s) => s !== newest),
    (s) => s.revision.number,
  );
  const pluginKeyId = newestObservation(seen.observations)?.keyId ?? newest?.revision.keyId;
  if (!pluginKeyId) {
    // hash only (the apiservers' metrics on a hosted control plane): a hidden rotation cannot be told
    const hashOnly = seen.observations.length > 0 || newest !== undefined;
    return {
      recorded: false,
      reason: hashOnly
        ? `only the hash of provider "${provider}"'s key_id is known (apiserver metrics): whether this rotation changed the key_id shows in the next observation`
        : `no key_id known yet for provider "${provider}"`,
    };
  }
  const assessment = assessKmsRotation({
    provider,
    pluginKeyId,
    ...(newest ? { recordedKeyId: newest.revision.keyId } : {}),
    ...(newest && previous && previous.revision.keyId !== newest.revision.keyId
      ? { recordedChangeAt: newest.revision.observedAt }
      : {}),
    kmsRotation: rotation,
  });
  deps.log?.('kms rotation assessed', {
    provider,
    verdict: assessment.kind,
    stale: assessment.stale,
  });
  if (!newest) return { recorded: false, reason: 'no revision to record it on yet', assessment };
  const session = openSession(deps.store, newest, deps.clock);
  await session.save((r) => ({ ...r, kmsRotation: rotationNote(rotation, assessment) }));
  return { recorded: true, revision: newest.revision.name, assessment };
}
