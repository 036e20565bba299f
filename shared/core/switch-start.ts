// Starting a switch: the stages are planned from the revision the nodes run (../domain/
// encryption-revisions/plan-stages.ts) and stored at once, the later ones `planned` and the first
// `rolling-out`, so every later run finds the whole plan and only promotes it stage by stage. A
// plan under which one apiserver could write a value another cannot read yet is refused before
// anything is stored, and so is a KMS target some live apiserver's node has no plugin for. When
// the running configuration already writes the resources with the target there is nothing to
// plan: the proof from etcd is taken instead (./switch-in-place.ts).
import {
  describeProvider,
  parseEncryptionDocument,
  providersFor,
} from '../domain/encryption-revisions/document.ts';
import { planSwitch } from '../domain/encryption-revisions/plan-stages.ts';
import { ConfigRevision } from '../domain/encryption-revisions/revision.ts';
import {
  desiredRevision,
  nextRevisionNumber,
} from '../domain/encryption-revisions/switch-state.ts';
import {
  formatSwitchTarget,
  type SwitchTarget,
  SwitchTargetError,
} from '../domain/encryption-revisions/target.ts';
import {
  checkWriteReadSafety,
  rolloutMoments,
} from '../domain/encryption-revisions/write-read-safety.ts';
import type { StoredConfigRevision } from '../ports/config-revisions.ts';
import type { SwitchDeps } from './switch-deps.ts';
import { proveInPlace } from './switch-in-place.ts';
import type { SwitchOutcome, SwitchRequest } from './switch-run.ts';
import { baselineNow } from './switch-save.ts';

const IDENTITY = { identity: {} };

/** The provider a configuration's text writes `resource` with (identity when none names it). */
export function writeProviderOf(text: string, resource: string): string {
  const providers = providersFor(parseEncryptionDocument(text), resource) ?? [IDENTITY];
  return describeProvider(providers[0] ?? IDENTITY);
}

/** Plans a new switch from the revision the nodes run, and stores its revisions. */
export async function startSwitch(
  deps: SwitchDeps,
  stored: StoredConfigRevision[],
  request: SwitchRequest & { target: SwitchTarget; migrateInPlace: boolean },
  note: (line: string) => void,
): Promise<SwitchOutcome | undefined> {
  const desired = desiredRevision(stored.map((s) => s.record));
  const current = stored.find((s) => s.record.number === desired?.number);
  if (!current) throw new SwitchTargetError('no configuration revision is running');
  const doc = parseEncryptionDocument(current.text);
  const resources =
    request.resources && request.resources.length > 0
      ? [...request.resources]
      : [...(doc.resources[0]?.resources ?? [])];
  const wanted = formatSwitchTarget(request.target);
  if (resources.every((r) => writeProviderOf(current.text, r) === wanted)) {
    return proveInPlace(deps, stored, current, resources, wanted, note, request.migrateInPlace);
  }
  let kms: { endpoint: string } | undefined;
  if (request.target.type === 'kms') {
    const name = request.target.name;
    const [writes, snap] = await Promise.all([deps.nodes.list(), deps.apiservers.read()]);
    const byNode = new Map(writes.map((w) => [w.node, w]));
    const missing = snap.live
      .filter((a) => !(a.node && byNode.get(a.node)?.kmsEndpoints[name]))
      .map((a) => a.node ?? a.id);
    if (snap.live.length === 0 || missing.length > 0) {
      throw new SwitchTargetError(
        `kms:${name} is not reported as available on every node (missing: ${missing.join(', ') || 'no live apiserver seen'}): ` +
          "run its plugin there and list it in the node agent's REKEY_KMS_ENDPOINTS",
      );
    }
    const first = snap.live[0]?.node ?? '';
    kms = { endpoint: byNode.get(first)?.kmsEndpoints[name] ?? '' };
  }
  const plan = planSwitch({
    current: new ConfigRevision(current.record.number, current.record.stage, current.text),
    target: request.target,
    resources,
    ...(kms ? { kms } : {}),
  });
  const docs = [current.text, ...plan.revisions.map((r) => r.text())].map((t, i) => ({
    number: i,
    doc: parseEncryptionDocument(t),
  }));
  const breaches = checkWriteReadSafety(rolloutMoments(docs), plan.resources);
  if (breaches.length > 0) {
    const b = breaches[0];
    throw new SwitchTargetError(
      `refused: the plan would let an apiserver write ${b?.resource} with ${b?.writes} that another cannot read`,
    );
  }
  const base = nextRevisionNumber(stored.map((s) => s.record));
  const sw = {
    id: base,
    target: wanted,
    from: plan.from,
    to: plan.to,
    resources: plan.resources,
  };
  const revisions = plan.revisions.map((r, i) => new ConfigRevision(base + i, r.stage, r.text()));
  const baseline = await baselineNow(deps);
  // the later stages first, planned; the first one last, which starts the rollout
  for (const r of [...revisions].reverse()) {
    const created = await deps.revisions.create(
      {
        number: r.number,
        stage: r.stage,
        hash: r.hash,
        state: r === revisions[0] ? 'rolling-out' : 'planned',
        switch: sw,
        ...(r === revisions[0] ? { reloadBaseline: baseline } : {}),
      },
      r.text(),
    );
    if (!created)
      throw new Error(`revision ${r.number} already exists (another runner?): run again`);
  }
  note(
    `switch ${plan.from} -> ${plan.to} for ${plan.resources.join(', ')}: revisions ${revisions
      .map((r) => `${r.number} (${r.stage})`)
      .join(', ')}; revision ${base} rolling out`,
  );
  return undefined;
}
