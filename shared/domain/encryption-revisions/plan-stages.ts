// The stage planner of `rekey encryption switch`: from the revision the apiservers run and a
// target, the revisions of stages 1 (add the target as a read provider), 2 (make it the write
// provider) and 4 (remove the old write provider); stage 3, the migration, is not a revision.
// Each stage changes one thing, so an apiserver on revision N and one on N+1 can always read what
// the other writes (./write-read-safety.ts checks that on the plan). Only the entry of the
// switched resources changes; every other entry, and every other provider of that entry (an
// identity kept for objects written before encryption, another kms) is kept as written.
import { formatGroupResource, parseGroupResource } from '../group-resource.ts';
import {
  describeProvider,
  parseEncryptionDocument,
  providersFor,
  type RawEncryptionConfig,
  type RawEntry,
  type RawProvider,
  readKeys,
  renderEncryptionDocument,
  writeKey,
} from './document.ts';
import { ConfigRevision } from './revision.ts';
import {
  type SwitchTarget,
  SwitchTargetError,
  type TargetProviderOptions,
  targetProvider,
} from './target.ts';

export interface SwitchPlanInput {
  /** The revision every apiserver runs now (revision 1: the file as found). */
  current: ConfigRevision;
  target: SwitchTarget;
  /** The resource patterns to switch, as the EncryptionConfiguration writes them. */
  resources: readonly string[];
  kms?: TargetProviderOptions['kms'];
  generateKey?: TargetProviderOptions['generateKey'];
}

export interface SwitchPlan {
  /** The write provider before the switch, e.g. `identity`, `kms:sandbox-kms`, `aescbc:key1`. */
  from: string;
  /** The write provider after it. */
  to: string;
  resources: string[];
  /** In order: `add-read` (left out when the target already reads), `write`, `remove-old`. */
  revisions: ConfigRevision[];
}

const IDENTITY: RawProvider = { identity: {} };
const norm = (pattern: string) => formatGroupResource(parseGroupResource(pattern));
const clone = <T>(v: T): T => structuredClone(v);

/**
 * The document with `patterns` in one entry of their own, placed where they were (or first), with
 * the providers they had: the same effective providers for every resource, so the managed entry
 * can change alone. Refuses patterns that do not share one provider list.
 */
function isolate(
  doc: RawEncryptionConfig,
  patterns: string[],
): { doc: RawEncryptionConfig; managed: number } {
  const keys = new Set(patterns.map(norm));
  const lists = patterns.map((p) => {
    const holders = doc.resources.filter((e) => e.resources.some((r) => norm(r) === norm(p)));
    if (holders.length > 1) {
      throw new SwitchTargetError(`"${p}" is listed in ${holders.length} entries: list it once`);
    }
    return JSON.stringify(providersFor(doc, p) ?? [IDENTITY]);
  });
  if (new Set(lists).size > 1) {
    throw new SwitchTargetError(
      `${patterns.join(', ')} use different providers today: switch them one by one`,
    );
  }
  const providers = JSON.parse(lists[0] ?? '[]') as RawProvider[];
  const entries: RawEntry[] = [];
  let managed = -1;
  for (const e of doc.resources) {
    const kept = e.resources.filter((r) => !keys.has(norm(r)));
    if (kept.length !== e.resources.length && managed < 0) {
      managed = entries.length;
      entries.push({ resources: [...patterns], providers });
    }
    if (kept.length > 0 && kept.length !== e.resources.length) {
      const kms = e.providers.map(writeKey).find((k) => k.startsWith('kms:'));
      if (kms) {
        throw new SwitchTargetError(
          `${kms} may be listed in one entry only, which also holds ${kept.join(', ')}: ` +
            `switch the whole entry (--resources ${e.resources.join(',')})`,
        );
      }
    }
    if (kept.length > 0) entries.push({ ...clone(e), resources: kept });
  }
  if (managed < 0) {
    managed = 0;
    entries.unshift({ resources: [...patterns], providers });
  }
  return { doc: { ...clone(doc), resources: entries }, managed };
}

function withProviders(
  doc: RawEncryptionConfig,
  managed: number,
  providers: RawProvider[],
): RawEncryptionConfig {
  const next = clone(doc);
  const entry = next.resources[managed];
  if (entry) entry.providers = clone(providers);
  return next;
}

function usedKeyNames(doc: RawEncryptionConfig): Set<string> {
  return new Set(doc.resources.flatMap((e) => e.providers.flatMap(readKeys)));
}

/** Plans the revisions of a switch. Throws SwitchTargetError / EncryptionConfigError on bad input. */
export function planSwitch({
  current,
  target,
  resources,
  kms,
  generateKey,
}: SwitchPlanInput): SwitchPlan {
  const patterns = [...new Set(resources.map((r) => r.trim()).filter((r) => r !== ''))];
  if (patterns.length === 0) throw new SwitchTargetError('no resources to switch');
  const found = parseEncryptionDocument(current.text());
  const { doc, managed } = isolate(found, patterns);
  const before = doc.resources[managed]?.providers ?? [IDENTITY];
  const [old = IDENTITY, ...rest] = before;

  const wanted = target.type === 'kms' ? `kms:${target.name}` : target.type;
  const already = before.find((p) => writeKey(p) === wanted);
  const elsewhere = doc.resources.some(
    (e, i) => i !== managed && e.providers.some((p) => writeKey(p) === wanted),
  );
  if (target.type === 'kms' && elsewhere) {
    throw new SwitchTargetError(
      `${wanted} is already listed for other resources and may be listed in one entry only: ` +
        'switch those resources together',
    );
  }
  let provider: RawProvider;
  if (already) {
    provider = already;
  } else {
    const used = usedKeyNames(found);
    let n = current.number + 1;
    while (used.has(`${target.type}:key-r${n}`)) n++;
    provider = targetProvider(target, { kms, keyName: `key-r${n}`, generateKey });
  }
  if (writeKey(provider) === writeKey(old)) {
    throw new SwitchTargetError(
      `${patterns.join(', ')} already written with ${describeProvider(old)}: nothing to switch`,
    );
  }
  const others = rest.filter((p) => writeKey(p) !== writeKey(provider));
  const isolatedChanged = JSON.stringify(doc) !== JSON.stringify(found);

  const stages: Array<[ConfigRevision['stage'], RawProvider[]]> = [];
  if (!already || isolatedChanged) stages.push(['add-read', [old, provider, ...others]]);
  stages.push(['write', [provider, old, ...others]]);
  stages.push(['remove-old', [provider, ...others]]);

  const revisions = stages.map(
    ([stage, providers], i) =>
      new ConfigRevision(
        current.number + 1 + i,
        stage,
        renderEncryptionDocument(withProviders(doc, managed, providers)),
      ),
  );
  return {
    from: describeProvider(old),
    to: already ? describeProvider(already) : describeProvider(provider),
    resources: patterns,
    revisions,
  };
}
