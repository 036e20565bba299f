// `switchEncryption`: changes the provider that protects some resources, in stages the apiservers
// can always agree on (docs/architecture.md, "Changing the providers"): (1) the target added as a
// read provider, (2) made the write provider, (3) everything in scope rewritten and proven from
// etcd to be off the old write provider, (4) the old write provider removed. Stages 1, 2 and 4 are
// configuration revisions the node agents write; each must converge (every live apiserver reports
// the hash its own node's agent wrote) before the next one starts. A node that cannot apply a
// revision, or an apiserver whose reload fails, stops the switch there (Degraded, named). Every
// decision is taken from the stored revisions, so running the command again continues where the
// last run stopped: a stage's reload baseline and stage 3's page checkpoints are stored with the
// revisions too. `rollbackSwitch` makes the previous revision the one the nodes run again.
import {
  describeProvider,
  parseEncryptionDocument,
  providersFor,
} from '../domain/encryption-revisions/document.ts';
import { planSwitch } from '../domain/encryption-revisions/plan-stages.ts';
import {
  extendBaseline,
  type ReloadBaseline,
} from '../domain/encryption-revisions/reload-baseline.ts';
import { ConfigRevision } from '../domain/encryption-revisions/revision.ts';
import { unswitchedResources } from '../domain/encryption-revisions/switch-coverage.ts';
import {
  type ConfigRevisionRecord,
  desiredRevision,
  nextRevisionNumber,
  nextSwitchAction,
  rollbackTarget,
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
import { assessRevision } from './switch-converge.ts';
import type { SwitchDeps } from './switch-deps.ts';
import { scanForOtherProviders } from './switch-in-place.ts';
import { concreteResources, migrateAll, scanForOldProvider } from './switch-migrate.ts';

export interface SwitchRequest {
  /** Undefined: continue the switch in progress (or report there is none). */
  target?: SwitchTarget | undefined;
  /** Resource patterns; default the resources of the first entry of the running revision. */
  resources?: readonly string[] | undefined;
}

export interface SwitchRunOptions {
  /** Keep going (waiting for convergence) until Completed, Degraded or the deadline. */
  untilComplete: boolean;
  /** Epoch ms on deps.clock past which the run gives up (`timeout`). */
  deadline: number;
  /** How often convergence is read while waiting (default 5 s). */
  pollMs?: number;
  /** Called on every new fact worth a line (stage started, converged, migrated, ...). */
  onNote?: (line: string) => void;
}

export type SwitchOutcome =
  | { state: 'completed'; message: string }
  | { state: 'progressing'; message: string }
  | { state: 'degraded'; message: string }
  | { state: 'timeout'; message: string }
  | { state: 'unverifiable'; message: string };

const IDENTITY = { identity: {} };

function writeProviderOf(text: string, resource: string): string {
  const providers = providersFor(parseEncryptionDocument(text), resource) ?? [IDENTITY];
  return describeProvider(providers[0] ?? IDENTITY);
}

function changed(
  s: StoredConfigRevision,
  change: Partial<ConfigRevisionRecord>,
): ConfigRevisionRecord {
  const next: ConfigRevisionRecord = { ...s.record, ...change };
  for (const k of Object.keys(change) as (keyof ConfigRevisionRecord)[]) {
    if (change[k] === undefined) delete next[k];
  }
  return next;
}

/** Stores the change at the version read; answers the revision as now stored. */
async function save(
  deps: SwitchDeps,
  s: StoredConfigRevision,
  change: Partial<ConfigRevisionRecord>,
): Promise<StoredConfigRevision> {
  const next = changed(s, change);
  const version = await deps.revisions.update(next, s.version);
  if (version === false) {
    throw new Error(`revision ${s.record.number} changed meanwhile (another runner?): run again`);
  }
  return { ...s, record: next, version };
}

/** Each live apiserver's failed reloads now: the baseline of a stage that starts rolling out. */
async function baselineNow(deps: SwitchDeps): Promise<ReloadBaseline> {
  return extendBaseline(undefined, (await deps.apiservers.read()).live).baseline;
}

/** Plans a new switch from the revision the nodes run, and stores its revisions. */
async function startSwitch(
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

/**
 * The running configuration already writes `resources` with `wanted`: completed only if etcd shows
 * no value in scope under another write key. Otherwise (when `migrate`) stage 3 runs on a `write`
 * revision of the same text, from the most common other key, and the proof is taken again after it.
 */
async function proveInPlace(
  deps: SwitchDeps,
  stored: StoredConfigRevision[],
  current: StoredConfigRevision,
  resources: string[],
  wanted: string,
  note: (line: string) => void,
  migrate: boolean,
): Promise<SwitchOutcome | undefined> {
  const what = `${resources.join(', ')} already written with ${wanted}`;
  const scan = await scanForOtherProviders(deps, await concreteResources(deps, resources), wanted);
  if (!scan.available) return { state: 'unverifiable', message: `${what}, but ${scan.reason}` };
  if (scan.others.length === 0) {
    return {
      state: 'completed',
      message: `${what}; etcd: ${scan.scanned} value(s) in scope, none under another provider`,
    };
  }
  const held = scan.others.map((o) => `${o.count} under ${o.key}`).join(', ');
  if (!migrate) {
    return {
      state: 'degraded',
      message: `${what}, but etcd still holds value(s) not under ${wanted} after migrating them: ${held}`,
    };
  }
  const number = nextRevisionNumber(stored.map((s) => s.record));
  const revision = new ConfigRevision(number, 'write', current.text);
  const from = scan.others[0]?.key ?? 'unknown';
  const created = await deps.revisions.create(
    {
      number,
      stage: 'write',
      hash: revision.hash,
      state: 'rolling-out',
      switch: { id: number, target: wanted, from, to: wanted, resources },
      reloadBaseline: await baselineNow(deps),
    },
    current.text,
  );
  if (!created) throw new Error(`revision ${number} already exists (another runner?): run again`);
  note(
    `${what}, but etcd holds value(s) not under ${wanted} (${held}): migrating them (revision ${number}, write)`,
  );
  return undefined;
}

/** The active switch's target, if one is in progress. */
function activeSwitch(stored: StoredConfigRevision[]): string | undefined {
  const records = stored.map((s) => s.record);
  const action = nextSwitchAction(records);
  if (action.kind === 'idle' || action.kind === 'no-revisions' || action.kind === 'complete') {
    return undefined;
  }
  return desiredRevision(records)?.switch?.target;
}

export async function switchEncryption(
  deps: SwitchDeps,
  request: SwitchRequest,
  options: SwitchRunOptions,
): Promise<SwitchOutcome> {
  const note = options.onNote ?? (() => {});
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const pollMs = options.pollMs ?? 5000;
  let started = false;
  let reproved = false;
  let lastWait = '';
  for (;;) {
    if (deps.clock.now().getTime() > options.deadline) {
      return { state: 'timeout', message: lastWait || 'the switch did not finish in time' };
    }
    const stored = await deps.revisions.list();
    const active = activeSwitch(stored);
    if (request.target && active && active !== formatSwitchTarget(request.target)) {
      throw new SwitchTargetError(
        `a switch to ${active} is in progress: continue it (--to ${active}) or roll it back first`,
      );
    }
    const action = nextSwitchAction(stored.map((s) => s.record));
    const get = (n: number) => stored.find((s) => s.record.number === n) as StoredConfigRevision;
    switch (action.kind) {
      case 'no-revisions': {
        lastWait = 'no configuration revision stored yet: is a node agent running in write mode?';
        if (!options.untilComplete) return { state: 'progressing', message: lastWait };
        await sleep(pollMs);
        continue;
      }
      case 'idle': {
        if (!request.target) return { state: 'completed', message: 'no switch in progress' };
        // a `write` revision left idle migrated resources already written with the target: the
        // proof is taken again (once) over every write key, not only the one it migrated from
        const inPlace = get(action.desired).record.stage === 'write';
        if (started && (!inPlace || reproved)) {
          return {
            state: 'completed',
            message: `revision ${action.desired} runs on every apiserver`,
          };
        }
        if (started) reproved = true;
        started = true;
        const done = await startSwitch(
          deps,
          stored,
          { ...request, target: request.target, migrateInPlace: !reproved },
          note,
        );
        if (done) return done;
        continue;
      }
      case 'converge': {
        const s = get(action.revision);
        const verdict = await assessRevision(deps, action.revision, s.record.reloadBaseline);
        const baseline = verdict.baselineChanged ? { reloadBaseline: verdict.baseline } : {};
        if (verdict.state === 'converged') {
          await save(deps, s, { state: 'applied', degraded: undefined, reloadBaseline: undefined });
          note(`revision ${action.revision} (${s.record.stage}) applied by every apiserver`);
          continue;
        }
        if (verdict.state === 'degraded') {
          const reason = verdict.reason ?? 'degraded';
          if (s.record.degraded !== reason || verdict.baselineChanged) {
            await save(deps, s, { degraded: reason, ...baseline });
          }
          return {
            state: 'degraded',
            message: `${reason}; nothing further is rolled out (fix it and run again, or roll back)`,
          };
        }
        lastWait = verdict.reason ?? `waiting for revision ${action.revision}`;
        if (s.record.degraded || verdict.baselineChanged) {
          await save(deps, s, { degraded: undefined, ...baseline });
        }
        if (!options.untilComplete) return { state: 'progressing', message: lastWait };
        await sleep(pollMs);
        continue;
      }
      case 'migrate': {
        let s = get(action.revision);
        const sw = s.record.switch;
        if (!sw) throw new Error(`revision ${action.revision} has no switch record`);
        const resources = await concreteResources(deps, sw.resources);
        if (s.record.migration !== 'migrated') {
          const resuming = s.record.progress !== undefined;
          note(
            `${resuming ? 'resuming the migration of' : 'migrating'} ${resources.join(', ')} from ${sw.from} to ${sw.to}`,
          );
          const own = deps.revisions.objectOf?.(action.revision);
          const m = await migrateAll(deps, resources, {
            deadline: options.deadline,
            progress: s.record.progress,
            // after every page: the next run goes on from there
            save: async (progress) => {
              const version = await deps.revisions.update(changed(s, { progress }), s.version);
              if (version === false) return false;
              s = { ...s, record: changed(s, { progress }), version };
              return true;
            },
            ...(own
              ? { ownWrite: (ref) => ref.namespace === own.namespace && ref.name === own.name }
              : {}),
          });
          const c = m.counts;
          if (m.timedOut) {
            return {
              state: 'timeout',
              message: `stage 3 (migration) not finished: listed=${c.listed} so far (the next run goes on from there)`,
            };
          }
          note(
            `migrated: listed=${c.listed} re-encrypted=${c.reencrypted} unchanged=${c.unchanged} conflicts=${c.conflicts} gone=${c.gone} failed=${c.failed}`,
          );
          if (m.failed.length > 0) {
            const reason = `the apiserver refused to rewrite ${m.failed.slice(0, 5).join(', ')}`;
            // the next run rewrites everything again, retrying the refused objects with the rest
            await save(deps, s, { degraded: reason, progress: undefined });
            return { state: 'degraded', message: reason };
          }
          await save(deps, s, { migration: 'migrated', degraded: undefined, progress: undefined });
          continue;
        }
        const scan = await scanForOldProvider(deps, resources, sw.from);
        if (!scan.available) {
          return {
            state: 'unverifiable',
            message: `migrated, but ${scan.reason}; ${sw.from} is not removed`,
          };
        }
        if (scan.underOld > 0) {
          // written meanwhile by a client through an old revision? migrate once more
          note(`${scan.underOld} value(s) still under ${sw.from}: migrating again`);
          await save(deps, s, { migration: undefined, progress: undefined });
          continue;
        }
        note(`etcd: ${scan.scanned} value(s) in scope, none under ${sw.from}`);
        await save(deps, s, { migration: 'verified' });
        continue;
      }
      case 'promote': {
        const s = get(action.revision);
        await save(deps, s, { state: 'rolling-out', reloadBaseline: await baselineNow(deps) });
        note(`revision ${action.revision} (${s.record.stage}) rolling out`);
        continue;
      }
      case 'complete': {
        const s = get(action.revision);
        const sw = s.record.switch;
        const completed: SwitchOutcome = {
          state: 'completed',
          message: `${sw?.resources.join(', ')} switched from ${sw?.from} to ${sw?.to} (revision ${action.revision})`,
        };
        if (!request.target) return completed;
        const wanted = formatSwitchTarget(request.target);
        if (sw?.target !== wanted) {
          if (started) return completed;
          started = true;
          const done = await startSwitch(
            deps,
            stored,
            { ...request, target: request.target, migrateInPlace: true },
            note,
          );
          if (done) return done;
          continue;
        }
        // the same target: complete only for resources the finished switches covered; the others
        // are switched now (or proven already in place)
        const rest = unswitchedResources(
          stored.map((x) => x.record),
          wanted,
          request.resources ?? [],
          (r) => writeProviderOf(s.text, r),
        );
        if (rest.length === 0) return completed;
        started = true;
        const done = await startSwitch(
          deps,
          stored,
          { target: request.target, resources: rest, migrateInPlace: !reproved },
          note,
        ).catch((err: unknown) => {
          if (!(err instanceof SwitchTargetError)) throw err;
          throw new SwitchTargetError(
            `${rest.join(', ')} not switched to ${wanted} yet (the switch of revision ${action.revision} covered ${sw.resources.join(', ')}): ${err.message}`,
          );
        });
        if (done) return done;
        continue;
      }
    }
  }
}

/** Makes the previous applied revision the one the nodes run, and waits for it (as a switch). */
export async function rollbackSwitch(
  deps: SwitchDeps,
  options: SwitchRunOptions,
): Promise<SwitchOutcome> {
  const stored = await deps.revisions.list();
  const target = rollbackTarget(stored.map((s) => s.record));
  if ('refused' in target) throw new SwitchTargetError(target.refused);
  const get = (n: number) => stored.find((s) => s.record.number === n) as StoredConfigRevision;
  // the previous revision becomes desired before the current one retires: always one to run
  await save(deps, get(target.to.number), {
    state: 'rolling-out',
    degraded: undefined,
    reloadBaseline: await baselineNow(deps),
  });
  await save(deps, get(target.from.number), { state: 'rolled-back' });
  for (const s of stored) {
    if (s.record.state === 'planned' && s.record.switch?.id === target.from.switch?.id) {
      await save(deps, s, { state: 'abandoned' });
    }
  }
  options.onNote?.(
    `revision ${target.from.number} rolled back: revision ${target.to.number} rolling out`,
  );
  return waitForConvergence(deps, options);
}

/** Waits until the revision the nodes run is applied everywhere (no further stage). */
async function waitForConvergence(
  deps: SwitchDeps,
  options: SwitchRunOptions,
): Promise<SwitchOutcome> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  for (;;) {
    const stored = await deps.revisions.list();
    const desired = desiredRevision(stored.map((s) => s.record));
    const s = stored.find((x) => x.record.number === desired?.number);
    if (!s) return { state: 'progressing', message: 'no configuration revision is running' };
    if (s.record.state === 'applied') {
      return { state: 'completed', message: `revision ${s.record.number} runs on every apiserver` };
    }
    const verdict = await assessRevision(deps, s.record.number, s.record.reloadBaseline);
    if (verdict.state === 'converged') {
      await save(deps, s, { state: 'applied', degraded: undefined, reloadBaseline: undefined });
      continue;
    }
    if (verdict.baselineChanged) await save(deps, s, { reloadBaseline: verdict.baseline });
    if (verdict.state === 'degraded') return { state: 'degraded', message: verdict.reason ?? '' };
    if (!options.untilComplete) return { state: 'progressing', message: verdict.reason ?? '' };
    if (deps.clock.now().getTime() > options.deadline) {
      return { state: 'timeout', message: verdict.reason ?? '' };
    }
    await sleep(options.pollMs ?? 5000);
  }
}
