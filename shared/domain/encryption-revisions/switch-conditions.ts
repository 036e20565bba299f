// The status of an EncryptionSwitch, in the Kubernetes style: conditions Progressing, Completed
// and Degraded (type, status, reason, message, lastTransitionTime, observedGeneration), the stage
// the switch is at, the configuration revision the nodes run, and what each apiserver applied.
// Everything here is derived from what one controller tick saw: the stored revision records
// (./switch-state.ts), what the switch use case answered, the node agents and the apiservers.
// A condition keeps its lastTransitionTime while its status does not change.
import { type ConfigRevisionRecord, desiredRevision, nextSwitchAction } from './switch-state.ts';

export type ConditionType = 'Progressing' | 'Completed' | 'Degraded';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface SwitchCondition {
  type: ConditionType;
  status: ConditionStatus;
  /** UpperCamelCase, machine-readable. */
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

/**
 * Where the switch is. `Pending`: nothing rolled out for it yet; `AddRead`, `Write`, `RemoveOld`:
 * that stage's revision is rolling out; `Migrate` / `Verify`: stage 3 (rewrite, then the etcd
 * proof); `RollingOut`: a revision outside the switch's stages (a rollback) is rolling out;
 * `Done`: the declared provider writes the declared resources.
 */
export type SwitchStage =
  | 'Pending'
  | 'AddRead'
  | 'Write'
  | 'Migrate'
  | 'Verify'
  | 'RemoveOld'
  | 'RollingOut'
  | 'Done';

/** What the switch use case answered on this tick (shared/core/switch-encryption.ts). */
export interface SwitchTickOutcome {
  state: 'completed' | 'progressing' | 'degraded' | 'timeout' | 'unverifiable';
  message: string;
}

export type SwitchTickResult =
  /** The spec is refused by rekey's own reading of it (./switch-spec.ts). */
  | { kind: 'invalid'; message: string }
  /** The switch use case refused it (a SwitchTargetError: e.g. another switch in progress). */
  | { kind: 'refused'; message: string }
  /** The tick failed (an API error, a conflict with another runner): the next tick retries. */
  | { kind: 'failed'; message: string }
  | { kind: 'ran'; outcome: SwitchTickOutcome };

export interface NodeAgentState {
  node: string;
  /** The revision it last wrote or tried to write. */
  revision?: number | undefined;
  error?: string | undefined;
  /** False when the agent's report is no longer confirmed (stopped, or its node is gone). */
  fresh: boolean;
}

export interface ApiserverState {
  id: string;
  node?: string | undefined;
  applied?: string | undefined;
}

export interface SwitchStatusInput {
  generation: number;
  /** The switch's target as the spec names it (`kms:<name>`, `identity`, ...). */
  target: string;
  result: SwitchTickResult;
  /** The stored revisions after the tick. */
  records: readonly ConfigRevisionRecord[];
  nodes: readonly NodeAgentState[];
  apiservers: readonly ApiserverState[];
  previous?: readonly SwitchCondition[] | undefined;
  /** ISO 8601. */
  now: string;
}

export interface ApiserverStatus {
  id: string;
  node: string | null;
  appliedHash: string | null;
  /** The revision its node's agent wrote, if any. */
  nodeRevision: number | null;
}

export interface EncryptionSwitchStatus {
  observedGeneration: number;
  stage: SwitchStage;
  /** The revision every node should run now (the highest rolling out or applied). */
  configRevision: number | null;
  /** The revisions of the switch in progress (or last completed) for this target. */
  switchRevisions: number[];
  apiservers: ApiserverStatus[];
  conditions: SwitchCondition[];
}

const STAGE_OF: Record<ConfigRevisionRecord['stage'], SwitchStage> = {
  found: 'RollingOut',
  'add-read': 'AddRead',
  write: 'Write',
  'remove-old': 'RemoveOld',
};

/** The stage, from the stored records alone. */
export function switchStage(records: readonly ConfigRevisionRecord[], target: string): SwitchStage {
  const action = nextSwitchAction(records);
  const byNumber = (n: number) => records.find((r) => r.number === n);
  switch (action.kind) {
    case 'no-revisions':
    case 'idle':
      return 'Pending';
    case 'converge': {
      const r = byNumber(action.revision);
      return r?.switch?.target === target ? STAGE_OF[r.stage] : 'RollingOut';
    }
    case 'migrate':
      return byNumber(action.revision)?.migration === 'migrated' ? 'Verify' : 'Migrate';
    case 'promote': {
      const r = byNumber(action.revision);
      return r ? STAGE_OF[r.stage] : 'Pending';
    }
    case 'complete':
      return byNumber(action.revision)?.switch?.target === target ? 'Done' : 'Pending';
  }
}

const PROGRESS_REASON: Record<SwitchStage, string> = {
  Pending: 'Planning',
  AddRead: 'AddingReadProvider',
  Write: 'SwitchingWriteProvider',
  Migrate: 'Migrating',
  Verify: 'Verifying',
  RemoveOld: 'RemovingOldProvider',
  RollingOut: 'RollingOut',
  Done: 'Switched',
};

/** Why a switch the use case answered `degraded` stopped, from the records and the node agents. */
export function degradedReason(
  records: readonly ConfigRevisionRecord[],
  nodes: readonly NodeAgentState[],
): string {
  const action = nextSwitchAction(records);
  if (action.kind === 'converge') {
    if (nodes.some((n) => n.revision === action.revision && n.error)) return 'NodeAgentCannotApply';
    return 'ApiserverReloadFailed';
  }
  if (action.kind === 'migrate') return 'RewriteRefused';
  return 'SwitchDegraded';
}

interface Verdict {
  progressing: [ConditionStatus, string, string];
  completed: [ConditionStatus, string, string];
  degraded: [ConditionStatus, string, string];
}

function verdictOf(input: SwitchStatusInput, stage: SwitchStage): Verdict {
  const { result, records, nodes, apiservers } = input;
  const healthy: [ConditionStatus, string, string] = ['False', 'AsExpected', ''];
  const notDone = (why: string): [ConditionStatus, string, string] => ['False', 'NotDone', why];
  const stop = (reason: string, message: string): Verdict => ({
    progressing: ['False', reason, message],
    completed: notDone(message),
    degraded: ['True', reason, message],
  });
  if (result.kind === 'invalid') return stop('InvalidSpec', result.message);
  if (result.kind === 'refused') return stop('Refused', result.message);
  if (result.kind === 'failed') {
    // a failed tick says nothing about where the switch is: the next tick retries
    return {
      progressing: ['Unknown', 'TickFailed', result.message],
      completed: ['Unknown', 'TickFailed', result.message],
      degraded: ['True', 'TickFailed', result.message],
    };
  }
  const { outcome } = result;
  switch (outcome.state) {
    case 'completed': {
      const reason = stage === 'Done' ? 'Switched' : 'AlreadyInPlace';
      return {
        progressing: ['False', reason, outcome.message],
        completed: ['True', reason, outcome.message],
        degraded: healthy,
      };
    }
    case 'degraded':
      return stop(degradedReason(records, nodes), outcome.message);
    case 'unverifiable':
      return stop('CannotProve', outcome.message);
    case 'progressing':
    case 'timeout': {
      const reason =
        records.length === 0 ? 'WaitingForNodeAgents' : (PROGRESS_REASON[stage] ?? 'Progressing');
      // an apiserver whose node agent stopped reporting: the stage cannot converge there
      const onNodes = new Set(apiservers.map((a) => a.node).filter((n) => n !== undefined));
      const stale = nodes.filter((n) => !n.fresh && onNodes.has(n.node)).map((n) => n.node);
      const degraded: [ConditionStatus, string, string] =
        stale.length > 0
          ? [
              'True',
              'NodeAgentNotReporting',
              `the node agent on ${stale.sort().join(', ')} stopped reporting: the switch cannot go on there until it runs again`,
            ]
          : healthy;
      return {
        progressing: ['True', reason, outcome.message],
        completed: notDone(outcome.message),
        degraded,
      };
    }
  }
}

function condition(
  type: ConditionType,
  [status, reason, message]: [ConditionStatus, string, string],
  input: SwitchStatusInput,
): SwitchCondition {
  const before = input.previous?.find((c) => c.type === type);
  return {
    type,
    status,
    reason,
    message: message.slice(0, 1024),
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : input.now,
    observedGeneration: input.generation,
  };
}

/** The status to write after a tick. */
export function switchStatus(input: SwitchStatusInput): EncryptionSwitchStatus {
  const stage =
    input.result.kind === 'invalid' ? 'Pending' : switchStage(input.records, input.target);
  const v = verdictOf(input, stage);
  const desired = desiredRevision(input.records);
  const switchId = [...input.records]
    .filter((r) => r.switch?.target === input.target && r.state !== 'abandoned')
    .sort((a, b) => b.number - a.number)[0]?.switch?.id;
  const byNode = new Map(input.nodes.map((n) => [n.node, n]));
  return {
    observedGeneration: input.generation,
    stage,
    configRevision: desired?.number ?? null,
    switchRevisions:
      switchId === undefined
        ? []
        : input.records
            .filter((r) => r.switch?.id === switchId)
            .map((r) => r.number)
            .sort((a, b) => a - b),
    apiservers: input.apiservers.map((a) => ({
      id: a.id,
      node: a.node ?? null,
      appliedHash: a.applied ?? null,
      nodeRevision: (a.node ? byNode.get(a.node)?.revision : undefined) ?? null,
    })),
    conditions: [
      condition('Progressing', v.progressing, input),
      condition('Completed', v.completed, input),
      condition('Degraded', v.degraded, input),
    ],
  };
}
