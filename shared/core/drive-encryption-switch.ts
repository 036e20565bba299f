// `driveEncryptionSwitch`: one controller tick for the declared EncryptionSwitch (the cluster-scoped
// object named `cluster`, infra/base/crd-encryptionswitches.yaml). It runs the same use case as
// `rekey encryption switch --to` (./switch-encryption.ts) once, without waiting: as far as the
// switch can go right now (a stage that converged is promoted, stage 3 runs within the budget),
// then writes what it found as conditions through the status subresource. Every decision comes from
// the stored revisions, so ticks are idempotent and a switch resumes wherever the last tick (or a
// CLI run) left it. A switch Completed for the object's current generation is not driven again:
// a later switch made on the command line is not undone; editing the spec declares a new one.
import {
  type EncryptionSwitchStatus,
  type NodeAgentState,
  type SwitchTickResult,
  switchStatus,
} from '../domain/encryption-revisions/switch-conditions.ts';
import {
  ENCRYPTION_SWITCH_NAME,
  readSwitchSpec,
} from '../domain/encryption-revisions/switch-spec.ts';
import { formatSwitchTarget, SwitchTargetError } from '../domain/encryption-revisions/target.ts';
import { lastConfirmedMs, REPORT_MAX_AGE_MS, reportFreshness } from '../domain/report-freshness.ts';
import type { EncryptionSwitchStore } from '../ports/encryption-switches.ts';
import type { SwitchDeps } from './switch-deps.ts';
import { switchEncryption } from './switch-encryption.ts';

export interface DriveSwitchDeps {
  switches: EncryptionSwitchStore;
  switching: SwitchDeps;
  /** How long a node agent's report may go unconfirmed before it counts as stopped. */
  agentMaxAgeMs?: number | undefined;
}

export type DriveSwitchResult =
  | { kind: 'none' }
  | { kind: 'up-to-date'; generation: number }
  | { kind: 'ticked'; status: EncryptionSwitchStatus; written: boolean };

function isCompleted(status: Partial<EncryptionSwitchStatus> | undefined, generation: number) {
  return (
    status?.observedGeneration === generation &&
    status.conditions?.some((c) => c.type === 'Completed' && c.status === 'True') === true
  );
}

/** JSON with every object's keys sorted: the apiserver answers in its own key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function driveEncryptionSwitch(
  deps: DriveSwitchDeps,
  { deadline }: { deadline: number },
): Promise<DriveSwitchResult> {
  const { switching } = deps;
  const object = await deps.switches.get(ENCRYPTION_SWITCH_NAME);
  if (!object) return { kind: 'none' };
  if (isCompleted(object.status, object.generation)) {
    return { kind: 'up-to-date', generation: object.generation };
  }
  const reading = readSwitchSpec(object.spec);
  let result: SwitchTickResult;
  let target = '';
  if ('invalid' in reading) {
    result = { kind: 'invalid', message: reading.invalid };
  } else {
    target = formatSwitchTarget(reading.spec.target);
    try {
      const outcome = await switchEncryption(
        switching,
        {
          target: reading.spec.target,
          ...(reading.spec.resources ? { resources: reading.spec.resources } : {}),
        },
        {
          untilComplete: false,
          deadline,
          onNote: (line) => switching.log?.(`encryption switch: ${line}`),
        },
      );
      result = { kind: 'ran', outcome };
    } catch (err) {
      result =
        err instanceof SwitchTargetError
          ? { kind: 'refused', message: err.message }
          : { kind: 'failed', message: messageOf(err) };
    }
  }
  const [stored, writes, snap] = await Promise.all([
    switching.revisions.list(),
    switching.nodes.list(),
    switching.apiservers.read(),
  ]);
  const now = switching.clock.now();
  const nodes: NodeAgentState[] = writes.map((w) => ({
    node: w.node,
    revision: w.revision,
    error: w.error,
    // an agent whose confirmation time is unknown cannot be told stopped
    fresh:
      w.confirmedAt === undefined ||
      reportFreshness(lastConfirmedMs(w.confirmedAt), now.getTime(), {
        maxAgeMs: deps.agentMaxAgeMs ?? REPORT_MAX_AGE_MS,
      }) === 'fresh',
  }));
  const status = switchStatus({
    generation: object.generation,
    target,
    result,
    records: stored.map((s) => s.record),
    nodes,
    apiservers: snap.live,
    previous: object.status?.conditions,
    now: now.toISOString(),
  });
  // an unchanged status is not written again (no write per tick while a stage waits)
  const same = canonical(status) === canonical(object.status);
  const written = same ? false : await deps.switches.updateStatus(object, status);
  return { kind: 'ticked', status, written };
}
