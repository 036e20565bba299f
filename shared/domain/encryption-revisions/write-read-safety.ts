// The switch's safety rule as a check on data: at no moment may a live apiserver write a resource
// with a provider that another live apiserver cannot read. Given what each live apiserver had
// applied at each moment (the revision whose hash it reported), it names every breach. Used on a
// plan before it starts (every mix of two consecutive revisions) and on a rollout's audit.
import { providersFor, type RawEncryptionConfig, readKeys, writeKey } from './document.ts';

export interface AppliedMoment {
  /** When (or which step) this was seen, for the report. */
  at: string;
  /** apiserver (id hash or name) -> the configuration it had applied; live apiservers only. */
  applied: Readonly<Record<string, RawEncryptionConfig>>;
}

export interface SafetyBreach {
  at: string;
  resource: string;
  writer: string;
  /** The provider the writer encrypts with (e.g. `kms:sandbox-kms-b`). */
  writes: string;
  /** The apiserver that could not read it. */
  reader: string;
}

const IDENTITY = { identity: {} };

function effective(doc: RawEncryptionConfig, resource: string) {
  const providers = providersFor(doc, resource) ?? [IDENTITY];
  return {
    writes: writeKey(providers[0] ?? IDENTITY),
    reads: new Set(providers.flatMap(readKeys)),
  };
}

/** Every breach of the rule over `moments`, for each resource pattern; empty when safe. */
export function checkWriteReadSafety(
  moments: readonly AppliedMoment[],
  resources: readonly string[],
): SafetyBreach[] {
  const breaches: SafetyBreach[] = [];
  for (const { at, applied } of moments) {
    const servers = Object.entries(applied);
    for (const resource of resources) {
      for (const [writer, wdoc] of servers) {
        const { writes } = effective(wdoc, resource);
        for (const [reader, rdoc] of servers) {
          if (reader === writer) continue;
          if (!effective(rdoc, resource).reads.has(writes)) {
            breaches.push({ at, resource, writer, writes, reader });
          }
        }
      }
    }
  }
  return breaches;
}

/**
 * The moments a rollout through `revisions` (in order, the first the one applied everywhere)
 * can pass through with two apiservers: each consecutive pair, one apiserver on each side.
 */
export function rolloutMoments(
  revisions: readonly { number: number; doc: RawEncryptionConfig }[],
): AppliedMoment[] {
  return revisions.slice(1).map((next, i) => {
    const prev = revisions[i] as { number: number; doc: RawEncryptionConfig };
    return {
      at: `revision ${prev.number} -> ${next.number}`,
      applied: { [`on-${prev.number}`]: prev.doc, [`on-${next.number}`]: next.doc },
    };
  });
}
