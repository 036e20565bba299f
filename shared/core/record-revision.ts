// The first half of a step: observe the provider, derive the scope, record a revision for a key_id
// no revision has yet, for one every report agrees on (a rollback included), or a forced one, and
// open the newest revision for the step. A resource that
// joined the scope is added to a started migration's progress here, so the state machine sees the
// migration unfinished; the phase it then needs is decided there, never here.
import { isHashOnly } from '../domain/key-id.ts';
import { widenProgress } from '../domain/migration-progress.ts';
import { observedKeyIdHash } from '../domain/observation.ts';
import type { PluginHealth } from '../domain/phase.ts';
import { newestOf, newestRevision, newRevision, planRevision } from '../domain/revision.ts';
import { chooseObservation } from './choose-observation.ts';
import type { ProviderConfig, ReconcileDeps } from './deps.ts';
import { resolveScope, type Scope } from './resolve-scope.ts';
import { emitRevisionEvent } from './revision-events.ts';
import { openSession, type RevisionSession } from './revision-session.ts';

/** What a step acts on; `session` is absent while no key_id was ever observed. */
export interface Recorded {
  scope: Scope;
  plugin: PluginHealth;
  session?: RevisionSession;
}

export async function recordRevision(
  deps: ReconcileDeps,
  config: ProviderConfig,
): Promise<Recorded> {
  const { provider } = config;
  const seen = await deps.observer.observe(provider);
  const scope = await resolveScope(deps.served ? { served: deps.served } : {}, {
    provider,
    ...(config.resources ? { override: config.resources } : {}),
    ...(seen.encryptionConfigs ? { encryptionConfigs: seen.encryptionConfigs } : {}),
  });
  let stored = await deps.store.list(provider);
  const revisions = stored.map((s) => s.revision);
  const latest = newestRevision(revisions);
  // a forced rewrite re-records the key_id the plugin reports now, as a new, forced revision
  const forced =
    config.force && latest
      ? seen.observations.find((o) => observedKeyIdHash(o) === latest.keyIdHash)
      : undefined;
  const choice = forced ? undefined : chooseObservation(seen.observations, revisions);
  const chosen = forced ?? choice?.observation;
  const plan =
    chosen &&
    planRevision(revisions, chosen, {
      force: forced !== undefined,
      agreed: choice?.agreed === true,
    });
  if (chosen && plan?.action === 'create') {
    const rev = newRevision({
      observation: chosen,
      number: plan.number,
      now: deps.clock.now().toISOString(),
      forced: plan.forced === true,
    });
    const created = await deps.store.createIfAbsent(rev);
    if (created.result === 'created') {
      deps.log?.('revision created', {
        revision: rev.name,
        keyIdHash: rev.keyIdHash,
        warning: plan.warning,
      });
      await emitRevisionEvent(deps, 'revision.created', created.stored.revision);
    }
    stored = await deps.store.list(provider);
  }
  const newest = newestOf(stored, (s) => s.revision.number);
  const recorded: Recorded = { scope, plugin: seen.pluginHealth };
  if (!newest) return recorded;
  const session = openSession(deps.store, newest, deps.clock);
  await learnKeyId(session, seen.observations);
  await joinScope(session, scope);
  return { ...recorded, session };
}

/**
 * A revision recorded from the apiservers' metrics (hash only) learns its key_id once a reporter
 * or plugin shows it, so later proofs compare key_ids, not hashes.
 */
async function learnKeyId(
  session: RevisionSession,
  observations: readonly { keyId: string }[],
): Promise<void> {
  const r = session.revision;
  if (!isHashOnly(r)) return;
  const full = observations.find((o) => o.keyId !== '' && observedKeyIdHash(o) === r.keyIdHash);
  if (full) await session.save((x) => ({ ...x, keyId: full.keyId }));
}

/** A resource that joined the scope (or lost its checkpoint) joins a started migration. */
async function joinScope(session: RevisionSession, scope: Scope): Promise<void> {
  const names = scope.resources.map((r) => r.resource);
  const { progress } = session.revision;
  if (progress.resources.length === 0 || widenProgress(progress, names) === progress) return;
  await session.save((x) => ({ ...x, progress: widenProgress(x.progress, names) }));
}
